import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeUnusable, MAX_JWKS_KEYS, parseJwks } from '../../../src/auth/jwks';
import { SigningKeyStore, type SigningKeyStoreOptions } from '../../../src/auth/signingKeyStore';
import { SigningKeysUnavailableError } from '../../../src/fabric/errors';
import { JWKS_FAULTS, startJwksServer, TokenIssuer, type JwksServer } from '../../../dev/tokenIssuer';
import { collectGarbage } from '../../fixtures/faultRun';
import { selfSignedCertificate } from '../../../dev/x509';

const HOUR = 3_600_000;
const MINUTE = 60_000;

let issuer: TokenIssuer;
let jwks: JwksServer;
let clock: number;
beforeEach(async () => {
  issuer = new TokenIssuer();
  issuer.addKey({ kid: 'key-1' });
  jwks = await startJwksServer(issuer);
  clock = Date.UTC(2026, 0, 1);
});
afterEach(() => jwks.close());

function store(options: Partial<SigningKeyStoreOptions> = {}) {
  return new SigningKeyStore({ jwksUri: jwks.jwksUri, now: () => clock, ...options });
}

describe('caching', () => {
  it('downloads once and serves every later lookup from memory', async () => {
    const keys = store();
    for (let i = 0; i < 20; i++) expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    expect(jwks.requests).toBe(1);
  });

  it('keeps the issuer field of each JWKS entry and parses the key once into a KeyObject', async () => {
    const key = await store().getKey('key-1');
    expect(key?.issuer).toBe('https://login.microsoftonline.com/{tenantid}/v2.0');
    expect(key?.key.type).toBe('public');
    expect(key?.key.asymmetricKeyType).toBe('rsa');
  });

  it('refreshes on use once the keys are 12 hours old, not before', async () => {
    const keys = store();
    await keys.getKey('key-1');
    clock += 12 * HOUR - 1;
    await keys.getKey('key-1');
    expect(jwks.requests).toBe(1);
    clock += 1;
    await keys.getKey('key-1');
    await vi.waitFor(() => expect(jwks.requests).toBe(2));
  });

  it('refreshes in the background: a hanging JWKS does not hold up a key that is already known', async () => {
    const onFetchFailure = vi.fn();
    const keys = store({ onFetchFailure });
    await keys.getKey('key-1');
    jwks.behaviour = 'hang';
    clock += 12 * HOUR;
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    await vi.waitFor(() => expect(jwks.requests).toBe(2));
    // The download is still hanging (its deadline is 5 s away): the lookup did not wait for it.
    expect(onFetchFailure).not.toHaveBeenCalled();
  });

  it('an unknown kid during a background refresh waits for that refresh', async () => {
    const keys = store();
    await keys.getKey('key-1');
    issuer.addKey({ kid: 'key-2' });
    clock += 12 * HOUR;
    const [old, rotated] = await Promise.all([keys.getKey('key-1'), keys.getKey('key-2')]);
    expect([old?.kid, rotated?.kid]).toEqual(['key-1', 'key-2']);
    expect(jwks.requests).toBe(2);
  });
});

describe('unknown kids', () => {
  it('refetches at once for the first unknown kid and finds a rotated-in key', async () => {
    const keys = store();
    await keys.getKey('key-1');
    issuer.addKey({ kid: 'key-2' });
    expect((await keys.getKey('key-2'))?.kid).toBe('key-2');
    expect(jwks.requests).toBe(2);
  });

  it('refetches for later unknown kids at most once per 5 minutes', async () => {
    const keys = store();
    await keys.getKey('key-1');
    expect(await keys.getKey('nope-1')).toBeUndefined();
    expect(jwks.requests).toBe(2);
    clock += 5 * MINUTE - 1;
    expect(await keys.getKey('nope-2')).toBeUndefined();
    expect(jwks.requests).toBe(2);
    clock += 1;
    expect(await keys.getKey('nope-3')).toBeUndefined();
    expect(jwks.requests).toBe(3);
  });

  it('does not download twice for an unknown kid that arrives with the first or the 12-hour download', async () => {
    const keys = store();
    expect(await keys.getKey('nope-1')).toBeUndefined();
    expect(jwks.requests).toBe(1);
    clock += 12 * HOUR;
    expect(await keys.getKey('nope-2')).toBeUndefined();
    expect(jwks.requests).toBe(2);
  });

  it('sends no unknown-kid refetch to an endpoint that just failed', async () => {
    const keys = store();
    await keys.getKey('key-1');
    jwks.behaviour = 'fail';
    clock += 12 * HOUR;
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1'); // the scheduled refresh fails: download 2
    expect(await keys.getKey('nope-1')).toBeUndefined(); // the first unknown kid, but within the back-off
    expect(jwks.requests).toBe(2);
    jwks.behaviour = 'serve';
    clock += 5 * MINUTE;
    issuer.addKey({ kid: 'key-2' });
    expect((await keys.getKey('key-2'))?.kid).toBe('key-2');
    expect(jwks.requests).toBe(3);
  });

  it('turns a burst of random kids into at most one download', async () => {
    const keys = store();
    await keys.getKey('key-1');
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => keys.getKey(`random-${i}`)));
    expect(results.every((r) => r === undefined)).toBe(true);
    expect(jwks.requests).toBe(2);
  });

  it('lets concurrent callers share one download', async () => {
    const keys = store();
    const results = await Promise.all(Array.from({ length: 50 }, () => keys.getKey('key-1')));
    expect(results.every((r) => r?.kid === 'key-1')).toBe(true);
    expect(jwks.requests).toBe(1);
  });
});

