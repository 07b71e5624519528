/**
 * Entra ID's token endpoint on loopback HTTPS, for the token broker's tests
 * and the local stack: `POST /{tenant}/oauth2/v2.0/token` with the
 * on-behalf-of grant and client credentials, answering tokens the
 * development issuer signs, or Entra's errors, switchable per test.
 *
 * TLS with a self-signed certificate for 127.0.0.1 made at start
 * (dev/x509.ts); a client trusts it through `caCertificate`, given to its own
 * requests (the broker's `http.trustedCertificates`), nothing process-wide.
 * Or, with `tls`, the stack's development certificate (dev/devTls.ts), which
 * processes trust through NODE_EXTRA_CA_CERTS like every loopback HTTPS
 * service of the stack.
 * There is no OpenID configuration document: MSAL is told the authority's
 * metadata (src/auth/offlineAuthority.ts) and must never ask; every request
 * is recorded, so a test sees that it did not.
 */
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { isLoopbackHost } from '../src/url';
import type { WorkloadIdentity } from './fabricTokens';
import { assertOutsideAzure, type TokenIssuer } from './tokenIssuer';
import { certificatePem, selfSignedCertificate } from './x509';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

/**
 * consent: AADSTS65001 (invalid_grant, suberror consent_required); mfa: AADSTS50076 with a claims
 * challenge (interaction_required); policy: AADSTS53003, blocked by Conditional Access (invalid_grant,
 * no suberror); unavailable: 503 temporarily_unavailable; reset: the connection dropped; hang: never answer.
 */
export type TokenFailure = 'consent' | 'mfa' | 'policy' | 'unavailable' | 'reset' | 'hang';

/** The claims challenge the `mfa` failure sends. */
export const MFA_CLAIMS_CHALLENGE =
  '{"access_token":{"capolids":{"essential":true,"values":["c1a1b2c3-0000-4000-8000-00000000c0a1"]}}}';

/** The workload app's credentials as registered with this endpoint. */
export interface RegisteredClient {
  secret?: string;
  /** The public key of a certificate registered on the app (MSAL signs PS256, names it by x5t#S256). */
  certificate?: { publicKey: KeyObject; thumbprintSha256: string };
  /** A federated credential: the managed identity whose issuer-signed token (aud api://AzureADTokenExchange) is accepted. */
  federatedSubject?: string;
}

/** What a request carried, never a token or a secret. */
export interface ReceivedRequest {
  method: string;
  path: string;
  tenant?: string;
  grantType?: string;
  scope?: string;
  clientAuth?: 'secret' | 'certificate' | 'federated' | 'none';
  claims?: string;
  /** For an on-behalf-of token: the user's `oid` (of the assertion), never the assertion. */
  userObjectId?: string;
  /** The Entra error answered, or undefined for a token. */
  error?: string;
}

export interface TokenEndpoint {
  /** https://127.0.0.1:{port}: the authority host MSAL is pointed at. */
  authorityHost: string;
  /** The PEM certificate to trust: the one it serves. */
  caCertificate: string;
  /** Every request received, in order (unknown paths too). */
  readonly requests: readonly ReceivedRequest[];
  /** The failure every token request meets from now on; undefined: tokens. */
  failure: TokenFailure | undefined;
  /** Requests held without an answer (hang). */
  unanswered(): number;
  close(): Promise<void>;
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const MAX_BODY_BYTES = 64 * 1024;

class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    description: string,
    readonly extra: { suberror?: string; claims?: string } = {},
  ) {
    super(`AADSTS${code}: ${description}`);
  }
}

/** Entra's error body: error, error_description starting with the AADSTS code, error_codes, timestamp, ids. */
function errorBody(failure: EntraError): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return {
    error: failure.error,
    error_description: `${failure.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    ...(failure.extra.suberror ? { suberror: failure.extra.suberror } : {}),
    ...(failure.extra.claims ? { claims: failure.extra.claims } : {}),
  };
}

function switchedFailure(failure: TokenFailure, clientId: string, resource: string): EntraError | undefined {
  switch (failure) {
    case 'consent':
      return new EntraError(
        400,
        'invalid_grant',
        65001,
        `The user or administrator has not consented to use the application with ID '${clientId}'. Send an interactive authorization request for this user and resource.`,
        { suberror: 'consent_required' },
      );
    case 'mfa':
      return new EntraError(
        400,
        'interaction_required',
        50076,
        `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}'.`,
        { suberror: 'basic_action', claims: MFA_CLAIMS_CHALLENGE },
      );
    case 'policy':
      return new EntraError(
        400,
        'invalid_grant',
        53003,
        'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.',
      );
    case 'unavailable':
      return new EntraError(503, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.');
    default:
      return undefined;
  }
}

