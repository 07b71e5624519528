import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_JWKS_KEYS, parseJwks } from '../../src/auth/jwks';
import { SigningKeyStore, type SigningKeyStoreOptions } from '../../src/auth/signingKeyStore';
import { SigningKeysUnavailableError } from '../../src/fabric/errors';
import { JWKS_FAULTS, startJwksServer, TokenIssuer, type JwksServer } from '../../dev/tokenIssuer';
import { collectGarbage } from '../fixtures/faultRun';

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
  ['malformed', /SyntaxError/],
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
      await expect(store({ fetchTimeoutMs: 1500, onFetchFailure }).getKey('key-1')).rejects.toBeInstanceOf(SigningKeysUnavailableError);
      expect(onFetchFailure).toHaveBeenCalledWith(expect.stringContaining('TimeoutError'));
    } finally {
      clearInterval(collector);
    }
  });
});

describe('parseJwks', () => {
  const rsa = () => issuer.jwks().keys[0];

  it('skips entries that cannot verify RS256 and keeps the rest', () => {
    const keys = parseJwks({
      keys: [
        { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'x', y: 'y' },
        { ...rsa(), kid: 'enc', use: 'enc' },
        { ...rsa(), kid: 'ps', alg: 'PS256' },
        { ...rsa(), kid: '' },
        { kty: 'RSA', kid: 'broken', x5c: ['bm90IGEgY2VydGlmaWNhdGU='] },
        { ...rsa(), kid: 'good' },
      ],
    });
    expect(keys.map((k) => k.kid)).toEqual(['good']);
  });

  it(`keeps at most ${MAX_JWKS_KEYS} keys (the cache's hard bound) and parses no more`, () => {
    const many = Array.from({ length: MAX_JWKS_KEYS + 50 }, (_, i) => ({ ...rsa(), kid: `k${i}` }));
    const keys = parseJwks({ keys: many });
    expect(keys).toHaveLength(MAX_JWKS_KEYS);
    expect(keys.at(-1)?.kid).toBe(`k${MAX_JWKS_KEYS - 1}`);
  });

  it('rejects a document without a keys array', () => {
    expect(() => parseJwks({ keys: 'nope' })).toThrow(/no "keys" array/);
    expect(() => parseJwks([])).toThrow(/no "keys" array/);
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