describe('failures', () => {
  it('keeps serving cached keys when a refetch fails, and reports the failure', async () => {
    const onFetchFailure = vi.fn();
    const keys = store({ onFetchFailure });
    await keys.getKey('key-1');
    jwks.behaviour = 'fail';
    clock += 12 * HOUR;
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    await vi.waitFor(() => expect(onFetchFailure).toHaveBeenCalledWith(expect.stringContaining('HTTP 500')));
    expect(onFetchFailure).toHaveBeenCalledWith(expect.stringContaining('1 cached key(s) kept'));
  });
});

/** Every way the endpoint can fail, with what the one log line must say; `down`: nothing listens at all. */
const FAULTS = [
  ['fail', /HTTP 500/],
  ['malformed', /JWKS is not valid JSON\)/],
  ['empty', /no usable RS256 signing key/],
  ['reset', /TypeError: fetch failed/],
  ['hang', /TimeoutError|aborted/],
  ['drip', /TimeoutError|aborted/],
  ['down', /TypeError: fetch failed/],
] as const satisfies readonly (readonly [(typeof JWKS_FAULTS)[number] | 'down', RegExp])[];

describe.each(FAULTS)('a JWKS endpoint that fails with %s', (fault, logged) => {
  const FETCH_DEADLINE_MS = 300;
  const COLD_RETRY_MS = 10_000;
  const breakEndpoint = async () => {
    if (fault === 'down') await jwks.close();
    else jwks.behaviour = fault;
  };
  /** The endpoint answers again, at the same address. */
  const repairEndpoint = async () => {
    if (fault === 'down') jwks = await startJwksServer(issuer, '127.0.0.1', Number(new URL(jwks.jwksUri).port));
    else jwks.behaviour = 'serve';
  };
  const requestsSoFar = () => (fault === 'down' ? 0 : jwks.requests);

  it('with keys cached: every lookup still finds its key; one download is tried and reported once', async () => {
    const onFetchFailure = vi.fn();
    const keys = store({ fetchTimeoutMs: FETCH_DEADLINE_MS, onFetchFailure });
    await keys.getKey('key-1');
    await breakEndpoint();
    const before = requestsSoFar();
    clock += 12 * HOUR; // the scheduled refresh is due, and fails
    const found = await Promise.all(Array.from({ length: 20 }, () => keys.getKey('key-1')));
    expect(found.every((key) => key?.kid === 'key-1')).toBe(true);
    for (let minute = 0; minute < 4; minute++) {
      clock += MINUTE;
      expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
      expect(await keys.getKey(`unknown-${minute}`)).toBeUndefined(); // no unknown-kid download during the back-off
    }
    expect(onFetchFailure).toHaveBeenCalledTimes(1);
    expect(onFetchFailure).toHaveBeenCalledWith(expect.stringMatching(logged));
    expect(onFetchFailure).toHaveBeenCalledWith(expect.stringContaining('1 cached key(s) kept'));
    if (fault !== 'down') expect(jwks.requests - before).toBe(1);
  });

  it('on a cold store: SigningKeysUnavailable with Retry-After from one shared download, then the keys once it answers again', async () => {
    await breakEndpoint();
    const onFetchFailure = vi.fn();
    const keys = store({ fetchTimeoutMs: FETCH_DEADLINE_MS, coldRetryIntervalMs: COLD_RETRY_MS, onFetchFailure });
    const errors = await Promise.all(Array.from({ length: 20 }, () => keys.getKey('key-1').catch((e: unknown) => e)));
    for (const error of errors) {
      expect(error).toBeInstanceOf(SigningKeysUnavailableError);
      expect((error as SigningKeysUnavailableError).headers['Retry-After']).toBe(String(COLD_RETRY_MS / 1000));
    }
    expect(onFetchFailure).toHaveBeenCalledTimes(1);
    expect(onFetchFailure).toHaveBeenCalledWith(expect.stringMatching(logged));
    if (fault !== 'down') expect(jwks.requests).toBe(1);
    // Within the retry interval nothing is downloaded again.
    await expect(keys.getKey('key-1')).rejects.toBeInstanceOf(SigningKeysUnavailableError);
    expect(onFetchFailure).toHaveBeenCalledTimes(1);

    await repairEndpoint();
    clock += COLD_RETRY_MS; // seconds later, not the 5-minute unknown-kid interval
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    expect(jwks.requests).toBe(fault === 'down' ? 1 : 2);
  });
});

