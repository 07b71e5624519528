import { beforeEach, describe, expect, it } from 'vitest';
import { parseJwks, type SigningKey } from '../../src/auth/jwks';
import { SubjectAndAppAuthenticator } from '../../src/auth/subjectAndAppAuthenticator';
import { ValidatedTokenCache } from '../../src/auth/validatedTokenCache';
import type { EntraAccessToken } from '../../src/auth/entraToken';
import { AuthError } from '../../src/fabric/errors';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { IDENTITY, tokenFactory, USER_TENANT, type TokenFactory } from '../fixtures/tokens';

const NOW_S = Math.floor(Date.now() / 1000);

/** An authenticator over a key set the test can replace, counting key lookups (one per full validation). */
function harness(cacheSize?: number, beforeLookup: () => Promise<void> = async () => undefined) {
  const issuer = new TokenIssuer(IDENTITY.authorityHost);
  issuer.addKey();
  const state = { keys: parseJwks(issuer.jwks()), version: 1, lookups: 0, nowMs: NOW_S * 1000 };
  const authenticator = new SubjectAndAppAuthenticator({
    authorityHost: IDENTITY.authorityHost,
    v1Audience: IDENTITY.workloadAudience,
    v2Audience: IDENTITY.workloadClientId,
    clockSkewSeconds: 60,
    publisherTenantId: IDENTITY.publisherTenantId,
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
  const authenticate = (authorization: string, tenant = USER_TENANT) => authenticator.authenticate({ authorization, clientTenantId: tenant });
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
    for (let i = 0; i < 5; i++) expect(await h.authenticate(header)).toEqual({ tenantId: USER_TENANT, appId: expect.any(String) });
    expect(h.state.lookups).toBe(2);
  });

  it('still checks the tenant header against a cached subject token', async () => {
    const header = tokens.header();
    await h.authenticate(header);
    expect(await reason(h.authenticate(header, '00000000-0000-4000-8000-000000000001'))).toMatch(/is not x-ms-client-tenant-id/);
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
    expect(await reason(h.authenticate(header))).toMatch(/signature or lifetime/);
  });

  it('never stores a failure: a rejected token is validated in full every time', async () => {
    const header = subjectAndAppHeader(tokens.subjectToken({ aud: 'api://someone-else' }), tokens.appToken({ aud: 'api://someone-else' }));
    for (let i = 0; i < 3; i++) expect(await reason(h.authenticate(header))).toMatch(/^app token: aud/);
    expect(h.state.lookups).toBe(6);
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
  const token = (exp: number): EntraAccessToken => ({ version: '2.0', tenantId: USER_TENANT, appId: 'a', claims: { exp } });

  it('is keyed by a SHA-256 of the token, never the token itself', () => {
    const id = ValidatedTokenCache.idOf('header.payload.signature');
    expect(id).toHaveLength(44);
    expect(id).not.toContain('header');
  });

  it('holds at most its bound, dropping the oldest entry', () => {
    const cache = new ValidatedTokenCache(2);
    for (const id of ['a', 'b', 'c']) cache.set(id, token(NOW_S + 60), 1);
    expect(cache.size).toBe(2);
    expect(cache.get('a', NOW_S * 1000, 1)).toBeUndefined();
    expect(cache.get('c', NOW_S * 1000, 1)).toBeDefined();
  });

  it('does not keep a token without a numeric exp', () => {
    const cache = new ValidatedTokenCache();
    cache.set('a', { ...token(0), claims: {} }, 1);
    expect(cache.size).toBe(0);
  });
});
