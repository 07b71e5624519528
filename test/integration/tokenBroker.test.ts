/**
 * The token broker, for real: MSAL Node against the development token
 * endpoint on loopback HTTPS, trusted through the broker's own option (no
 * process-wide trust). This file's process runs under dev/loopbackOnly.ts, and
 * every socket it opens is recorded: nothing may leave 127.0.0.0/8.
 */
import '../../dev/loopbackOnly';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readClientCredential, type ClientCredential } from '../../src/auth/clientCredential';
import { createTokenBroker, type TokenBroker } from '../../src/auth/tokenBroker';
import { AuthUIRequiredError, FabricError, InternalError, TokenServiceUnavailableError } from '../../src/fabric/errors';
import { toErrorResponse } from '../../src/fabric/responses';
import {
  MFA_CLAIMS_CHALLENGE,
  workloadAppCertificate,
  startTokenEndpoint,
  TOKEN_EXCHANGE_AUDIENCE,
  type TokenEndpoint,
} from '../../dev/tokenEndpoint';
import { isLoopbackTarget } from '../../dev/loopbackOnly';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { contractValidator } from '../fixtures/contractSchema';
import { IDENTITY, tokenFactory, USER_TENANT } from '../fixtures/tokens';

const STORAGE = ['https://storage.azure.com/user_impersonation'];
const SECRET = 'dev-secret-4f7a9c1e-never-in-a-log';
const MANAGED_IDENTITY_OID = 'f00dcafe-0000-4000-8000-0000000000a1';
const MANAGED_IDENTITY_CLIENT_ID = 'f00dcafe-0000-4000-8000-0000000000c1';

/** Every TCP connection this process opens, by host (recorded after the guard, which refuses the rest). */
const connections: string[] = [];
const guardedConnect = Socket.prototype.connect;
Socket.prototype.connect = function recordingConnect(this: Socket, ...args: unknown[]) {
  const [first] = args as [unknown];
  const options = (Array.isArray(first) ? first[0] : first) as { host?: string; port?: unknown } | number | string;
  if (typeof options === 'object' && options !== null && (options.host !== undefined || options.port !== undefined)) {
    connections.push(options.host ?? 'localhost');
  }
  return (guardedConnect as (...a: unknown[]) => Socket).apply(this, args);
} as typeof Socket.prototype.connect;

const appCertificate = workloadAppCertificate();

let issuer: TokenIssuer;
let endpoint: TokenEndpoint;
let lines: string[];
const tokens = () => tokenFactory(issuer);
const validErrorResponse = contractValidator('ErrorResponse');

function broker(credential: ClientCredential = { kind: 'secret', secret: SECRET }, deadlineMs = 10_000): TokenBroker {
  const log = {
    info: (l: string) => lines.push(l),
    warn: (l: string) => lines.push(l),
    error: (l: string) => lines.push(l),
  };
  return createTokenBroker({
    authorityHost: endpoint.authorityHost,
    clientId: IDENTITY.workloadClientId,
    publisherTenantId: IDENTITY.publisherTenantId,
    credential,
    log,
    http: { trustedCertificates: endpoint.caCertificate, deadlineMs },
  });
}

async function failure(promise: Promise<unknown>): Promise<FabricError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FabricError);
  return error as FabricError;
}

/** Everything of an error that reaches a caller or a log. */
function exposed(error: FabricError): string {
  const answer = toErrorResponse(error);
  return [error.message, error.logDetail, String(answer.body), JSON.stringify(answer.headers)].join('\n');
}

beforeAll(async () => {
  issuer = new TokenIssuer(IDENTITY.authorityHost);
  issuer.addKey();
  endpoint = await startTokenEndpoint(issuer, {
    identity: IDENTITY,
    client: {
      secret: SECRET,
      certificate: appCertificate.registered,
      federatedSubject: MANAGED_IDENTITY_OID,
    },
  });
});
afterAll(() => endpoint.close());
beforeEach(() => {
  lines = [];
  connections.length = 0;
  endpoint.failure = undefined;
});
afterEach(() => {
  // Nothing left loopback, in any test; and no log line carries a token or the secret.
  expect(connections.filter((host) => !isLoopbackTarget(host))).toEqual([]);
  for (const line of lines) {
    expect(line).not.toMatch(/eyJ[\w-]+\./);
    expect(line).not.toContain(SECRET);
  }
  // MSAL asked for nothing but tokens: no instance discovery, no OpenID configuration.
  expect(endpoint.requests.every((r) => r.method === 'POST' && /\/oauth2\/v2\.0\/token$/.test(r.path))).toBe(true);
});

