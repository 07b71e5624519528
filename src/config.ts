import { isGuid } from './guid';
import { isLoopbackHost, tryParseUrl } from './url';

export type TableConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'endpoint'; endpoint: string; managedIdentityClientId?: string };

export interface Config {
  /** Lowercase. The app token's tid must equal it. */
  publisherTenantId: string;
  /** Audience of v2.0 tokens. */
  workloadClientId: string;
  /** Audience of v1.0 tokens (the Application ID URI). */
  workloadAudience: string;
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  entraAuthorityHost: string;
  entraJwksUri: string;
  table: TableConnection;
  tableName: string;
}

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_TABLE_NAME = 'JobInstances';
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads and checks every setting of DESIGN.md at once. Throws one ConfigError
 * naming every problem, so a bad deployment fails at start, not per request.
 */
export function readConfig(env: Env): Config {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const required = (name: string): string => {
    const raw = value(name);
    if (raw === undefined) problems.push(`${name} is required`);
    return raw ?? '';
  };
  const guid = (name: string, raw: string): string => {
    if (raw !== '' && !isGuid(raw)) problems.push(`${name} must be a GUID`);
    return raw.toLowerCase();
  };

  const publisherTenantId = guid('PUBLISHER_TENANT_ID', required('PUBLISHER_TENANT_ID'));
  const workloadClientId = guid('WORKLOAD_CLIENT_ID', required('WORKLOAD_CLIENT_ID'));
  const workloadAudience = required('WORKLOAD_AUDIENCE');

  const authority = value('ENTRA_AUTHORITY_HOST') ?? DEFAULT_AUTHORITY_HOST;
  const authorityUrl = tryParseUrl(authority);
  if (!authorityUrl || authorityUrl.protocol !== 'https:' || authorityUrl.pathname !== '/' || authorityUrl.search || authorityUrl.hash) {
    problems.push('ENTRA_AUTHORITY_HOST must be an https URL with no path, e.g. https://login.microsoftonline.com');
  }
  const entraAuthorityHost = authority.replace(/\/+$/, '');

  const entraJwksUri = value('ENTRA_JWKS_URI') ?? `${entraAuthorityHost}/common/discovery/v2.0/keys`;
  const jwksUrl = tryParseUrl(entraJwksUri);
  if (!jwksUrl || !(jwksUrl.protocol === 'https:' || (jwksUrl.protocol === 'http:' && isLoopbackHost(jwksUrl.hostname)))) {
    problems.push('ENTRA_JWKS_URI must be an https URL (http is allowed only for a loopback host)');
  }

  const table = readTableConnection(value, problems);
  const tableName = value('JOB_STATE_TABLE_NAME') ?? DEFAULT_TABLE_NAME;
  if (!TABLE_NAME.test(tableName)) {
    problems.push('JOB_STATE_TABLE_NAME must be 3-63 letters or digits, starting with a letter');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { publisherTenantId, workloadClientId, workloadAudience, entraAuthorityHost, entraJwksUri, table, tableName };
}

function readTableConnection(value: (name: string) => string | undefined, problems: string[]): TableConnection {
  const endpoint = value('JOB_STATE_TABLE_ENDPOINT');
  const connectionString = value('JOB_STATE_TABLE_CONNECTION_STRING');
  if (endpoint !== undefined && connectionString !== undefined) {
    problems.push('set only one of JOB_STATE_TABLE_ENDPOINT and JOB_STATE_TABLE_CONNECTION_STRING');
  }
  if (connectionString !== undefined) return { kind: 'connectionString', connectionString };
  if (endpoint === undefined) {
    problems.push('one of JOB_STATE_TABLE_ENDPOINT or JOB_STATE_TABLE_CONNECTION_STRING is required');
    return { kind: 'connectionString', connectionString: '' };
  }
  const url = tryParseUrl(endpoint);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) {
    problems.push('JOB_STATE_TABLE_ENDPOINT must be an https URL (http is allowed only for a loopback host)');
  }
  const managedIdentityClientId = value('AZURE_CLIENT_ID');
  if (managedIdentityClientId !== undefined && !isGuid(managedIdentityClientId)) {
    problems.push('AZURE_CLIENT_ID must be a GUID (the client id of a user-assigned managed identity)');
  }
  return { kind: 'endpoint', endpoint: endpoint.replace(/\/+$/, ''), managedIdentityClientId };
}
