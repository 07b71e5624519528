import type {
  ClientAssertionCallback,
  ConfidentialClientApplication,
  Configuration,
  NodeAuthOptions,
} from '@azure/msal-node';
import { isGuid } from '../ids';
import type { LineLog } from '../telemetry/log';
import type { ClientCredential } from './clientCredential';
import { offlineAuthority } from './offlineAuthority';
import { tokenFailure } from './tokenFailure';
import { TokenHttpClient, type TokenHttpClientOptions } from './tokenHttpClient';

/** The one seam through which the app gets tokens for other APIs: for the calling user, or for itself. */
export interface TokenBroker {
  /**
   * On behalf of the caller (Entra's OBO flow in the caller's tenant), from
   * the subject token Fabric sent. Repeated requests are served from MSAL's
   * cache. Throws a FabricError: 401 AuthUIRequired when the user must act,
   * 503 TokenServiceUnavailable, else 500.
   */
  forUser(
    caller: UserAssertion,
    scopes: readonly string[],
    options?: BrokerCallOptions & { claims?: string },
  ): Promise<BrokerToken>;
  /** App-only (client credentials) in the publisher tenant; scopes such as `https://storage.azure.com/.default`. */
  forApp(scopes: readonly string[], options?: BrokerCallOptions): Promise<BrokerToken>;
}

export interface BrokerCallOptions {
  /** Where this request's lines go (a request's or a job's log); default the broker's own. */
  log?: LineLog;
}

export interface UserAssertion {
  /** The subject token of Fabric's SubjectAndApp header, already validated. */
  subjectToken: string;
  /** Its `tid`. */
  tenantId: string;
}

export interface BrokerToken {
  token: string;
  expiresOn: Date;
}

export interface TokenBrokerOptions {
  /** An https origin (ENTRA_AUTHORITY_HOST). */
  authorityHost: string;
  /** The workload app (WORKLOAD_CLIENT_ID). */
  clientId: string;
  /** Where app-only tokens are asked for (PUBLISHER_TENANT_ID). */
  publisherTenantId: string;
  credential: ClientCredential;
  /** MSAL's warnings and errors (it logs no personal data or tokens: piiLoggingEnabled is off). */
  log?: LineLog;
  http?: TokenHttpClientOptions;
  /** How many tenants' client applications (each with its own token cache) are kept; default 200. */
  maxTenants?: number;
}

/** The audience of a managed identity's token that Entra takes as a federated client assertion. */
export const TOKEN_EXCHANGE_SCOPE = 'api://AzureADTokenExchange/.default';
const DEFAULT_MAX_TENANTS = 200;

type Msal = typeof import('@azure/msal-node');

/**
 * The token broker over MSAL Node: one ConfidentialClientApplication per
 * tenant authority, least recently used dropped past `maxTenants`, each told
 * its authority's metadata so that MSAL makes no discovery call.
 * @azure/msal-node is loaded on the first token request, not at start.
 */
export function createTokenBroker(options: TokenBrokerOptions): TokenBroker {
  const apps = new Map<string, ConfidentialClientApplication>();
  const maxTenants = options.maxTenants ?? DEFAULT_MAX_TENANTS;
  const network = new TokenHttpClient(options.http);
  let credential: Partial<NodeAuthOptions> | undefined;

  const appFor = (tenantId: string): ConfidentialClientApplication => {
    const key = tenantId.toLowerCase();
    const known = apps.get(key);
    if (known) {
      apps.delete(key); // most recently used last
      apps.set(key, known);
      return known;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const msal = require('@azure/msal-node') as Msal;
    credential ??= clientAuthOptions(options.credential);
    const configuration: Configuration = {
      auth: { clientId: options.clientId, ...offlineAuthority(options.authorityHost, key), ...credential },
      system: {
        networkClient: network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: msal.LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level === msal.LogLevel.Error) options.log?.error(`MSAL: ${message}`);
            else if (level === msal.LogLevel.Warning) options.log?.warn(`MSAL: ${message}`);
          },
        },
      },
    };
    const app = new msal.ConfidentialClientApplication(configuration);
    apps.set(key, app);
    if (apps.size > maxTenants) apps.delete(apps.keys().next().value as string);
    return app;
  };

  return {
    async forUser(caller, scopes, { claims, log = options.log } = {}) {
      checkScopes(scopes);
      if (!isGuid(caller.tenantId)) throw new TypeError('the caller tenant must be a GUID');
      if (caller.subjectToken === '') throw new TypeError('an on-behalf-of request needs the subject token');
      const what = `on-behalf-of token in tenant ${caller.tenantId.toLowerCase()} for ${scopes.join(' ')}`;
      try {
        const result = await appFor(caller.tenantId).acquireTokenOnBehalfOf({
          oboAssertion: caller.subjectToken,
          scopes: [...scopes],
          ...(claims ? { claims } : {}),
        });
        return answer(result, what, log);
      } catch (error) {
        throw failed(error, scopes, what, log);
      }
    },
    async forApp(scopes, { log = options.log } = {}) {
      checkScopes(scopes);
      const what = `app token in tenant ${options.publisherTenantId} for ${scopes.join(' ')}`;
      try {
        const result = await appFor(options.publisherTenantId).acquireTokenByClientCredential({
          scopes: [...scopes],
        });
        return answer(result, what, log);
      } catch (error) {
        throw failed(error, scopes, what, log);
      }
    },
  };
}

function checkScopes(scopes: readonly string[]): void {
  if (scopes.length === 0 || scopes.some((scope) => !/^\S+$/.test(scope))) {
    throw new TypeError('scopes must be one or more strings without spaces');
  }
}

type MsalResult = { accessToken: string; expiresOn: Date | null; fromCache: boolean } | null;

/** One line per token, saying where it came from; never the token. */
function answer(result: MsalResult, what: string, log: LineLog | undefined): BrokerToken {
  if (!result?.accessToken) throw new Error('MSAL answered without an access token');
  log?.info(`${what}: ${result.fromCache ? "from MSAL's cache" : 'from Entra ID'}`);
  return { token: result.accessToken, expiresOn: result.expiresOn ?? new Date(0) };
}

/** The FabricError to throw, its log detail written first (our text and Entra's, escaped; never a token). */
function failed(error: unknown, scopes: readonly string[], what: string, log: LineLog | undefined): Error {
  const fabricError = tokenFailure(error, scopes, what);
  log?.warn(fabricError.logDetail ?? fabricError.message);
  return fabricError;
}

/** The `auth` options of the app's client credential; @azure/identity is loaded on the managed identity path only. */
function clientAuthOptions(credential: ClientCredential): Partial<NodeAuthOptions> {
  switch (credential.kind) {
    case 'secret':
      return { clientSecret: credential.secret };
    case 'certificate':
      return {
        clientCertificate: {
          thumbprintSha256: credential.thumbprintSha256,
          privateKey: credential.privateKeyPem,
          x5c: credential.x5c,
        },
      };
    case 'managedIdentity': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const identity = require('@azure/identity') as typeof import('@azure/identity');
      const managedIdentity = new identity.ManagedIdentityCredential({ clientId: credential.managedIdentityClientId });
      const clientAssertion: ClientAssertionCallback = async () => {
        const token = await managedIdentity.getToken(TOKEN_EXCHANGE_SCOPE);
        return token.token;
      };
      return { clientAssertion };
    }
  }
}
