/**
 * validateEntraAccessToken on its own, rule by rule, with real RS256 tokens of
 * the test issuer and a fixed clock. The catalogue (test/fixtures/authCases.ts)
 * runs most of these through the authenticator and over HTTP; here each rule
 * is held to the AuthError rule it names (`appToken.audience`, …), the exact
 * skew bounds and the key issuer template.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenIssuer, type IssuerKey } from '../../../dev/tokenIssuer';
import { parseJwks, type SigningKey } from '../../../src/auth/jwks';
import { validateEntraAccessToken, type TokenExpectations } from '../../../src/auth/entraToken';
import { AuthError } from '../../../src/fabric/errors';
import {
  forge,
  IDENTITY,
  rs256,
  signRs512,
  signWithoutKid,
  tokenFactory,
  type TokenFactory,
} from '../../fixtures/tokens';

const NOW_SECONDS = Date.UTC(2026, 0, 1) / 1000;
const SKEW = 60;
const EXPECTED: TokenExpectations = {
  authorityHost: IDENTITY.authorityHost,
  v1Audience: IDENTITY.workloadAudience,
  v2Audience: IDENTITY.workloadClientId,
  clockSkewSeconds: SKEW,
};
const TENANT = IDENTITY.publisherTenantId;
const OTHER_TENANT = '77777777-7777-4777-8777-777777777777';
const V1_ISSUER = `https://sts.windows.net/${TENANT}/`;
const V2_ISSUER = `${IDENTITY.authorityHost}/${TENANT}/v2.0`;

let tokens: TokenFactory;
let keys: SigningKey[];
/** Published with Entra's issuer template (the default), for another tenant only, and with no issuer. */
let templateKey: IssuerKey, otherTenantKey: IssuerKey, keyWithoutIssuer: IssuerKey, ownTenantKey: IssuerKey;
/** Not published. */
let rogueKey: IssuerKey;
beforeAll(() => {
  const issuer = new TokenIssuer(IDENTITY.authorityHost);
  templateKey = issuer.addKey();
  otherTenantKey = issuer.addKey({ issuer: `${IDENTITY.authorityHost}/${OTHER_TENANT}/v2.0` });
  ownTenantKey = issuer.addKey({ issuer: V2_ISSUER });
  keyWithoutIssuer = issuer.addKey({ issuer: null });
  rogueKey = new TokenIssuer(IDENTITY.authorityHost).addKey();
  tokens = tokenFactory(issuer);
  keys = parseJwks(issuer.jwks()).keys;
});

type Overrides = Record<string, unknown>;
/** App-token claims at NOW_SECONDS, of `version`, with overrides (undefined removes a claim). */
const claims = (overrides: Overrides = {}, version: '1.0' | '2.0' = '2.0') =>
  tokens.appClaims(overrides, { now: NOW_SECONDS, version });
const signed = (overrides: Overrides = {}, version: '1.0' | '2.0' = '2.0', key = templateKey) =>
  tokens.issuer.sign(claims(overrides, version), key);

const validate = (token: string, label = 'app token', nowMs = NOW_SECONDS * 1000) =>
  validateEntraAccessToken(token, label, async (kid) => keys.find((key) => key.kid === kid), EXPECTED, nowMs);

/** The rule of the AuthError the validation fails with, or 'accepted'. */
async function outcome(token: string, nowMs?: number): Promise<string> {
  try {
    await validate(token, 'app token', nowMs);
    return 'accepted';
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toMatch(/^app token: /);
    return (error as AuthError).rule;
  }
}

