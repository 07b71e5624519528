/**
 * parseJwks rule by rule (docs/decisions.md, "Which JWKS entries verify
 * tokens"), one plain example each. The signing-key store tests hold several
 * rules together and hostileInput.test.ts holds them all on any JWKS; here each
 * rule is alone, with the exact reason it logs.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeUnusable, MAX_JWKS_KEYS, MIN_RSA_MODULUS_BITS, parseJwks } from '../../../src/auth/jwks';
import { selfSignedCertificate } from '../../../dev/x509';

const KID = 'entry';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: MIN_RSA_MODULUS_BITS });
const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
const CERTIFICATE = selfSignedCertificate(privateKey);
const ISSUER = 'https://login.microsoftonline.com/{tenantid}/v2.0';

/** An entry as Entra publishes one, with `change` applied; a change to undefined removes the member. */
function entry(change: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { kty: 'RSA', use: 'sig', kid: KID, n, e, x5c: [CERTIFICATE], issuer: ISSUER };
  const changed = { ...base, ...change };
  for (const [name, value] of Object.entries(change)) if (value === undefined) delete changed[name];
  return changed;
}

const thumbprint = (algorithm: 'sha1' | 'sha256', certificate = CERTIFICATE) =>
  createHash(algorithm).update(Buffer.from(certificate, 'base64')).digest('base64url');
/** base64url of a big-endian number with `bits` bits (top bit set), odd: a modulus only in form, which is all parsing needs. */
const modulusOfBits = (bits: number) => {
  const bytes = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  bytes[0] = 0xff >> (bytes.length * 8 - bits);
  return bytes.toString('base64url');
};

/** The one entry's reason, or 'usable'. */
function verdict(jwk: unknown): string {
  const { keys, unusable } = parseJwks({ keys: [jwk] });
  if (keys.length === 1) return 'usable';
  expect(unusable.count).toBe(1);
  return unusable.examples[0];
}

