/**
 * Acting for the user in jobs, for real: the delegation over the real token
 * broker (MSAL Node) against the development token endpoint on loopback
 * HTTPS, with real sealing keys. Create's pre-flight meets each failure
 * mode; a job's user gets tokens from the sealed copy on its row, a fresher
 * copy after a poll refreshed it, and fails as Fabric expects when it cannot.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AssertionKeys } from '../../src/auth/assertionKeys';
import { SubjectToken, type AuthenticatedCaller } from '../../src/auth/subjectAndAppAuthenticator';
import { createTokenBroker } from '../../src/auth/tokenBroker';
import { ASSERTION_USE_MARGIN_MS, UserDelegation, byResource } from '../../src/execution/userDelegation';
import { AuthUIRequiredError, InternalError, TokenServiceUnavailableError } from '../../src/fabric/errors';
import { JobFailure } from '../../src/handlers/jobHandler';
import { HandlerRegistry } from '../../src/handlers/registry';
import type { JobRecord } from '../../src/jobs/jobRow';
import { USER_TOKEN_EXPIRED } from '../../src/jobs/lifecycle';
import { MFA_CLAIMS_CHALLENGE, startTokenEndpoint, type TokenEndpoint } from '../../dev/tokenEndpoint';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { IDENTITY, tokenFactory, USER_TENANT } from '../fixtures/tokens';

const ITEM_TYPE = 'Contoso.FinanceAnalytics.Forecast';
const SCOPED = 'writeToOneLake';
const BOTH = 'readFabricWriteOneLake';
const PLAIN = 'compute';
const STORAGE = 'https://storage.azure.com/user_impersonation';
const FABRIC = 'https://api.fabric.microsoft.com/Item.ReadWrite.All';
const SECRET = 'dev-secret-delegation-never-in-a-log';
const KEY = randomBytes(32).toString('base64');

let issuer: TokenIssuer;
let endpoint: TokenEndpoint;
let lines: string[];
const log = {
  info: (l: string) => lines.push(l),
  warn: (l: string) => lines.push(l),
  error: (l: string) => lines.push(l),
};
const noop = async () => undefined;
const handlers = new HandlerRegistry()
  .job(ITEM_TYPE, SCOPED, noop, { scopes: [STORAGE] })
  .job(ITEM_TYPE, BOTH, noop, { scopes: [FABRIC, STORAGE] })
  .job(ITEM_TYPE, PLAIN, noop);

function delegation(keys = new AssertionKeys(KEY)): UserDelegation {
  const broker = createTokenBroker({
    authorityHost: endpoint.authorityHost,
    clientId: IDENTITY.workloadClientId,
    publisherTenantId: IDENTITY.publisherTenantId,
    credential: { kind: 'secret', secret: SECRET },
    http: { trustedCertificates: endpoint.caCertificate },
  });
  return new UserDelegation(handlers, broker, keys);
}

/** A caller as the authenticator leaves it, its subject token living `seconds`. */
function caller(seconds = 3600, oid: string = randomUUID()): AuthenticatedCaller & { token: string } {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  const token = tokenFactory(issuer).subjectToken({ oid, exp });
  return {
    appId: 'd2450708-699c-41e3-8077-b0c8341509aa',
    tenantId: USER_TENANT,
    userObjectId: oid,
    subject: new SubjectToken(token, new Date(exp * 1000)),
    token,
  };
}

const newJob = (jobType = SCOPED) => ({
  itemType: ITEM_TYPE,
  jobType,
  itemId: randomUUID(),
  jobInstanceId: randomUUID(),
});

function recordOf(job: ReturnType<typeof newJob>, who: AuthenticatedCaller, sealed: Partial<JobRecord>): JobRecord {
  return {
    ...job,
    tenantId: USER_TENANT,
    workspaceId: randomUUID(),
    userObjectId: who.userObjectId,
    status: 'InProgress',
    ...sealed,
  };
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  issuer = new TokenIssuer(IDENTITY.authorityHost);
  issuer.addKey();
  endpoint = await startTokenEndpoint(issuer, { identity: IDENTITY, client: { secret: SECRET } });
});
afterAll(() => endpoint.close());
beforeEach(() => {
  lines = [];
  endpoint.failure = undefined;
});

