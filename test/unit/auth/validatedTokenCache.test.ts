import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseJwks, type SigningKey } from '../../../src/auth/jwks';
import { SubjectAndAppAuthenticator, type AuthenticatorOptions } from '../../../src/auth/subjectAndAppAuthenticator';
import { MAX_ENTRY_LIFETIME_MS, ValidatedTokenCache } from '../../../src/auth/validatedTokenCache';
import type { EntraAccessToken } from '../../../src/auth/entraToken';
import { AuthError } from '../../../src/fabric/errors';
import { subjectAndAppHeader } from '../../../dev/fabricTokens';
import { startJwksServer, TokenIssuer } from '../../../dev/tokenIssuer';
import { SigningKeyStore } from '../../../src/auth/signingKeyStore';
import { IDENTITY, tokenFactory, USER_TENANT, type TokenFactory } from '../../fixtures/tokens';

const NOW_S = Math.floor(Date.now() / 1000);

/** The test identity's authenticator with the given key source, clock and cache. */
function authenticatorWith(
  options: Pick<AuthenticatorOptions, 'findKey' | 'keySetVersion' | 'now' | 'validatedTokenCacheSize'>,
) {
  return new SubjectAndAppAuthenticator({
    authorityHost: IDENTITY.authorityHost,
    v1Audience: IDENTITY.workloadAudience,
    v2Audience: IDENTITY.workloadClientId,
    clockSkewSeconds: 60,
    publisherTenantId: IDENTITY.publisherTenantId,
    ...options,
  });
}

/** An authenticator over a key set the test can replace, counting key lookups (one per full validation). */
function harness(cacheSize?: number, beforeLookup: () => Promise<void> = async () => undefined) {
  const issuer = new TokenIssuer(IDENTITY.authorityHost);
  issuer.addKey();
  const state = { keys: parseJwks(issuer.jwks()).keys, version: 1, lookups: 0, nowMs: NOW_S * 1000 };
  const authenticator = authenticatorWith({
    findKey: async (kid): Promise<SigningKey | undefined> => {
      state.lookups++;
      await beforeLookup();
      return state.keys.find((key) => key.kid === kid);
    },
    keySetVersion: () => state.version,
    validatedTokenCacheSize: cacheSize,
    now: () => state.nowMs,
  });
  const tokens = tokenFactory(issuer);
  const authenticate = (authorization: string, tenant = USER_TENANT) =>
    authenticator.authenticate({ authorization, clientTenantId: tenant });
  return { issuer, state, tokens, authenticate };
}

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof AuthError ? error.reason : `unexpected ${String(error)}`),
  );

describe('the validated-token cache in the authenticator', () => {
  let h: ReturnType<typeof harness>;
  let tokens: TokenFactory;
  beforeEach(() => {
    h = harness();
    tokens = h.tokens;
  });

  it('validates a reused token pair in full once, then from the cache', async () => {
    const header = tokens.header();
    await h.authenticate(header);
    expect(h.state.lookups).toBe(2);
    for (let i = 0; i < 5; i++)
      expect(await h.authenticate(header)).toEqual({
        tenantId: USER_TENANT,
        appId: expect.any(String),
        userObjectId: expect.any(String),
        subject: expect.objectContaining({ expiresOn: expect.any(Date) }),
      });
    expect(h.state.lookups).toBe(2);
  });

  it('still checks the tenant header against a cached subject token', async () => {
    const header = tokens.header();
    await h.authenticate(header);
    expect(await reason(h.authenticate(header, '00000000-0000-4000-8000-000000000001'))).toMatch(
      /is not x-ms-client-tenant-id/,
    );
  });

  it('still applies the app-token and subject-token rules to cached tokens (a token in the wrong position is refused)', async () => {
    const app = tokens.appToken();
    const subject = tokens.subjectToken();
    await h.authenticate(subjectAndAppHeader(subject, app));
    expect(await reason(h.authenticate(subjectAndAppHeader(app, subject)))).toMatch(/^app token: idtyp/);
    expect(h.state.lookups).toBe(2);
  });

  it('drops every entry when the key set changes, so a token whose key left the JWKS is refused', async () => {
    const header = tokens.header();
    await h.authenticate(header);
    h.state.keys = [];
    h.state.version++;
    expect(await reason(h.authenticate(header))).toMatch(/is not in the JWKS/);
  });

  it("ends an entry at the token's exp; the full validation then applies the clock skew as before", async () => {
    const exp = NOW_S + 600;
    const header = subjectAndAppHeader(tokens.subjectToken({ exp }), tokens.appToken({ exp }));
    await h.authenticate(header);
    h.state.nowMs = (exp - 1) * 1000;
    await h.authenticate(header);
    expect(h.state.lookups).toBe(2);
    h.state.nowMs = (exp + 30) * 1000;
    expect(await reason(h.authenticate(header))).toBe('accepted');
    expect(h.state.lookups).toBe(4);
    h.state.nowMs = (exp + 61) * 1000;
    expect(await reason(h.authenticate(header))).toMatch(/expired: exp is more than 60 s before now/);
  });

  it('never stores a failure: a rejected token is validated in full every time', async () => {
    const header = subjectAndAppHeader(
      tokens.subjectToken({ aud: 'api://someone-else' }),
      tokens.appToken({ aud: 'api://someone-else' }),
    );
    for (let i = 0; i < 3; i++) expect(await reason(h.authenticate(header))).toMatch(/^app token: aud/);
    expect(h.state.lookups).toBe(6);
  });

  it('credits a validation to the key set it began with: a key-set change during it makes the next request a miss', async () => {
    let changeDuringLookup = true;
    const racing = harness(undefined, async () => {
      if (changeDuringLookup) racing.state.version++;
    });
    const header = racing.tokens.header();
    await racing.authenticate(header);
    changeDuringLookup = false;
    await racing.authenticate(header);
    expect(racing.state.lookups).toBe(4);
  });

  it('is off with size 0', async () => {
    const off = harness(0);
    const header = off.tokens.header();
    await off.authenticate(header);
    await off.authenticate(header);
    expect(off.state.lookups).toBe(4);
  });

  it('validates the two tokens concurrently', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = harness(undefined, async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
    });
    await slow.authenticate(slow.tokens.header());
    expect(most).toBe(2);
  });
});