describe('forUser: on behalf of the caller', () => {
  it("answers a token for the resource, the caller's tenant and user, and serves the second request from MSAL's cache", async () => {
    const subject = tokens().subjectClaims();
    const subjectToken = issuer.sign(subject);
    const tokenBroker = broker();
    const before = endpoint.requests.length;
    const first = await tokenBroker.forUser({ subjectToken, tenantId: USER_TENANT }, STORAGE);
    const claims = jwt.verify(first.token, issuer.keys[0].publicKey, { algorithms: ['RS256'] }) as jwt.JwtPayload;
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      iss: `https://sts.windows.net/${USER_TENANT}/`,
      tid: USER_TENANT,
      oid: subject.oid,
      scp: 'user_impersonation',
      appid: IDENTITY.workloadClientId,
    });
    expect(first.expiresOn.getTime()).toBeGreaterThan(Date.now());

    const second = await tokenBroker.forUser({ subjectToken, tenantId: USER_TENANT }, STORAGE);
    expect(second.token).toBe(first.token);
    const received = endpoint.requests.slice(before);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      tenant: USER_TENANT,
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      clientAuth: 'secret',
    });
    expect(lines.filter((l) => l.endsWith("from MSAL's cache"))).toHaveLength(1);
    expect(connections.length).toBeGreaterThan(0);
  });

  it('another user (another assertion) is not served from the first one’s cache entry', async () => {
    const tokenBroker = broker();
    const before = endpoint.requests.length;
    const a = await tokenBroker.forUser({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT }, STORAGE);
    const b = await tokenBroker.forUser({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT }, STORAGE);
    expect(a.token).not.toBe(b.token);
    expect(endpoint.requests.length - before).toBe(2);
  });

  it('authenticates with a certificate (a PS256 client assertion MSAL signs) read from the settings', async () => {
    const problems: string[] = [];
    const credential = readClientCredential(
      (name) => ({ WORKLOAD_CLIENT_CREDENTIAL: 'certificate', WORKLOAD_CLIENT_CERTIFICATE: appCertificate.pem })[name],
      problems,
      {},
    );
    expect(problems).toEqual([]);
    const before = endpoint.requests.length;
    await broker(credential).forUser({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT }, STORAGE);
    const received = endpoint.requests.slice(before);
    expect(received).toMatchObject([{ clientAuth: 'certificate' }]);
    expect(received[0].error).toBeUndefined();
  });

  it('sends a claims challenge to Entra, bypassing the cache', async () => {
    const subjectToken = tokens().subjectToken();
    const tokenBroker = broker();
    await tokenBroker.forUser({ subjectToken, tenantId: USER_TENANT }, STORAGE);
    const before = endpoint.requests.length;
    await tokenBroker.forUser({ subjectToken, tenantId: USER_TENANT }, STORAGE, { claims: MFA_CLAIMS_CHALLENGE });
    expect(endpoint.requests.slice(before)).toHaveLength(1);
    // MSAL merges the challenge with claims of its own (id_token hints).
    expect(JSON.parse(endpoint.requests.at(-1)!.claims!)).toMatchObject(JSON.parse(MFA_CLAIMS_CHALLENGE));
  });

  it('is refused for an assertion the endpoint does not accept (another audience): 500, no token in the error', async () => {
    const subjectToken = tokens().subjectToken({ aud: 'api://someone-else' });
    const error = await failure(broker().forUser({ subjectToken, tenantId: USER_TENANT }, STORAGE));
    expect(error).toBeInstanceOf(InternalError);
    expect(error.logDetail).toContain('AADSTS50013');
    expect(exposed(error)).not.toContain(subjectToken);
    expect(endpoint.requests.at(-1)!.error).toBe('AADSTS50013');
  });
});

describe('forApp: client credentials in the publisher tenant', () => {
  it('answers an app-only token for the resource, then serves it from the cache', async () => {
    const tokenBroker = broker();
    const before = endpoint.requests.length;
    const first = await tokenBroker.forApp(['https://storage.azure.com/.default']);
    const claims = jwt.decode(first.token) as jwt.JwtPayload;
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      tid: IDENTITY.publisherTenantId,
      idtyp: 'app',
      appid: IDENTITY.workloadClientId,
    });
    expect(claims.scp).toBeUndefined();
    expect((await tokenBroker.forApp(['https://storage.azure.com/.default'])).token).toBe(first.token);
    expect(endpoint.requests.slice(before)).toMatchObject([
      { grantType: 'client_credentials', tenant: IDENTITY.publisherTenantId },
    ]);
  });
});