describe('the download deadline', () => {
  it('holds when garbage is collected while a dripping body is read', { timeout: 10_000 }, async () => {
    // fetch's body stream follows its request's signal only weakly: after a GC,
    // a deadline given to fetch alone never ended this download.
    jwks.behaviour = 'drip';
    const collector = setInterval(collectGarbage, 50);
    try {
      const onFetchFailure = vi.fn();
      await expect(store({ fetchTimeoutMs: 1500, onFetchFailure }).getKey('key-1')).rejects.toBeInstanceOf(
        SigningKeysUnavailableError,
      );
      expect(onFetchFailure).toHaveBeenCalledWith(expect.stringContaining('TimeoutError'));
    } finally {
      clearInterval(collector);
    }
  });
});

describe('parseJwks', () => {
  const rsa = () => issuer.jwks().keys[0];
  /** kid → reason of every unusable entry (the document's first ten). */
  const reasons = (entries: unknown[]) =>
    Object.fromEntries(
      parseJwks({ keys: entries }).unusable.examples.map((example) => example.split(/: (.*)/s).slice(0, 2)),
    );
  const usableKids = (entries: unknown[]) => parseJwks({ keys: entries }).keys.map((k) => k.kid);
  const jwkOf = (pair: { publicKey: import('node:crypto').KeyObject }) => pair.publicKey.export({ format: 'jwk' });

  it('skips entries that cannot verify RS256 and keeps the rest', () => {
    const entries = [
      { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'x', y: 'y' },
      { ...rsa(), kid: 'enc', use: 'enc' },
      { ...rsa(), kid: 'ps', alg: 'PS256' },
      { ...rsa(), kid: '' },
      { kty: 'RSA', kid: 'broken', x5c: ['bm90IGEgY2VydGlmaWNhdGU='] },
      { ...rsa(), kid: 'good' },
    ];
    expect(usableKids(entries)).toEqual(['good']);
    expect(reasons(entries)).toEqual({
      'kid "ec"': 'kty "EC" is not RSA',
      'kid "enc"': 'use "enc" is not sig',
      'kid "ps"': 'alg "PS256" is not RS256',
      'kid ""': 'no kid',
      'kid "broken"': 'x5c[0] is not an X.509 certificate',
    });
  });

  it('refuses RSA keys under 2048 bits or with an exponent other than 65537', () => {
    const weak = (modulusLength: number, publicExponent = 65537) =>
      jwkOf(generateKeyPairSync('rsa', { modulusLength, publicExponent }));
    const entries = [
      { ...rsa(), ...weak(512), kid: 'rsa512' },
      { ...rsa(), ...weak(1024), kid: 'rsa1024' },
      { ...rsa(), ...weak(2048, 3), kid: 'e3' },
      { ...rsa(), e: 'AQ', kid: 'e1' },
      { ...rsa(), kid: 'rsa2048' },
    ];
    expect(usableKids(entries)).toEqual(['rsa2048']);
    expect(reasons(entries)).toEqual({
      'kid "rsa512"': 'an RSA key of 512 bits, under 2048',
      'kid "rsa1024"': 'an RSA key of 1024 bits, under 2048',
      'kid "e3"': 'RSA exponent 3 is not 65537',
      'kid "e1"': 'RSA exponent 1 is not 65537',
    });
  });

  it('refuses an issuer that is present but not a non-empty string, instead of reading it as absent', () => {
    const entries = [42, null, '', ['https://login.microsoftonline.com/{tenantid}/v2.0'], {}].map((issuer, i) => ({
      ...rsa(),
      kid: `i${i}`,
      issuer,
    }));
    expect(usableKids([...entries, { ...rsa(), kid: 'none', issuer: undefined }])).toEqual(['none']);
    expect(Object.values(reasons(entries))).toEqual([
      'issuer 42 is present but not a non-empty string',
      'issuer null is present but not a non-empty string',
      'issuer "" is present but not a non-empty string',
      'issuer ["https://login.microsoftonline.com/{tenantid}/v2.0"] is present but not a non-empty string',
      'issuer object is present but not a non-empty string',
    ]);
  });

  it('refuses every entry of a kid that appears more than once, however alike or unlike they are', () => {
    const restricted = {
      ...rsa(),
      kid: 'twice',
      issuer: 'https://login.microsoftonline.com/77777777-7777-4777-8777-777777777777/v2.0',
    };
    const { issuer: _dropped, ...unrestricted } = restricted;
    const entries = [
      restricted,
      unrestricted,
      { ...rsa(), kid: 'thrice' },
      { ...rsa(), kid: 'thrice' },
      { kty: 'EC', kid: 'thrice' },
      { ...rsa(), kid: 'once' },
    ];
    expect(usableKids(entries)).toEqual(['once']);
    expect(parseJwks({ keys: entries }).unusable.examples).toEqual([
      'kid "twice": the kid appears 2 times, so no entry of it can be trusted to be the one meant',
      'kid "twice": the kid appears 2 times, so no entry of it can be trusted to be the one meant',
      'kid "thrice": the kid appears 3 times, so no entry of it can be trusted to be the one meant',
      'kid "thrice": the kid appears 3 times, so no entry of it can be trusted to be the one meant',
      'kid "thrice": the kid appears 3 times, so no entry of it can be trusted to be the one meant',
    ]);
  });

  it('counts duplicates past the key bound too', () => {
    const many = Array.from({ length: MAX_JWKS_KEYS + 1 }, (_, i) => ({ ...rsa(), kid: `k${i}` }));
    expect(usableKids([...many, { ...rsa(), kid: 'k0' }])).not.toContain('k0');
  });

  it('holds n and e and the x5c certificate together: same key, and an RSA key', () => {
    const own = selfSignedCertificate(issuer.keys[0].privateKey);
    const other = selfSignedCertificate(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const ec = selfSignedCertificate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const { n, e, ...withoutKey } = rsa();
    const entries = [
      { ...rsa(), kid: 'both', x5c: [own] },
      { ...withoutKey, kid: 'certificate only', x5c: [own] },
      { ...rsa(), kid: 'another key', x5c: [other] },
      { ...withoutKey, kid: 'EC certificate', x5c: [ec] },
      { ...rsa(), kid: 'EC certificate and n/e', x5c: [ec] },
      { ...withoutKey, kid: 'n alone', n, x5c: [own] },
      { ...withoutKey, kid: 'e alone', e, x5c: [own] },
      { ...rsa(), kid: 'x5c empty', x5c: [] },
      { ...rsa(), kid: 'x5c a string', x5c: own },
      { ...rsa(), kid: 'x5c of a number', x5c: [42] },
      { ...withoutKey, kid: 'no key material' },
    ];
    expect(usableKids(entries)).toEqual(['both', 'certificate only']);
    expect(parseJwks({ keys: entries }).unusable.count).toBe(9);
    expect(reasons(entries)).toEqual({
      'kid "another key"': 'n and e are not the key of the x5c certificate',
      'kid "EC certificate"': 'the x5c certificate holds a key of type "ec", not RSA',
      'kid "EC certificate and n/e"': 'n and e are not the key of the x5c certificate',
      'kid "n alone"': 'n and e are not both base64url strings',
      'kid "e alone"': 'n and e are not both base64url strings',
      'kid "x5c empty"': 'x5c is not an array starting with a base64 certificate',
      'kid "x5c a string"': 'x5c is not an array starting with a base64 certificate',
      'kid "x5c of a number"': 'x5c is not an array starting with a base64 certificate',
      'kid "no key material"': 'has neither n and e nor x5c',
    });
  });

  it('describes the unusable entries on one bounded line, whatever the JWKS holds', () => {
    const hostileKid = `a\r\n2099 info forged ${'x'.repeat(500)}`;
    const entries = [{ kty: 'RSA', kid: hostileKid }, ...Array.from({ length: 5000 }, () => ({}))];
    const line = describeUnusable(parseJwks({ keys: entries }).unusable);
    expect(line).toMatch(
      /^5001 unusable entries skipped: kid "a\\r\\n2099 info forged x+…": has neither n and e nor x5c; kid undefined: no kid;/,
    );
    expect(line).toMatch(/; and 4991 more$/);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.length).toBeLessThan(1000);
  });

  it(`keeps at most ${MAX_JWKS_KEYS} keys (the cache's hard bound) and parses no more`, () => {
    const many = Array.from({ length: MAX_JWKS_KEYS + 50 }, (_, i) => ({ ...rsa(), kid: `k${i}` }));
    const { keys } = parseJwks({ keys: many });
    expect(keys).toHaveLength(MAX_JWKS_KEYS);
    expect(keys.at(-1)?.kid).toBe(`k${MAX_JWKS_KEYS - 1}`);
  });

  it('rejects a document without a keys array', () => {
    expect(() => parseJwks({ keys: 'nope' })).toThrow(/no "keys" array/);
    expect(() => parseJwks([])).toThrow(/no "keys" array/);
  });
});