describe('ValidatedTokenCache', () => {
  const NOW_MS = NOW_S * 1000;
  const token = (exp: unknown, claims: Record<string, unknown> = {}): EntraAccessToken => ({
    version: '2.0',
    tenantId: USER_TENANT,
    appId: 'a',
    claims: { exp, ...claims },
  });

  it('is keyed by a SHA-256 of the token, never the token itself', () => {
    const id = ValidatedTokenCache.idOf('header.payload.signature');
    expect(id).toHaveLength(44);
    expect(id).not.toContain('header');
  });

  it('holds at most its bound, dropping the least recently used entry', () => {
    const cache = new ValidatedTokenCache(2);
    cache.remember('a', token(NOW_S + 60), 1, NOW_MS);
    cache.remember('b', token(NOW_S + 60), 1, NOW_MS);
    expect(cache.get('a', NOW_MS, 1)).toBeDefined(); // a is now the most recently used
    cache.remember('c', token(NOW_S + 60), 1, NOW_MS);
    expect(cache.size).toBe(2);
    expect(cache.get('b', NOW_MS, 1)).toBeUndefined();
    expect(cache.get('a', NOW_MS, 1)).toBeDefined();
    expect(cache.get('c', NOW_MS, 1)).toBeDefined();
  });

  it('storing a token it already holds evicts nothing else', () => {
    const cache = new ValidatedTokenCache(2);
    cache.remember('a', token(NOW_S + 60), 1, NOW_MS);
    cache.remember('b', token(NOW_S + 60), 1, NOW_MS);
    cache.remember('b', token(NOW_S + 60), 1, NOW_MS);
    expect(cache.get('a', NOW_MS, 1)).toBeDefined();
  });

  it('keeps only the claims checked afterwards, frozen, and returns that same form when it does not store', () => {
    const cache = new ValidatedTokenCache();
    const big = token(NOW_S + 60, { idtyp: 'app', oid: 'o', groups: 'x'.repeat(10_000) });
    const kept = cache.remember('a', big, 1, NOW_MS);
    expect(kept.claims).toEqual({ idtyp: 'app', oid: 'o', exp: NOW_S + 60 });
    expect(Object.isFrozen(kept.claims)).toBe(true);
    expect(new ValidatedTokenCache(0).remember('a', big, 1, NOW_MS).claims).toEqual({
      idtyp: 'app',
      oid: 'o',
      exp: NOW_S + 60,
    });
  });

  it('does not store a token without a finite numeric exp', () => {
    const cache = new ValidatedTokenCache();
    for (const exp of [undefined, '1', Infinity]) cache.remember(String(exp), token(exp), 1, NOW_MS);
    expect(cache.size).toBe(0);
  });

  it('ends every entry within a day, whatever its exp', () => {
    const cache = new ValidatedTokenCache();
    cache.remember('a', token(NOW_S + 10 * 365 * 86_400), 1, NOW_MS);
    expect(cache.get('a', NOW_MS + MAX_ENTRY_LIFETIME_MS - 1, 1)).toBeDefined();
    expect(cache.get('a', NOW_MS + MAX_ENTRY_LIFETIME_MS, 1)).toBeUndefined();
  });
});

describe('the cache with the real signing-key store', () => {
  it('keeps refreshing keys while every request is a hit, so a key that leaves the JWKS ends its tokens', async () => {
    const issuer = new TokenIssuer(IDENTITY.authorityHost);
    issuer.addKey({ kid: 'k1' });
    const jwks = await startJwksServer(issuer);
    let clock = Date.now();
    try {
      const keys = new SigningKeyStore({ jwksUri: jwks.jwksUri, now: () => clock });
      const authenticator = authenticatorWith({
        findKey: (kid) => keys.getKey(kid),
        keySetVersion: () => keys.versionAfterRefreshCheck(),
        now: () => clock,
      });
      const exp = Math.floor(clock / 1000) + 24 * 3600;
      const tokens = tokenFactory(issuer);
      const header = subjectAndAppHeader(tokens.subjectToken({ exp }), tokens.appToken({ exp }));
      const authenticate = () =>
        reason(authenticator.authenticate({ authorization: header, clientTenantId: USER_TENANT }));
      expect(await authenticate()).toBe('accepted'); // first download, stored under version 0: a miss next time
      expect(await authenticate()).toBe('accepted'); // now cached under version 1
      issuer.addKey({ kid: 'k2' });
      issuer.removeKey('k1'); // k1 leaves the JWKS
      clock += 13 * 3600 * 1000;
      expect(await authenticate()).toBe('accepted'); // the hit starts the due refresh in the background
      await vi.waitFor(() => expect(keys.version).toBe(2));
      expect(await authenticate()).toMatch(/kid "k1" is not in the JWKS/);
    } finally {
      await jwks.close();
    }
  });
});