describe('accepted', () => {
  it('a v2.0 token: version, lower-case tenant and app id, the claims', async () => {
    const token = signed({
      tid: TENANT.toUpperCase(),
      iss: V2_ISSUER.replace(TENANT, TENANT.toUpperCase()),
      azp: 'ABC',
    });
    const accepted = await validate(token);
    expect(accepted).toMatchObject({ version: '2.0', tenantId: TENANT, appId: 'abc' });
    expect(accepted.claims.idtyp).toBe('app');
  });

  it('a v1.0 token, its app id from appid', async () => {
    expect(await validate(signed({ appid: 'V1-APP' }, '1.0'))).toMatchObject({ version: '1.0', appId: 'v1-app' });
  });

  it.each([
    ['an aud array containing the v2.0 audience', () => signed({ aud: ['https://other', IDENTITY.workloadClientId] })],
    ['an aud array containing the v1.0 audience', () => signed({ aud: [IDENTITY.workloadAudience] }, '1.0')],
    ['no nbf', () => signed({ nbf: undefined })],
    ['nbf equal to exp', () => signed({ nbf: NOW_SECONDS, exp: NOW_SECONDS })],
    [`expired ${SKEW - 1} s ago (within the skew)`, () => signed({ exp: NOW_SECONDS - (SKEW - 1), nbf: undefined })],
    [`valid from ${SKEW} s on (within the skew)`, () => signed({ nbf: NOW_SECONDS + SKEW })],
    ["a key whose issuer template names the token's tenant", () => signed({}, '2.0', templateKey)],
    ["a key issued for the token's own tenant", () => signed({}, '2.0', ownTenantKey)],
    ['a key without an issuer', () => signed({}, '2.0', keyWithoutIssuer)],
    ['a v1.0 token under a key with the v2.0 issuer template', () => signed({}, '1.0', templateKey)],
  ])('%s', async (_name, token) => {
    expect(await outcome(token())).toBe('accepted');
  });
});