describe('unusable entries, as the store reports them', () => {
  it('logs the unusable entries of a key set once, not per lookup, refetch or refresh, and again when the set changes', async () => {
    const onUnusableKeys = vi.fn();
    const weak = issuer.addKey({ kid: 'weak-1', modulusLength: 1024 });
    const keys = store({ onUnusableKeys });
    for (let i = 0; i < 5; i++) expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    expect(await keys.getKey(weak.kid)).toBeUndefined(); // an unknown kid: the first refetch, at once
    clock += 12 * HOUR;
    await keys.getKey('key-1');
    await vi.waitFor(() => expect(jwks.requests).toBe(3));
    expect(onUnusableKeys).toHaveBeenCalledTimes(1);
    expect(onUnusableKeys).toHaveBeenCalledWith(
      `JWKS from ${jwks.jwksUri}: 1 unusable entry skipped: kid "weak-1": an RSA key of 1024 bits, under 2048`,
    );

    issuer.addKey({ kid: 'weak-2', publicExponent: 3 });
    clock += 5 * MINUTE;
    expect(await keys.getKey('weak-2')).toBeUndefined();
    expect(onUnusableKeys).toHaveBeenCalledTimes(2);
    expect(onUnusableKeys).toHaveBeenLastCalledWith(expect.stringContaining('2 unusable entries skipped'));
  });

  it('a JWKS whose every entry is unusable is a failed download that says why', async () => {
    issuer.removeKey('key-1');
    issuer.addKey({ kid: 'weak', modulusLength: 1024 });
    const onFetchFailure = vi.fn();
    await expect(store({ onFetchFailure }).getKey('weak')).rejects.toBeInstanceOf(SigningKeysUnavailableError);
    expect(onFetchFailure).toHaveBeenCalledWith(
      expect.stringContaining(
        'no usable RS256 signing key (1 unusable entry skipped: kid "weak": an RSA key of 1024 bits, under 2048)',
      ),
    );
  });
});