/** `https://storage.azure.com/user_impersonation` → resource and scope name; OIDC scopes dropped; one resource only. */
function parseScopes(raw: string | undefined): { resource: string; names: string[]; granted: string } {
  const scopes = (raw ?? '').split(' ').filter((scope) => scope !== '' && !OIDC_SCOPES.has(scope));
  const parts = scopes.map((scope) => {
    const cut = scope.lastIndexOf('/');
    return cut > 0 ? { resource: scope.slice(0, cut), name: scope.slice(cut + 1) } : undefined;
  });
  const resources = new Set(parts.map((part) => part?.resource));
  if (parts.length === 0 || parts.some((part) => !part || !part.name) || resources.size !== 1) {
    throw new EntraError(
      400,
      'invalid_scope',
      70011,
      `The provided value for the input parameter 'scope' is not valid.`,
    );
  }
  return { resource: parts[0]!.resource, names: parts.map((part) => part!.name), granted: scopes.join(' ') };
}

export interface TokenEndpointOptions {
  identity: WorkloadIdentity;
  client: RegisteredClient;
  host?: string;
  /** 0 or absent: a free port (the tests); npm start's is fixed, so ENTRA_TOKEN_HOST can name it. */
  port?: number;
  /** The PEM certificate and key to serve (dev/devTls.ts); absent: a self-signed certificate made at start. */
  tls?: { cert: string; key: string };
}