/** An entry that breaks one rule (a change to the usable entry, or a whole value), and the reason logged. */
const SKIPPED: [name: string, change: Record<string, unknown> | string, reason: string][] = [
  ['not an object', 'RSA', 'kid undefined: not a JSON object'],
  ['without kid', { kid: undefined }, 'kid undefined: no kid'],
  ['with a kid that is not a string', { kid: 7 }, 'kid 7: no kid'],
  ['with an empty kid', { kid: '' }, 'kid "": no kid'],
  ['of kty EC', { kty: 'EC' }, 'kid "entry": kty "EC" is not RSA'],
  ['without kty', { kty: undefined }, 'kid "entry": kty undefined is not RSA'],
  ['of kty rsa (case matters)', { kty: 'rsa' }, 'kid "entry": kty "rsa" is not RSA'],
  ['of use enc', { use: 'enc' }, 'kid "entry": use "enc" is not sig'],
  ['of alg RS512', { alg: 'RS512' }, 'kid "entry": alg "RS512" is not RS256'],
  ['of alg null', { alg: null }, 'kid "entry": alg null is not RS256'],
  ['of an empty issuer', { issuer: '' }, 'kid "entry": issuer "" is present but not a non-empty string'],
  ['of a numeric issuer', { issuer: 1 }, 'kid "entry": issuer 1 is present but not a non-empty string'],
  ...['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'].map((member): [string, Record<string, unknown>, string] => [
    `carrying the private member ${member}`,
    { [member]: 'AQAB' },
    `kid "entry": it carries private key material (${member})`,
  ]),
  ['whose key_ops lack verify', { key_ops: ['encrypt'] }, 'kid "entry": key_ops ["encrypt"] does not allow verify'],
  ['whose key_ops are empty', { key_ops: [] }, 'kid "entry": key_ops [] does not allow verify'],
  ['whose key_ops are a string', { key_ops: 'verify' }, 'kid "entry": key_ops "verify" does not allow verify'],
  ['with no key material', { n: undefined, e: undefined, x5c: undefined }, 'kid "entry": has neither n and e nor x5c'],
  ['with n and no e', { e: undefined }, 'kid "entry": n and e are not both base64url strings'],
  ['with n in base64, not base64url', { n: `${n}+/=` }, 'kid "entry": n and e are not both base64url strings'],
  ['with a numeric e', { e: 65537 }, 'kid "entry": n and e are not both base64url strings'],
  // Node makes a key of any base64url n and e (here a 0-bit one); the strength rules refuse it.
  ['with n and e of zeros', { n: 'AA', e: 'AA', x5c: undefined }, 'kid "entry": an RSA key of 0 bits, under 2048'],
  [
    'with x5c not an array',
    { x5c: CERTIFICATE },
    'kid "entry": x5c is not an array starting with a base64 certificate',
  ],
  [
    'with x5c[0] in base64url',
    { x5c: [CERTIFICATE.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_') + '-'] },
    'kid "entry": x5c is not an array starting with a base64 certificate',
  ],
  ['with x5c[0] no certificate', { x5c: ['AAAA'] }, 'kid "entry": x5c[0] is not an X.509 certificate'],
  [
    'whose x5c is a certificate of another key',
    { x5c: [selfSignedCertificate(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)] },
    'kid "entry": n and e are not the key of the x5c certificate',
  ],
  [
    'whose x5t is not the SHA-1 thumbprint',
    { x5t: thumbprint('sha256') },
    'kid "entry": x5t is not the thumbprint of x5c[0]',
  ],
  [
    'whose x5t#S256 is not the SHA-256 thumbprint',
    { 'x5t#S256': thumbprint('sha1') },
    'kid "entry": x5t#S256 is not the thumbprint of x5c[0]',
  ],
  [
    `of a modulus of ${MIN_RSA_MODULUS_BITS - 1} bits`,
    { n: modulusOfBits(MIN_RSA_MODULUS_BITS - 1), x5c: undefined },
    `kid "entry": an RSA key of ${MIN_RSA_MODULUS_BITS - 1} bits, under ${MIN_RSA_MODULUS_BITS}`,
  ],
  [
    'of a modulus of 8193 bits',
    { n: modulusOfBits(8193), x5c: undefined },
    'kid "entry": an RSA key of 8193 bits, over 8192',
  ],
  ['of exponent 3', { e: 'Aw', x5c: undefined }, 'kid "entry": RSA exponent 3 is not 65537'],
  [
    'of an exponent over 2^32',
    { e: Buffer.from([1, 0, 0, 0, 1]).toString('base64url'), x5c: undefined },
    'kid "entry": RSA exponent over 2^32 is not 65537',
  ],
];

describe('parseJwks, one rule at a time', () => {
  it('keeps an entry as Entra publishes it: its kid, its key, its issuer', () => {
    const [key] = parseJwks({ keys: [entry()] }).keys;
    expect(key.kid).toBe(KID);
    expect(key.issuer).toBe(ISSUER);
    expect(key.key.equals(publicKey)).toBe(true);
  });

  it.each([
    ['without use, alg or issuer', { use: undefined, alg: undefined, issuer: undefined }],
    ['with alg RS256', { alg: 'RS256' }],
    ['with n and e alone', { x5c: undefined }],
    ['with x5c alone', { n: undefined, e: undefined }],
    ['with key_ops allowing verify', { key_ops: ['sign', 'verify'] }],
    ['with the right x5t and x5t#S256', { x5t: thumbprint('sha1'), 'x5t#S256': thumbprint('sha256') }],
    ['with a chain after x5c[0] (not read)', { x5c: [CERTIFICATE, 'not read'] }],
    ['with members it does not know', { x5u: 'https://example.invalid', extra: { a: 1 } }],
  ])('keeps an entry %s', (_name, change) => {
    expect(verdict(entry(change))).toBe('usable');
  });

  it.each(SKIPPED)('skips an entry %s, saying why', (_name, change, reason) => {
    expect(verdict(typeof change === 'string' ? change : entry(change))).toBe(reason);
  });

  it('accepts moduli of exactly the bounds', () => {
    expect(verdict(entry({ n: modulusOfBits(MIN_RSA_MODULUS_BITS), x5c: undefined }))).toBe('usable');
    expect(verdict(entry({ n: modulusOfBits(8192), x5c: undefined }))).toBe('usable');
  });

  it('skips every entry of a kid published twice, even identical ones', () => {
    const { keys, unusable } = parseJwks({ keys: [entry(), entry()] });
    expect(keys).toEqual([]);
    expect(unusable.examples).toEqual(
      Array(2).fill('kid "entry": the kid appears 2 times, so no entry of it can be trusted to be the one meant'),
    );
  });

  it(`keeps the first ${MAX_JWKS_KEYS} usable keys, skipping unusable ones on the way without counting them`, () => {
    const entries = [
      entry({ kid: 'weak', e: 'Aw' }),
      ...Array.from({ length: MAX_JWKS_KEYS + 1 }, (_, i) => entry({ kid: `k${i}` })),
    ];
    const { keys, unusable } = parseJwks({ keys: entries });
    expect(keys.map((key) => key.kid)).toEqual(Array.from({ length: MAX_JWKS_KEYS }, (_, i) => `k${i}`));
    expect(unusable.count).toBe(1);
  });
});

describe('describeUnusable', () => {
  const unusableOf = (count: number) =>
    parseJwks({ keys: Array.from({ length: count }, (_, i) => entry({ kid: `k${i}`, kty: 'EC' })) }).unusable;

  it('says entry for one, entries for more, with no tail while every one is shown', () => {
    expect(describeUnusable(unusableOf(1))).toBe('1 unusable entry skipped: kid "k0": kty "EC" is not RSA');
    expect(describeUnusable(unusableOf(2))).toBe(
      '2 unusable entries skipped: kid "k0": kty "EC" is not RSA; kid "k1": kty "EC" is not RSA',
    );
  });

  it('shows the first ten entries and counts the rest', () => {
    const unusable = unusableOf(25);
    expect(unusable.count).toBe(25);
    expect(unusable.examples).toHaveLength(10);
    const line = describeUnusable(unusable);
    expect(line).toMatch(/^25 unusable entries skipped: kid "k0": .*; kid "k9": kty "EC" is not RSA; and 15 more$/);
    expect(line).not.toContain('"k10"');
  });
});