describe("Create's pre-flight", () => {
  it('exchanges the scopes on the user’s behalf before anything is written, and seals the token for the row', async () => {
    const who = caller();
    const job = newJob();
    const before = endpoint.requests.length;
    const sealed = await delegation().preflight(job, who, log);
    expect(endpoint.requests.slice(before)).toMatchObject([
      { tenant: USER_TENANT, scope: expect.stringContaining('user_impersonation') },
    ]);
    expect(sealed.userAssertionExpiresUtc).toEqual(who.subject!.expiresOn);
    expect(sealed.userAssertion).not.toContain(who.token.split('.')[1]);
    expect(new AssertionKeys(KEY).open(sealed.userAssertion!, job)).toBe(who.token);
  });

  it('does nothing for a job type without scopes', async () => {
    const before = endpoint.requests.length;
    expect(await delegation().preflight(newJob(PLAIN), caller(), log)).toEqual({});
    expect(endpoint.requests.length).toBe(before);
  });

  it('asks once per resource when a job type declares scopes of two', async () => {
    expect(byResource([FABRIC, STORAGE, 'https://storage.azure.com/.default'])).toEqual([
      [FABRIC],
      [STORAGE, 'https://storage.azure.com/.default'],
    ]);
    const before = endpoint.requests.length;
    await delegation().preflight(newJob(BOTH), caller(), log);
    const scopes = endpoint.requests.slice(before).map((r) => r.scope);
    expect(scopes).toHaveLength(2);
    expect(scopes.some((s) => s?.includes('api.fabric.microsoft.com'))).toBe(true);
    expect(scopes.some((s) => s?.includes('storage.azure.com'))).toBe(true);
  });

  it.each([
    ['consent', undefined],
    ['mfa', MFA_CLAIMS_CHALLENGE],
  ] as const)('meets %s: 401 AuthUIRequired with the scopes to consent and the claims', async (failure, claims) => {
    endpoint.failure = failure;
    const error = await thrown(delegation().preflight(newJob(), caller(), log));
    expect(error).toBeInstanceOf(AuthUIRequiredError);
    const auth = error as AuthUIRequiredError;
    expect(auth.status).toBe(401);
    const parameters = auth.moreDetails[0]!.additionalParameters!;
    expect(parameters).toContainEqual({ name: 'additionalScopesToConsent', value: STORAGE });
    if (claims) {
      expect(parameters).toContainEqual({ name: 'claimsForConditionalAccessPolicy', value: claims });
      expect(auth.headers['WWW-Authenticate']).toContain('claims=');
    }
  });

  // Else the user consents to one resource, Create meets the other's 401, and the user is asked again (which one first was a race).
  it('asks consent for every resource that needs it in one 401, when a job type declares two', async () => {
    endpoint.failure = 'consent';
    const error = await thrown(delegation().preflight(newJob(BOTH), caller(), log));
    expect(error).toBeInstanceOf(AuthUIRequiredError);
    const parameters = (error as AuthUIRequiredError).moreDetails[0]!.additionalParameters!;
    const asked = parameters.find((p) => p.name === 'additionalScopesToConsent')?.value.split(', ');
    expect(asked?.sort()).toEqual([FABRIC, STORAGE].sort());
  });

  it('meets a blocking policy (401 AuthUIRequired) and a token service that is down (503)', async () => {
    endpoint.failure = 'policy';
    expect(await thrown(delegation().preflight(newJob(), caller(), log))).toBeInstanceOf(AuthUIRequiredError);
    endpoint.failure = 'unavailable';
    const down = await thrown(delegation().preflight(newJob(), caller(), log));
    expect(down).toBeInstanceOf(TokenServiceUnavailableError);
    expect((down as TokenServiceUnavailableError).status).toBe(503);
  });

  it('refuses a Create with scopes that came without a user', async () => {
    const { subject: _, ...noUser } = caller();
    expect(await thrown(delegation().preflight(newJob(), noUser, log))).toBeInstanceOf(InternalError);
  });
});