export async function startTokenEndpoint(issuer: TokenIssuer, options: TokenEndpointOptions): Promise<TokenEndpoint> {
  assertOutsideAzure();
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host))
    throw new Error(`The development token endpoint listens on loopback only, not on ${host}.`);
  const { identity, client } = options;
  const { cert: caCertificate, key: serverKey } = options.tls ?? selfMadeTls(host);
  const requests: ReceivedRequest[] = [];
  const state: { failure: TokenFailure | undefined } = { failure: undefined };
  const servicePrincipalId = randomUUID();
  let unanswered = 0;
  let origin = '';

  const verifyWith = (token: string, key: KeyObject, algorithms: jwt.Algorithm[], audience: string) =>
    jwt.verify(token, key, { algorithms, audience, clockTolerance: 60 }) as jwt.JwtPayload;

  const issuerKey = (token: string): KeyObject => {
    const kid = jwt.decode(token, { complete: true })?.header.kid;
    const key = issuer.keys.find((candidate) => candidate.kid === kid);
    if (!key) throw new Error('unknown signing key');
    return key.publicKey;
  };

  /** Client authentication: a secret, a certificate's assertion, or a federated (managed identity) assertion. */
  const authenticateClient = (form: URLSearchParams, tokenUrl: string): ReceivedRequest['clientAuth'] => {
    if (form.get('client_id') !== identity.workloadClientId) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id')}' was not found in the directory.`,
      );
    }
    const secret = form.get('client_secret');
    if (secret !== null) {
      if (client.secret === undefined || secret !== client.secret) {
        throw new EntraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      }
      return 'secret';
    }
    const assertion = form.get('client_assertion');
    if (assertion === null || form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
      throw new EntraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const header = jwt.decode(assertion, { complete: true })?.header as
      (jwt.JwtHeader & { 'x5t#S256'?: string }) | undefined;
    try {
      if (header?.['x5t#S256'] !== undefined) {
        if (
          !client.certificate ||
          header['x5t#S256'] !== Buffer.from(client.certificate.thumbprintSha256, 'hex').toString('base64url')
        ) {
          throw new Error('no such certificate');
        }
        const claims = verifyWith(assertion, client.certificate.publicKey, ['PS256', 'RS256'], tokenUrl);
        if (claims.iss !== identity.workloadClientId || claims.sub !== identity.workloadClientId)
          throw new Error('iss/sub');
        return 'certificate';
      }
      const claims = verifyWith(assertion, issuerKey(assertion), ['RS256'], TOKEN_EXCHANGE_AUDIENCE);
      const expectedIssuer = `${identity.authorityHost}/${identity.publisherTenantId}/v2.0`;
      if (
        client.federatedSubject === undefined ||
        claims.iss !== expectedIssuer ||
        claims.sub !== client.federatedSubject
      ) {
        throw new EntraError(
          401,
          'invalid_client',
          70021,
          'No matching federated identity record found for presented assertion.',
        );
      }
      return 'federated';
    } catch (error) {
      if (error instanceof EntraError) throw error;
      throw new EntraError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
  };

  const signAccessToken = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({
      iat: now - 5,
      nbf: now - 5,
      exp: now + 3600,
      uti: randomUUID().replace(/-/g, ''),
      ver: '1.0',
      ...claims,
    });
  };

  const issue = (form: URLSearchParams, tenant: string, record: ReceivedRequest): Record<string, unknown> => {
    const grant = form.get('grant_type');
    const tokenUrl = `${origin}/${tenant}/oauth2/v2.0/token`;
    if (grant !== JWT_BEARER_GRANT && grant !== 'client_credentials') {
      throw new EntraError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    }
    record.clientAuth = authenticateClient(form, tokenUrl);
    const scopes = parseScopes(form.get('scope') ?? undefined);
    const failure = state.failure && switchedFailure(state.failure, identity.workloadClientId, scopes.resource);
    if (failure) throw failure;
    const common = {
      aud: scopes.resource,
      iss: `https://sts.windows.net/${tenant}/`,
      tid: tenant,
      appid: identity.workloadClientId,
      appidacr: record.clientAuth === 'secret' ? '1' : '2',
    };
    if (grant === 'client_credentials') {
      if (scopes.names.length !== 1 || scopes.names[0] !== '.default') {
        throw new EntraError(
          400,
          'invalid_scope',
          1002012,
          'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
        );
      }
      const token = signAccessToken({ ...common, idtyp: 'app', oid: servicePrincipalId, sub: servicePrincipalId });
      return { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token };
    }
    if (form.get('requested_token_use') !== 'on_behalf_of') {
      throw new EntraError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'requested_token_use'.",
      );
    }
    const user = verifyAssertion(form.get('assertion') ?? '', tenant);
    if (typeof user.oid === 'string') record.userObjectId = user.oid;
    const scp = scopes.names.map((name) => (name === '.default' ? 'user_impersonation' : name)).join(' ');
    const token = signAccessToken({ ...common, oid: user.oid, sub: user.sub, name: user.name, scp });
    return { token_type: 'Bearer', scope: scopes.granted, expires_in: 3599, ext_expires_in: 3599, access_token: token };
  };

  /** The user's token: the issuer's signature, the workload app's audience, alive, of this tenant. */
  const verifyAssertion = (assertion: string, tenant: string): jwt.JwtPayload => {
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(assertion, issuerKey(assertion), {
        algorithms: ['RS256'],
        audience: [identity.workloadClientId, identity.workloadAudience],
        clockTolerance: 60,
      }) as jwt.JwtPayload;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) {
        throw new EntraError(400, 'invalid_grant', 500133, 'Assertion is not within its valid time range.');
      }
      throw new EntraError(400, 'invalid_grant', 50013, 'Assertion failed signature validation.');
    }
    const issuers = [`https://sts.windows.net/${tenant}/`, `${identity.authorityHost}/${tenant}/v2.0`];
    if (claims.tid !== tenant || !issuers.includes(String(claims.iss))) {
      throw new EntraError(
        400,
        'invalid_grant',
        50013,
        'Assertion audience or issuer does not match the tenant of the request.',
      );
    }
    return claims;
  };

  const server: Server = createServer({ key: serverKey, cert: caCertificate }, (req, res) => {
    const record: ReceivedRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] };
    requests.push(record);
    const match = /^\/([0-9a-f-]{36}|common|organizations)\/oauth2\/v2\.0\/token$/i.exec(record.path);
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end();
      return;
    }
    record.tenant = match[1].toLowerCase();
    if (state.failure === 'reset') {
      req.socket.destroy();
      return;
    }
    if (state.failure === 'hang') {
      unanswered++;
      res.on('close', () => unanswered--);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      record.grantType = form.get('grant_type') ?? undefined;
      record.scope = form.get('scope') ?? undefined;
      record.claims = form.get('claims') ?? undefined;
      const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
      try {
        const body = issue(form, record.tenant!, record);
        res.writeHead(200, headers).end(JSON.stringify(body));
      } catch (error) {
        const failure =
          error instanceof EntraError
            ? error
            : new EntraError(500, 'server_error', 50000, 'There was an error issuing a token.');
        record.error = `AADSTS${failure.code}`;
        res.writeHead(failure.status, headers).end(JSON.stringify(errorBody(failure)));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  origin = `https://${host}:${(server.address() as AddressInfo).port}`;
  return {
    authorityHost: origin,
    caCertificate,
    requests,
    get failure() {
      return state.failure;
    },
    set failure(value: TokenFailure | undefined) {
      state.failure = value;
    },
    unanswered: () => unanswered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A P-256 key and a self-signed certificate for `host`, both PEM. */
function selfMadeTls(host: string): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = selfSignedCertificate(privateKey, 'local token endpoint', host);
  return {
    cert: certificatePem(der),
    key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/**
 * A certificate and its RSA key for the workload app: `registered`, what the
 * endpoint's `client.certificate` takes; `pem`, what WORKLOAD_CLIENT_CERTIFICATE
 * holds (the certificate and the key, PEM).
 */
export function workloadAppCertificate(): {
  registered: { publicKey: KeyObject; thumbprintSha256: string };
  pem: string;
} {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = selfSignedCertificate(rsa.privateKey, 'workload app');
  return {
    registered: { publicKey: rsa.publicKey, thumbprintSha256: certificateThumbprint(der) },
    pem: certificatePem(der) + rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** The SHA-256 thumbprint (hex) of a base64 DER certificate, as MSAL's `thumbprintSha256` takes it. */
export function certificateThumbprint(base64Der: string): string {
  return createHash('sha256').update(Buffer.from(base64Der, 'base64')).digest('hex');
}