describe('start-up and key-set version', () => {
  it('prefetch starts the download at once; the first lookup shares it', async () => {
    const keys = store();
    keys.prefetch();
    keys.prefetch();
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    expect(jwks.requests).toBe(1);
  });

  it('a failed prefetch is reported, not thrown, and sets no back-off: the first lookup downloads again', async () => {
    jwks.behaviour = 'fail';
    const failures: string[] = [];
    const keys = store({ onFetchFailure: (message) => failures.push(message) });
    keys.prefetch();
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    jwks.behaviour = 'serve';
    expect((await keys.getKey('key-1'))?.kid).toBe('key-1');
    expect(jwks.requests).toBe(2);
  });

  it('a failure sink that throws does not make a background download reject', async () => {
    jwks.behaviour = 'fail';
    const keys = store({
      onFetchFailure: () => {
        throw new Error('log sink broken');
      },
    });
    keys.prefetch(); // nobody awaits it: a rejection here would be unhandled and fail the run
    await vi.waitFor(() => expect(jwks.requests).toBe(1));
    jwks.behaviour = 'serve';
    await vi.waitFor(async () => expect((await keys.getKey('key-1'))?.kid).toBe('key-1'));
  });

  it('changes version with each download that replaces the keys, and not with a failed one', async () => {
    const onFetchFailure = vi.fn();
    const keys = store({ onFetchFailure });
    expect(keys.version).toBe(0);
    await keys.getKey('key-1');
    expect(keys.version).toBe(1);
    clock += 12 * HOUR;
    jwks.behaviour = 'fail';
    await keys.getKey('key-1');
    await vi.waitFor(() => expect(onFetchFailure).toHaveBeenCalledOnce());
    expect(keys.version).toBe(1);
    clock += 5 * MINUTE;
    jwks.behaviour = 'serve';
    await keys.getKey('key-1');
    await vi.waitFor(() => expect(keys.version).toBe(2));
  });
});
