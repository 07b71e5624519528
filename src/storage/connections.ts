/** How the app reaches a storage service: what the settings say, before any client is built. */

/** The tables (jobs and items), in one storage account. */
export type TableConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'endpoint'; endpoint: string; managedIdentityClientId?: string };

/** The job queue, in Azure Functions' connection-setting convention under the prefix `JobQueue`. */
export type QueueConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'serviceUri'; serviceUri: string; managedIdentityClientId?: string };

/** Parses `Name=value;Name=value` (connection and authentication strings); names compared lower-case. */
export function keyValuePairs(text: string): Map<string, string> {
  return new Map(
    text
      .split(';')
      .filter((part) => part.includes('='))
      .map((part) => [part.slice(0, part.indexOf('=')).trim().toLowerCase(), part.slice(part.indexOf('=') + 1).trim()]),
  );
}
