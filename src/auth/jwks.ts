import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isPlainObject } from '../fabric/contract';
import { forLog } from '../logValue';

/** A JWKS entry usable for RS256, parsed once. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
  /** Entra's `issuer` field (jwks-rsa drops it); may hold `{tenantid}`. */
  issuer?: string;
}

/** A JWKS parsed: the keys that may verify tokens, and what was skipped. */
export interface ParsedJwks {
  keys: SigningKey[];
  unusable: UnusableEntries;
}

/** The entries that verify nothing, for one log line per key set. */
export interface UnusableEntries {
  count: number;
  /** The first MAX_REPORTED_ENTRIES, each as `kid "…": reason`. */
  examples: string[];
}

export const MAX_JWKS_BYTES = 1024 * 1024;
/**
 * The key cache's hard bound: Entra publishes a handful of keys, so a JWKS
 * with more is not Entra's; past this many usable keys the rest are ignored
 * (not parsed), which bounds both memory and the parsing work of a download.
 */
export const MAX_JWKS_KEYS = 100;
/** NIST's minimum since 2013 and the size Entra uses; a 512-bit key can be factored in hours. */
export const MIN_RSA_MODULUS_BITS = 2048;
/** The only exponent Entra uses; e = 1 would let anyone sign (s^1 mod n is s), small ones invite padding attacks. */
export const RSA_PUBLIC_EXPONENT = 65537n;
const MAX_REPORTED_ENTRIES = 10;

/**
 * Downloads a JWKS with a deadline on the whole exchange (connect, headers and
 * body): a server that drips bytes cannot hold the request past `timeoutMs`.
 *
 * Not AbortSignal.timeout() alone: after a garbage collection, fetch's body
 * stream no longer follows its request's signal (undici keeps the link weakly),
 * so a dripping JWKS held the download open for good (seen under load). The
 * deadline is a timer of our own, and the body reader obeys it directly.
 */