describe('failures, mapped exactly', () => {
  const caller = () => ({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT });

  it('consent required (AADSTS65001): 401 AuthUIRequired with the scopes to consent to', async () => {
    endpoint.failure = 'consent';
    const subject = caller();
    const error = await failure(broker().forUser(subject, STORAGE));
    expect(error).toBeInstanceOf(AuthUIRequiredError);
    const answer = toErrorResponse(error);
    const body = JSON.parse(String(answer.body));
    expect(validErrorResponse(body), JSON.stringify(validErrorResponse.errors)).toBe(true);
    expect(answer.status).toBe(401);
    expect(body).toMatchObject({ errorCode: 'AuthUIRequired', source: 'System', isPermanent: false });
    expect(body.message).toMatch(/^AADSTS65001: The user or administrator has not consented/);
    expect(body.moreDetails[0].additionalParameters).toEqual([
      { name: 'additionalScopesToConsent', value: STORAGE[0] },
    ]);
    expect((answer.headers as Record<string, string>)['WWW-Authenticate']).toBe('Bearer error="invalid_grant"');
    expect(exposed(error)).not.toContain(subject.subjectToken);
    expect(exposed(error)).not.toMatch(/eyJ[\w-]+\./);
  });

  it('MFA (AADSTS50076): 401 AuthUIRequired with the claims challenge in both spellings and the header', async () => {
    endpoint.failure = 'mfa';
    const error = await failure(broker().forUser(caller(), STORAGE));
    const answer = toErrorResponse(error);
    const body = JSON.parse(String(answer.body));
    expect(validErrorResponse(body)).toBe(true);
    expect(body.message).toMatch(/^AADSTS50076: /);
    expect(body.moreDetails[0].additionalParameters).toEqual([
      { name: 'additionalScopesToConsent', value: STORAGE[0] },
      { name: 'claimsForConditionalAccessPolicy', value: MFA_CLAIMS_CHALLENGE },
      { name: 'claimsForCondtionalAccessPolicy', value: MFA_CLAIMS_CHALLENGE },
    ]);
    expect((answer.headers as Record<string, string>)['WWW-Authenticate']).toBe(
      `Bearer claims="${MFA_CLAIMS_CHALLENGE.replace(/["\\]/g, '\\$&')}", error="interaction_required"`,
    );
  });

  it('blocked by Conditional Access (AADSTS53003, a plain ServerError to MSAL): 401 AuthUIRequired', async () => {
    endpoint.failure = 'policy';
    const error = await failure(broker().forUser(caller(), STORAGE));
    expect(error).toBeInstanceOf(AuthUIRequiredError);
    expect(error.message).toMatch(/^AADSTS53003: Access has been blocked by Conditional Access policies/);
    expect(validErrorResponse(JSON.parse(String(toErrorResponse(error).body)))).toBe(true);
  });

  it('Entra answering 503: 503 TokenServiceUnavailable', async () => {
    endpoint.failure = 'unavailable';
    const error = await failure(broker().forUser(caller(), STORAGE));
    expect(error).toBeInstanceOf(TokenServiceUnavailableError);
  });

  it.each(['reset', 'hang'] as const)(
    'the endpoint not answering (%s): 503 TokenServiceUnavailable with Retry-After, within the deadline',
    async (mode) => {
      endpoint.failure = mode;
      const subject = caller();
      // The test's own timeout is the bound's backstop: a hang with no deadline would never settle.
      const error = await failure(broker(undefined, 500).forUser(subject, STORAGE));
      expect(error).toBeInstanceOf(TokenServiceUnavailableError);
      const answer = toErrorResponse(error);
      expect(answer.status).toBe(503);
      expect(Number((answer.headers as Record<string, string>)['Retry-After'])).toBeGreaterThan(0);
      expect(error.logDetail).toContain(mode === 'hang' ? 'no answer within 500 ms' : 'ECONNRESET');
      expect(exposed(error)).not.toContain(subject.subjectToken);
    },
  );

  it('the endpoint closed: 503 TokenServiceUnavailable', async () => {
    const closed = await startTokenEndpoint(issuer, { identity: IDENTITY, client: { secret: SECRET } });
    await closed.close();
    const error = await failure(
      createTokenBroker({
        authorityHost: closed.authorityHost,
        clientId: IDENTITY.workloadClientId,
        publisherTenantId: IDENTITY.publisherTenantId,
        credential: { kind: 'secret', secret: SECRET },
        http: { trustedCertificates: closed.caCertificate },
      }).forApp(['https://storage.azure.com/.default']),
    );
    expect(error).toBeInstanceOf(TokenServiceUnavailableError);
    expect(error.logDetail).toContain('ECONNREFUSED');
  });

  it('a wrong client secret: 500, the secret in no message', async () => {
    const error = await failure(
      broker({ kind: 'secret', secret: 'wrong-secret-value' }).forApp(['https://storage.azure.com/.default']),
    );
    expect(error).toBeInstanceOf(InternalError);
    expect(error.logDetail).toContain('AADSTS7000215');
    expect(exposed(error)).not.toContain('wrong-secret-value');
  });
});