describe("a job's user", () => {
  it('gets tokens for its user from the sealed copy, the same user and tenant', async () => {
    const who = caller();
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    const user = delegation().forJob(recordOf(job, who, sealed), async () => undefined, log);
    const token = jwt.decode(await user.token()) as jwt.JwtPayload;
    expect(token).toMatchObject({ aud: 'https://storage.azure.com', oid: who.userObjectId, tid: USER_TENANT });
    expect(user.objectId).toBe(who.userObjectId);
  });

  it('reads the row again when its copy is about to expire, and uses the copy a poll refreshed', async () => {
    const who = caller(ASSERTION_USE_MARGIN_MS / 1000 - 30);
    const job = newJob();
    const first = await delegation().preflight(job, who, log);
    const fresh = caller(3600, who.userObjectId);
    const refreshed = {
      userAssertion: new AssertionKeys(KEY).seal(fresh.token, job),
      userAssertionExpiresUtc: fresh.subject!.expiresOn,
    };
    let rereads = 0;
    const user = delegation().forJob(
      recordOf(job, who, first),
      async () => {
        rereads++;
        return recordOf(job, who, refreshed);
      },
      log,
    );
    expect(jwt.decode(await user.token())).toMatchObject({ oid: who.userObjectId });
    expect(rereads).toBe(1);
  });

  it('fails the job with UserTokenExpired when no poll refreshed it', async () => {
    const who = caller(ASSERTION_USE_MARGIN_MS / 1000 - 30);
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    const user = delegation().forJob(recordOf(job, who, sealed), async () => recordOf(job, who, sealed), log);
    const error = await thrown(user.token());
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).details).toMatchObject(USER_TOKEN_EXPIRED);
  });

  it('fails closed when the copy does not open (another key): UserTokenExpired, the reason in the log', async () => {
    const who = caller();
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    const user = delegation(new AssertionKeys(randomBytes(32).toString('base64'))).forJob(
      recordOf(job, who, sealed),
      async () => undefined,
      log,
    );
    const error = await thrown(user.token());
    expect((error as JobFailure).details.errorCode).toBe('UserTokenExpired');
    expect(lines.join('\n')).toMatch(/sealed under key .*not configured/);
  });

  it('keeps working across a key rotation (the previous key still opens)', async () => {
    const who = caller();
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    const rotated = new AssertionKeys(randomBytes(32).toString('base64'), KEY);
    const user = delegation(rotated).forJob(recordOf(job, who, sealed), async () => undefined, log);
    expect(jwt.decode(await user.token())).toMatchObject({ oid: who.userObjectId });
  });

  it('fails the job with UserTokenExpired when Entra refuses its stored token itself (invalid_grant)', async () => {
    const who = caller();
    const job = newJob();
    // A token Entra will not exchange (another audience: AADSTS50013, invalid_grant), sealed as Create would have.
    const refused = tokenFactory(issuer).subjectToken({ aud: 'api://someone-else', oid: who.userObjectId });
    const sealed = {
      userAssertion: new AssertionKeys(KEY).seal(refused, job),
      userAssertionExpiresUtc: who.subject!.expiresOn,
    };
    const user = delegation().forJob(recordOf(job, who, sealed), async () => undefined, log);
    const error = await thrown(user.token());
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).details).toMatchObject(USER_TOKEN_EXPIRED);
    expect(lines.join('\n')).toContain('AADSTS50013');
  });

  it('fails the job with AuthUIRequired and its parameters when consent is missing inside the job', async () => {
    const who = caller();
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    endpoint.failure = 'consent';
    const user = delegation().forJob(recordOf(job, who, sealed), async () => undefined, log);
    const error = await thrown(user.token(['https://storage.azure.com/.default']));
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).details).toMatchObject({
      errorCode: 'AuthUIRequired',
      isPermanent: false,
      moreDetails: [
        { additionalParameters: [{ name: 'additionalScopesToConsent', value: 'https://storage.azure.com/.default' }] },
      ],
    });
  });

  it('asks for explicit scopes when its job type declares two resources, and refuses a job without a stored token', async () => {
    const who = caller();
    const job = newJob(BOTH);
    const sealed = await delegation().preflight(job, who, log);
    const user = delegation().forJob(recordOf(job, who, sealed), async () => undefined, log);
    await expect(user.token()).rejects.toThrow(/pass the scopes/);
    expect(jwt.decode(await user.token([FABRIC]))).toMatchObject({ aud: 'https://api.fabric.microsoft.com' });
    const plain = delegation().forJob(recordOf(newJob(PLAIN), who, {}), async () => undefined, log);
    await expect(plain.token([STORAGE])).rejects.toThrow(/declares no scopes/);
    // A job of a job type with scopes whose row has no token (created before the scopes were declared): UserTokenExpired.
    const before = delegation().forJob(recordOf(newJob(), who, {}), async () => undefined, log);
    const error = await thrown(before.token());
    expect((error as JobFailure).details.errorCode).toBe('UserTokenExpired');
  });

  it('never writes a token into a log line', async () => {
    const who = caller();
    const job = newJob();
    const sealed = await delegation().preflight(job, who, log);
    await delegation()
      .forJob(recordOf(job, who, sealed), async () => undefined, log)
      .token();
    endpoint.failure = 'mfa';
    await thrown(delegation().preflight(newJob(), caller(), log));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toMatch(/eyJ[\w-]+\./);
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain(sealed.userAssertion!);
    }
  });
});
