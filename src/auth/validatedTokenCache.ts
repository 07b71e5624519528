import { createHash } from 'node:crypto';
import type { EntraAccessToken } from './entraToken';

export const DEFAULT_VALIDATED_TOKEN_CACHE_SIZE = 10_000;
/** No entry outlives this, whatever the token's exp says. */
export const MAX_ENTRY_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** The claims the authenticator reads after validation (exp: when a job's copy of the token expires); an entry keeps only these. */
export const RETAINED_CLAIMS = ['idtyp', 'oid', 'scp', 'exp'] as const;

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
 * - Size is bounded: the least recently used entry goes when the cache is
 *   full, and an entry keeps only the claims checked afterwards
 *   (RETAINED_CLAIMS), so one costs a few hundred bytes whatever the token
 *   carries. No entry lives longer than a day, even with an absurd exp.
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
    this.entries.delete(id);
    if (nowMs >= entry.expiresAtMs || entry.keySetVersion !== keySetVersion) return undefined;
    this.entries.set(id, entry); // most recently used goes last
    return entry.token;
  }

  /**
   * Stores a freshly validated token and returns the form every caller gets,
   * cached or not: the token with only RETAINED_CLAIMS, frozen.
   * `keySetVersion` must be read before the validation began, so a key set
   * replaced meanwhile cannot be credited.
   */
  remember(id: string, validated: EntraAccessToken, keySetVersion: number, nowMs: number): EntraAccessToken {
    const claims: Record<string, unknown> = {};
    for (const name of RETAINED_CLAIMS) if (validated.claims[name] !== undefined) claims[name] = validated.claims[name];
    const token: EntraAccessToken = Object.freeze({ ...validated, claims: Object.freeze(claims) });
    const exp = validated.claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp) || this.maxEntries <= 0) return token;
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { token, expiresAtMs: Math.min(exp * 1000, nowMs + MAX_ENTRY_LIFETIME_MS), keySetVersion });
    return token;
  }
}