describe('refused, naming the rule', () => {
  const key = () => templateKey;
  /** RS256 by hand, for what jsonwebtoken's sign would refuse to make. */
  const withHeader = (header: Overrides | string, payload: unknown = claims()) =>
    forge(header, payload, rs256(key().privateKey));

  it.each([
    ['header', 'a header that is not JSON', () => withHeader('not json')],
    ['header', 'a header that is a JSON array', () => withHeader('[]')],
    ['alg', 'alg none', () => forge({ alg: 'none', kid: key().kid }, claims())],
    ['alg', 'alg RS512 (really signed so)', () => signRs512(claims(), key())],
    ['alg', 'no alg', () => withHeader({ kid: key().kid })],
    ['kid', 'no kid', () => signWithoutKid(claims(), key())],
    ['kid', 'an empty kid', () => withHeader({ alg: 'RS256', kid: '' })],
    ['kid', 'a numeric kid', () => withHeader({ alg: 'RS256', kid: 1 })],
    ['payload', 'a payload that is a JSON array', () => withHeader({ alg: 'RS256', kid: key().kid }, [claims()])],
    ['payload', 'a payload that is not JSON', () => withHeader({ alg: 'RS256', kid: key().kid }, 'A\r\nB')],
    ['exp', 'no exp', () => signed({ exp: undefined, nbf: undefined })],
    [
      'exp',
      'a string exp',
      () => withHeader({ alg: 'RS256', kid: key().kid }, claims({ exp: String(NOW_SECONDS + 60) })),
    ],
    [
      'exp',
      'an exp too large to be finite (1e400)',
      () =>
        withHeader(
          { alg: 'RS256', kid: key().kid },
          JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400'),
        ),
    ],
    ['nbf', 'a string nbf', () => withHeader({ alg: 'RS256', kid: key().kid }, claims({ nbf: String(NOW_SECONDS) }))],
    ['nbf', 'nbf after exp', () => signed({ nbf: NOW_SECONDS + 10, exp: NOW_SECONDS + 9 })],
    ['unknownKey', 'a kid the JWKS does not have', () => tokens.issuer.sign(claims(), rogueKey)],
    [
      'signature',
      'a published kid over a signature by another key',
      () => forge({ alg: 'RS256', kid: key().kid }, claims(), rs256(rogueKey.privateKey)),
    ],
    [
      'signature',
      'a payload changed after signing',
      () => {
        const [header, , signature] = signed().split('.');
        return `${header}.${Buffer.from(JSON.stringify(claims({ tid: OTHER_TENANT }))).toString('base64url')}.${signature}`;
      },
    ],
    ['expired', `expired ${SKEW + 1} s ago`, () => signed({ exp: NOW_SECONDS - (SKEW + 1), nbf: undefined })],
    ['notYetValid', `valid only from ${SKEW + 1} s on`, () => signed({ nbf: NOW_SECONDS + SKEW + 1 })],
    ['ver', 'ver 3.0', () => signed({ ver: '3.0' })],
    ['ver', 'no ver', () => signed({ ver: undefined })],
    ['ver', 'a numeric ver', () => signed({ ver: 2 })],
    ['tid', 'a tid that is not a GUID', () => signed({ tid: 'contoso.onmicrosoft.com' })],
    ['tid', 'no tid', () => signed({ tid: undefined })],
    ['issuer', 'a v1.0 token with the v2.0 issuer', () => signed({ iss: V2_ISSUER }, '1.0')],
    ['issuer', 'a v2.0 token with the v1.0 issuer', () => signed({ iss: V1_ISSUER })],
    ['issuer', 'a v2.0 issuer with a trailing slash', () => signed({ iss: `${V2_ISSUER}/` })],
    ['issuer', 'a v1.0 issuer without its trailing slash', () => signed({ iss: V1_ISSUER.slice(0, -1) }, '1.0')],
    ['issuer', 'an issuer of another tenant than tid', () => signed({ iss: V2_ISSUER.replace(TENANT, OTHER_TENANT) })],
    [
      'issuer',
      'an issuer of another authority',
      () => signed({ iss: V2_ISSUER.replace('microsoftonline.com', 'x.test') }),
    ],
    ['keyIssuer', 'a key issued for another tenant', () => signed({}, '2.0', otherTenantKey)],
    ['audience', 'a v2.0 token with the v1.0 audience', () => signed({ aud: IDENTITY.workloadAudience })],
    ['audience', 'a v1.0 token with the v2.0 audience', () => signed({ aud: IDENTITY.workloadClientId }, '1.0')],
    ['audience', 'an audience of another app', () => signed({ aud: 'api://other' })],
    ['audience', 'an aud array without the audience', () => signed({ aud: ['api://other'] })],
    ['audience', 'no aud', () => signed({ aud: undefined })],
    ['appId', 'a v2.0 token without azp', () => signed({ azp: undefined })],
    ['appId', 'a v2.0 token with appid but no azp', () => signed({ azp: undefined, appid: 'x' })],
    ['appId', 'an empty azp', () => signed({ azp: '' })],
    ['appId', 'a v1.0 token without appid', () => signed({ appid: undefined }, '1.0')],
    ['appId', 'a v1.0 token with azp but no appid', () => signed({ appid: undefined, azp: 'x' }, '1.0')],
  ])('%s: %s', async (rule, _name, token) => {
    expect(await outcome(token())).toBe(`appToken.${rule}`);
  });

  it('the skew is counted from the clock given, not the system clock', async () => {
    const token = signed();
    expect(await outcome(token, (NOW_SECONDS + 3600 + SKEW + 1) * 1000)).toBe('appToken.expired');
    expect(await outcome(token, (NOW_SECONDS - 5 - SKEW - 1) * 1000)).toBe('appToken.notYetValid');
  });
});

describe('the AuthError', () => {
  it('names the token in its rule (no spaces) and its reason', async () => {
    const error = await validate(signed({ aud: 'api://other' }), 'subject token').then(
      () => undefined,
      (e: unknown) => e as AuthError,
    );
    expect(error?.rule).toBe('subjectToken.audience');
    expect(error?.reason).toBe(
      `subject token: aud "api://other" does not contain ${JSON.stringify(IDENTITY.workloadClientId)}`,
    );
  });

  it('gives the library errors fixed reasons, never the library message', async () => {
    const error = await validate(signed({ exp: NOW_SECONDS - 3600, nbf: undefined })).catch((e: AuthError) => e);
    expect((error as AuthError).reason).toBe(`app token: expired: exp is more than ${SKEW} s before now`);
  });
});