describe('the keyless credential: a managed identity token as the client assertion', () => {
  let identityServer: Server;
  let assertions: string[];

  beforeAll(async () => {
    assertions = [];
    // Azure App Service's managed identity endpoint (IDENTITY_ENDPOINT, X-IDENTITY-HEADER), on loopback.
    identityServer = createServer((req, res) => {
      const url = new URL(req.url ?? '', 'http://127.0.0.1');
      if (
        req.headers['x-identity-header'] !== 'local-identity-header' ||
        url.searchParams.get('client_id') !== MANAGED_IDENTITY_CLIENT_ID
      ) {
        res.writeHead(400).end('{}');
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const token = issuer.sign({
        aud: url.searchParams.get('resource'),
        iss: `${IDENTITY.authorityHost}/${IDENTITY.publisherTenantId}/v2.0`,
        sub: MANAGED_IDENTITY_OID,
        oid: MANAGED_IDENTITY_OID,
        tid: IDENTITY.publisherTenantId,
        iat: now,
        nbf: now,
        exp: now + 3600,
        ver: '2.0',
      });
      assertions.push(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          access_token: token,
          expires_on: String(now + 3600),
          resource: url.searchParams.get('resource'),
          token_type: 'Bearer',
        }),
      );
    });
    await new Promise<void>((resolve) => identityServer.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    return new Promise<void>((resolve) => identityServer.close(() => resolve()));
  });

  it('gets an on-behalf-of token with the federated assertion, which appears in no log line or error', async () => {
    vi.stubEnv('IDENTITY_ENDPOINT', `http://127.0.0.1:${(identityServer.address() as AddressInfo).port}/msi/token`);
    vi.stubEnv('IDENTITY_HEADER', 'local-identity-header');
    const tokenBroker = broker({ kind: 'managedIdentity', managedIdentityClientId: MANAGED_IDENTITY_CLIENT_ID });
    const before = endpoint.requests.length;
    const token = await tokenBroker.forUser({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT }, STORAGE);
    expect((jwt.decode(token.token) as jwt.JwtPayload).aud).toBe('https://storage.azure.com');
    expect(endpoint.requests.slice(before)).toMatchObject([{ clientAuth: 'federated' }]);
    expect(assertions.length).toBeGreaterThan(0);
    expect((jwt.decode(assertions[0]) as jwt.JwtPayload).aud).toBe(TOKEN_EXCHANGE_AUDIENCE);
    endpoint.failure = 'consent';
    const error = await failure(
      tokenBroker.forUser({ subjectToken: tokens().subjectToken(), tenantId: USER_TENANT }, STORAGE),
    );
    for (const assertion of assertions) {
      expect(exposed(error)).not.toContain(assertion);
      for (const line of lines) expect(line).not.toContain(assertion);
    }
  });
});

describe('the guard (a check of the check)', () => {
  it('sees and refuses a connection off loopback: a broker pointed at Entra itself fails 503 here', async () => {
    const error = await failure(
      createTokenBroker({
        authorityHost: 'https://login.microsoftonline.com',
        clientId: IDENTITY.workloadClientId,
        publisherTenantId: IDENTITY.publisherTenantId,
        credential: { kind: 'secret', secret: SECRET },
      }).forApp(['https://storage.azure.com/.default']),
    );
    expect(error).toBeInstanceOf(TokenServiceUnavailableError);
    expect(connections).toEqual(['login.microsoftonline.com']);
    connections.length = 0; // seen and refused; the afterEach checks the others
  });
});
