import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isPlainObject } from '../fabric/contract';

/** A JWKS entry usable for RS256, parsed once. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
  /** Entra's `issuer` field (jwks-rsa drops it); may hold `{tenantid}`. */
  issuer?: string;
}

export const MAX_JWKS_BYTES = 1024 * 1024;
/**
 * The key cache's hard bound: Entra publishes a handful of keys, so a JWKS
 * with more is not Entra's; past this many usable keys the rest are ignored
 * (not parsed), which bounds both memory and the parsing work of a download.
 */
export const MAX_JWKS_KEYS = 100;

/**
 * Downloads a JWKS with a deadline on the whole exchange (connect, headers and
 * body): a server that drips bytes cannot hold the request past `timeoutMs`.
 *
 * Not AbortSignal.timeout() alone: after a garbage collection, fetch's body
 * stream no longer follows its request's signal (undici keeps the link weakly),
 * so a dripping JWKS held the download open for good (seen under load). The
 * deadline is a timer of our own, and the body reader obeys it directly.
 */
export async function fetchJwks(uri: string, timeoutMs: number): Promise<SigningKey[]> {
  const controller = new AbortController();
  const deadline = setTimeout(
    () => controller.abort(new DOMException(`the JWKS download took longer than ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  try {
    const response = await fetch(uri, { signal: controller.signal, redirect: 'error', headers: { accept: 'application/json' } });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`JWKS endpoint answered HTTP ${response.status}`);
    }
    const text = await readBounded(response, MAX_JWKS_BYTES, controller.signal);
    const keys = parseJwks(JSON.parse(text));
    if (keys.length === 0) throw new Error('JWKS holds no usable RS256 signing key');
    return keys;
  } finally {
    clearTimeout(deadline);
  }
}

async function readBounded(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body!.getReader();
  // Cancelling ends a pending read (as done) and closes the connection.
  const cancel = () => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new Error(`JWKS is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Keeps the RSA signature keys with a kid, at most MAX_JWKS_KEYS of them; skips (rather than fails on) the rest. */
export function parseJwks(document: unknown): SigningKey[] {
  if (!isPlainObject(document) || !Array.isArray(document.keys)) throw new Error('JWKS has no "keys" array');
  const keys: SigningKey[] = [];
  for (const jwk of document.keys) {
    if (keys.length === MAX_JWKS_KEYS) break;
    const key = toSigningKey(jwk);
    if (key) keys.push(key);
  }
  return keys;
}

function toSigningKey(jwk: unknown): SigningKey | undefined {
  if (!isPlainObject(jwk) || jwk.kty !== 'RSA') return undefined;
  if (typeof jwk.kid !== 'string' || jwk.kid === '') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.alg !== undefined && jwk.alg !== 'RS256') return undefined;
  const key = publicKeyOf(jwk);
  if (!key) return undefined;
  return { kid: jwk.kid, key, issuer: typeof jwk.issuer === 'string' ? jwk.issuer : undefined };
}

function publicKeyOf(jwk: Record<string, unknown>): KeyObject | undefined {
  try {
    if (typeof jwk.n === 'string' && typeof jwk.e === 'string') {
      return createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    }
    if (Array.isArray(jwk.x5c) && typeof jwk.x5c[0] === 'string') {
      return new X509Certificate(Buffer.from(jwk.x5c[0], 'base64')).publicKey;
    }
  } catch {
    // A malformed entry is skipped like an unusable one.
  }
  return undefined;
}
