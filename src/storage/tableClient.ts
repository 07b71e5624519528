import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { keyValuePairs, type TableConnection } from './connections';
import { createCredential } from './credential';
import { isLoopbackHost, tryParseUrl } from '../url';

/**
 * Few, short retries: Fabric polls about once a minute, so a quick 503 with
 * Retry-After beats a request that hangs on the SDK's default back-off.
 */
export const TABLE_RETRY_OPTIONS = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 };

type Env = Record<string, string | undefined>;

/** Builds the one TableClient of the process. */
export function createTableClient(connection: TableConnection, tableName: string, env: Env = process.env): TableClient {
  const options: TableServiceClientOptions = { retryOptions: TABLE_RETRY_OPTIONS };
  if (connection.kind === 'connectionString') {
    options.allowInsecureConnection = isLoopbackConnectionString(connection.connectionString);
    return TableClient.fromConnectionString(connection.connectionString, tableName, options);
  }
  const url = tryParseUrl(connection.endpoint);
  options.allowInsecureConnection = url !== undefined && url.protocol === 'http:' && isLoopbackHost(url.hostname);
  return new TableClient(
    connection.endpoint,
    tableName,
    createCredential(connection.managedIdentityClientId, env),
    options,
  );
}

/** True when the string points at Azurite on this machine: only then is plain http allowed. */
export function isLoopbackConnectionString(connectionString: string): boolean {
  const parts = keyValuePairs(connectionString);
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return true;
  const endpoint = tryParseUrl(parts.get('tableendpoint') ?? '');
  return endpoint !== undefined && isLoopbackHost(endpoint.hostname);
}
