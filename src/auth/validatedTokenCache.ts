import { createHash } from 'node:crypto';
import type { EntraAccessToken } from './entraToken';

export const DEFAULT_VALIDATED_TOKEN_CACHE_SIZE = 10_000;

interface Entry {
  token: EntraAccessToken;
  /** The token's exp, in milliseconds: no hit at or after it. */
  expiresAtMs: number;
  keySetVersion: number;
}

/**
 * Tokens that already passed validateEntraAccessToken, so that Fabric's
 * polls, which reuse one token pair for many minutes, skip the RS256
 * verification after the first.
 *
 * Why a hit is as safe as a full validation:
 * - The key is the SHA-256 of the whole token, so only a byte-identical token
 *   hits: same header, claims and signature. The cache never holds a token,
 *   so a memory dump reveals none.
 * - A hit returns what the full validation returned for those bytes. Nothing
 *   that validation depends on can change while the entry lives: the expected
 *   issuer, audience and authority are fixed per process; entries end at the
 *   token's own exp (the full check would allow 60 s of skew beyond); and
 *   entries made under another key set are ignored, so a key that leaves the
 *   JWKS (rotation, revocation) ends every token it signed at once.
 * - Only successes are stored. A forged or expired token always takes the full
 *   path, and a request cannot put anything here without a valid signature.
 * - The claim checks that differ between the app and the subject token, and the
 *   comparison with the request's tenant header, run on every request.
 * - Size is bounded: the oldest entry goes when the cache is full.
 */
export class ValidatedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = DEFAULT_VALIDATED_TOKEN_CACHE_SIZE) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cache key of a raw token: its SHA-256, never the token itself. */
  static idOf(raw: string): string {
    return createHash('sha256').update(raw).digest('base64');
  }

  get(id: string, nowMs: number, keySetVersion: number): EntraAccessToken | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (nowMs >= entry.expiresAtMs || entry.keySetVersion !== keySetVersion) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.token;
  }

  /** `keySetVersion` must be read before the validation began, so a key set replaced meanwhile cannot be credited. */
  set(id: string, token: EntraAccessToken, keySetVersion: number): void {
    const exp = token.claims.exp;
    if (typeof exp !== 'number' || this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { token, expiresAtMs: exp * 1000, keySetVersion });
  }
}