export async function fetchJwks(uri: string, timeoutMs: number): Promise<ParsedJwks> {
  const controller = new AbortController();
  const deadline = setTimeout(
    () => controller.abort(new DOMException(`the JWKS download took longer than ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  try {
    const response = await fetch(uri, {
      signal: controller.signal,
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`JWKS endpoint answered HTTP ${response.status}`);
    }
    const text = await readBounded(response, MAX_JWKS_BYTES, controller.signal);
    const parsed = parseJwks(parseJson(text));
    if (parsed.keys.length === 0) {
      const why = parsed.unusable.count > 0 ? ` (${describeUnusable(parsed.unusable)})` : '';
      throw new Error(`JWKS holds no usable RS256 signing key${why}`);
    }
    return parsed;
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

/** JSON.parse's SyntaxError quotes the text it choked on: the reason must not carry the document into a log line. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('JWKS is not valid JSON');
  }
}

/**
 * Keeps the entries that can verify RS256 and are unambiguous, at most
 * MAX_JWKS_KEYS of them; every other entry is skipped (not fatal) and counted
 * in `unusable`, with its reason. An entry is usable only when every field it
 * has is well-formed and its parts agree: a field that is present but
 * malformed makes the whole entry unusable rather than being read as absent.
 */
export function parseJwks(document: unknown): ParsedJwks {
  if (!isPlainObject(document) || !Array.isArray(document.keys)) throw new Error('JWKS has no "keys" array');
  const kidCounts = new Map<string, number>();
  for (const jwk of document.keys) {
    if (isPlainObject(jwk) && typeof jwk.kid === 'string') kidCounts.set(jwk.kid, (kidCounts.get(jwk.kid) ?? 0) + 1);
  }
  const keys: SigningKey[] = [];
  const unusable: UnusableEntries = { count: 0, examples: [] };
  for (const jwk of document.keys) {
    if (keys.length === MAX_JWKS_KEYS) break;
    const keyOrReason = toSigningKey(jwk, kidCounts);
    if (typeof keyOrReason !== 'string') {
      keys.push(keyOrReason);
      continue;
    }
    unusable.count++;
    if (unusable.examples.length < MAX_REPORTED_ENTRIES)
      unusable.examples.push(`kid ${forLog(isPlainObject(jwk) ? jwk.kid : undefined)}: ${keyOrReason}`);
  }
  return { keys, unusable };
}

/** One line, bounded whatever the JWKS holds; values from the document go through forLog. */
export function describeUnusable(unusable: UnusableEntries): string {
  const more =
    unusable.count > unusable.examples.length ? `; and ${unusable.count - unusable.examples.length} more` : '';
  return `${unusable.count} unusable entr${unusable.count === 1 ? 'y' : 'ies'} skipped: ${unusable.examples.join('; ')}${more}`;
}

/** The key, or why the entry is unusable. */
function toSigningKey(jwk: unknown, kidCounts: ReadonlyMap<string, number>): SigningKey | string {
  if (!isPlainObject(jwk)) return 'not a JSON object';
  const { kid } = jwk;
  if (typeof kid !== 'string' || kid === '') return 'no kid';
  const published = kidCounts.get(kid) ?? 0;
  if (published > 1) return `the kid appears ${published} times, so no entry of it can be trusted to be the one meant`;
  if (jwk.kty !== 'RSA') return `kty ${forLog(jwk.kty)} is not RSA`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use ${forLog(jwk.use)} is not sig`;
  if (jwk.alg !== undefined && jwk.alg !== 'RS256') return `alg ${forLog(jwk.alg)} is not RS256`;
  const { issuer, key_ops: keyOps } = jwk;
  if (issuer !== undefined && (typeof issuer !== 'string' || issuer === ''))
    return `issuer ${forLog(issuer)} is present but not a non-empty string`;
  // A published private key signs for anyone who reads the JWKS.
  const secret = PRIVATE_KEY_MEMBERS.find((member) => jwk[member] !== undefined);
  if (secret) return `it carries private key material (${secret})`;
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify')))
    return `key_ops ${forLog(keyOps)} does not allow verify`;
  const key = publicKeyOf(jwk);
  if (typeof key === 'string') return key;
  const weakness = weaknessOf(key);
  if (weakness) return weakness;
  return { kid, key, issuer };
}

/** RFC 7518's private members of an RSA JWK. */
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;
/** Larger moduli only cost verification time; Entra's keys are 2048 bits. */
const MAX_RSA_MODULUS_BITS = 8192;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The RSA key of `n`/`e` and of `x5c[0]`, which must be the same key when both are given. */
function publicKeyOf(jwk: Record<string, unknown>): KeyObject | string {
  const { n, e, x5c } = jwk;
  if (n === undefined && e === undefined && x5c === undefined) return 'has neither n and e nor x5c';
  let fromModulus: KeyObject | undefined;
  if (n !== undefined || e !== undefined) {
    if (typeof n !== 'string' || typeof e !== 'string' || !BASE64URL.test(n) || !BASE64URL.test(e))
      return 'n and e are not both base64url strings';
    fromModulus = attempt(() => createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' }));
    if (!fromModulus) return 'n and e are not an RSA public key';
  }
  let fromCertificate: KeyObject | undefined;
  if (x5c !== undefined) {
    const first: unknown = Array.isArray(x5c) ? x5c[0] : undefined;
    if (typeof first !== 'string' || !BASE64.test(first))
      return 'x5c is not an array starting with a base64 certificate';
    const certificate = attempt(() => new X509Certificate(Buffer.from(first, 'base64')));
    if (!certificate) return 'x5c[0] is not an X.509 certificate';
    fromCertificate = certificate.publicKey;
    // x5t is the certificate's SHA-1 thumbprint, x5t#S256 its SHA-256 one, both base64url of the DER.
    for (const [member, algorithm] of [
      ['x5t', 'sha1'],
      ['x5t#S256', 'sha256'],
    ] as const) {
      const thumbprint = jwk[member];
      if (thumbprint !== undefined && thumbprint !== createHash(algorithm).update(certificate.raw).digest('base64url'))
        return `${member} is not the thumbprint of x5c[0]`;
    }
  }
  if (fromModulus && fromCertificate && !fromModulus.equals(fromCertificate))
    return 'n and e are not the key of the x5c certificate';
  const key = (fromModulus ?? fromCertificate)!;
  if (key.asymmetricKeyType !== 'rsa')
    return `the x5c certificate holds a key of type ${forLog(key.asymmetricKeyType)}, not RSA`;
  return key;
}

function weaknessOf(key: KeyObject): string | undefined {
  const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
  if (modulusLength < MIN_RSA_MODULUS_BITS) return `an RSA key of ${modulusLength} bits, under ${MIN_RSA_MODULUS_BITS}`;
  if (modulusLength > MAX_RSA_MODULUS_BITS) return `an RSA key of ${modulusLength} bits, over ${MAX_RSA_MODULUS_BITS}`;
  if (publicExponent !== RSA_PUBLIC_EXPONENT) {
    const shown = publicExponent < 2n ** 32n ? String(publicExponent) : 'over 2^32';
    return `RSA exponent ${shown} is not ${RSA_PUBLIC_EXPONENT}`;
  }
  return undefined;
}

/** A malformed entry makes its parser throw; here that only means "unusable". */
function attempt<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}
