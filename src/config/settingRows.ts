import { isGuid } from '../ids';
import { isLoopbackHost, tryParseUrl } from '../url';

/** Whether a setting must be set: always, one of a group, or never. */
export type Requirement = 'yes' | 'no' | 'one of these two';

/**
 * One setting the app reads: its name, whether it is required, its default
 * and what it is for. SETTING_ROWS is the one list: the readers below take
 * defaults from it, SETTINGS and the settings table of docs/settings.md are
 * derived from it, and tests hold local.settings.sample.json and infra/ to it.
 */
export interface SettingRow {
  name: string;
  required: Requirement;
  /** What an unset value means, as the docs say it. */
  default?: string;
  /** A whole number: its bounds, default and unit, which the reader checks and the docs table states. */
  number?: WholeNumber;
  /** The value an unset text setting takes (shown as its default in the docs). */
  fallback?: string;
  /** The setting's own check of a value (set or fallback): the problem, or undefined when it is well-formed. */
  check?: (value: string) => string | undefined;
  meaning: string;
  /**
   * A part of a Functions identity-based connection (`JobQueue__…`): read by the
   * app, documented, but not in local.settings.sample.json, where the
   * connection string form is used.
   */
  connectionPart?: true;
}

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
// Azure Storage queue names: 3-63 lower-case letters, digits and single hyphens; room for "-poison".
const QUEUE_NAME = /^(?=.{3,56}$)[a-z0-9]+(-[a-z0-9]+)*$/;

const guid = (name: string) => (value: string) => (isGuid(value) ? undefined : `${name} must be a GUID`);
const tableName = (name: string) => (value: string) =>
  TABLE_NAME.test(value) ? undefined : `${name} must be 3-63 letters or digits, starting with a letter`;

/** https anywhere, plain http only on this machine. */
export const httpsOrLoopback = (name: string) => (value: string) => {
  const url = tryParseUrl(value);
  return url && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    ? undefined
    : `${name} must be an https URL (http is allowed only for a loopback host)`;
};

/** https only (tokens are sent there), loopback included. */
const httpsOnly = (name: string) => (value: string) => {
  const url = tryParseUrl(value);
  return url?.protocol === 'https:' && !url.username && !url.password && !url.search && !url.hash
    ? undefined
    : `${name} must be an https URL with no query`;
};

/** The shortest key text taken: 43 characters of base64 carry 256 bits. */
export const MIN_ASSERTION_KEY_LENGTH = 43;

/**
 * App Service and Functions pass a Key Vault reference they could not resolve
 * on as its own text, `@Microsoft.KeyVault(...)`: long enough to pass for a
 * key, and public. Such a value is refused, never used as a key.
 */
const UNRESOLVED_KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

const assertionKey = (name: string) => (value: string) =>
  UNRESOLVED_KEY_VAULT_REFERENCE.test(value)
    ? `${name} is a Key Vault reference the platform could not resolve: check that the secret exists and that the identity named by keyVaultReferenceIdentity may read it (Key Vault Secrets User)`
    : value.trim().length >= MIN_ASSERTION_KEY_LENGTH
      ? undefined
      : `${name} must be ${MIN_ASSERTION_KEY_LENGTH} or more characters of random text (e.g. 32 random bytes in base64)`;

function isPlainHttpsOrigin(value: string): boolean {
  const url = tryParseUrl(value);
  return Boolean(
    url &&
    url.protocol === 'https:' &&
    url.pathname === '/' &&
    !url.search &&
    !url.hash &&
    !url.username &&
    !url.password,
  );
}

export interface WholeNumber {
  min: number;
  max: number;
  default: number;
  unit: string;
}

export const SETTING_ROWS: readonly SettingRow[] = [
  {
    name: 'PUBLISHER_TENANT_ID',
    required: 'yes',
    check: guid('PUBLISHER_TENANT_ID'),
    meaning: "tenant of the workload's Entra app; the app token's `tid` must equal it",
  },
  {
    name: 'WORKLOAD_CLIENT_ID',
    required: 'yes',
    check: guid('WORKLOAD_CLIENT_ID'),
    meaning: "the workload's Entra app (client) id; audience of v2.0 tokens",
  },
  {
    name: 'WORKLOAD_AUDIENCE',
    required: 'yes',
    // An Application ID URI always has a scheme; this catches a client id or a placeholder in its place.
    check: (value) =>
      /^[a-z][a-z0-9+.-]*:/i.test(value)
        ? undefined
        : 'WORKLOAD_AUDIENCE must be the Application ID URI, an absolute URI such as api://… or https://…',
    meaning: "the workload app's Application ID URI (an absolute URI, e.g. `api://…`); audience of v1.0 tokens",
  },
  {
    name: 'ENTRA_AUTHORITY_HOST',
    required: 'no',
    fallback: 'https://login.microsoftonline.com',
    check: (value) =>
      isPlainHttpsOrigin(value)
        ? undefined
        : 'ENTRA_AUTHORITY_HOST must be an https URL with no path, e.g. https://login.microsoftonline.com',
    meaning: 'https, no path',
  },
  {
    name: 'ENTRA_JWKS_URI',
    required: 'no',
    default: '`{authority}/common/discovery/v2.0/keys`',
    check: httpsOrLoopback('ENTRA_JWKS_URI'),
    meaning: 'https unless the host is loopback',
  },
  {
    name: 'WORKLOAD_CLIENT_CREDENTIAL',
    required: 'no',
    meaning:
      "how the workload app proves itself to Entra ID when it asks for tokens on the user's behalf: `managedIdentity` (keyless, for Azure), `certificate`, or `secret` (development only, refused inside Azure); unset: acting for the user is off",
  },
  {
    name: 'WORKLOAD_MANAGED_IDENTITY_CLIENT_ID',
    required: 'no',
    default: '`AZURE_CLIENT_ID`',
    meaning:
      'with `managedIdentity`: the user-assigned managed identity federated with the workload app (its token for `api://AzureADTokenExchange` is the client assertion)',
  },
  {
    name: 'WORKLOAD_CLIENT_CERTIFICATE',
    required: 'no',
    meaning:
      'with `certificate`: PEM text of the certificate registered on the workload app and its unencrypted RSA private key (a Key Vault reference)',
  },
  {
    name: 'WORKLOAD_CLIENT_SECRET',
    required: 'no',
    meaning: 'with `secret`: a client secret of the workload app, for development only',
  },
  {
    name: 'ENTRA_TOKEN_HOST',
    required: 'no',
    default: '`ENTRA_AUTHORITY_HOST`',
    check: (value) =>
      isPlainHttpsOrigin(value)
        ? undefined
        : 'ENTRA_TOKEN_HOST must be an https URL with no path, e.g. https://login.microsoftonline.com',
    meaning:
      "where the app asks Entra ID for tokens on the user's behalf (https, no path); the development stack points it at its loopback token endpoint",
  },
  {
    name: 'USER_ASSERTION_KEY',
    required: 'no',
    check: assertionKey('USER_ASSERTION_KEY'),
    meaning:
      "encrypts the copy of the user's token that a running job of a job type with scopes keeps on its row (AES-256-GCM): 43 or more characters of random text, on Azure a Key Vault reference; required when a job type declares scopes",
  },
  {
    name: 'USER_ASSERTION_KEY_PREVIOUS',
    required: 'no',
    check: assertionKey('USER_ASSERTION_KEY_PREVIOUS'),
    meaning:
      'the key `USER_ASSERTION_KEY` had before a rotation: rows sealed under it are still read (and resealed under the current key by the next refresh)',
  },
  {
    name: 'ONELAKE_ENDPOINT',
    required: 'no',
    fallback: 'https://onelake.blob.fabric.microsoft.com',
    check: httpsOnly('ONELAKE_ENDPOINT'),
    meaning: "OneLake's Blob endpoint, where a job handler's OneLake client reads and writes its item's folder",
  },
  {
    name: 'FABRIC_API_URL',
    required: 'no',
    fallback: 'https://api.fabric.microsoft.com/v1',
    check: httpsOnly('FABRIC_API_URL'),
    meaning: "Fabric's REST API, which a job handler's Fabric client calls for the user",
  },
  {
    name: 'JOB_STATE_TABLE_ENDPOINT',
    required: 'one of these two',
    meaning: 'e.g. `https://<account>.table.core.windows.net`, with managed identity',
  },
  {
    name: 'JOB_STATE_TABLE_CONNECTION_STRING',
    required: 'one of these two',
    meaning: 'e.g. `UseDevelopmentStorage=true` for Azurite',
  },
  {
    name: 'AZURE_CLIENT_ID',
    required: 'no',
    meaning: 'client id of a user-assigned managed identity (with `JOB_STATE_TABLE_ENDPOINT`)',
  },
  {
    name: 'JOB_STATE_TABLE_NAME',
    required: 'no',
    fallback: 'JobInstances',
    check: tableName('JOB_STATE_TABLE_NAME'),
    meaning: 'the job-state table',
  },
  {
    name: 'ITEMS_TABLE_NAME',
    required: 'no',
    fallback: 'Items',
    check: tableName('ITEMS_TABLE_NAME'),
    meaning: 'the items table, in the same storage account',
  },
  {
    name: 'JobQueue',
    required: 'no',
    meaning:
      "the job queue's connection string (`UseDevelopmentStorage=true` for Azurite), read by the queue trigger and by Create alike; this or `JobQueue__queueServiceUri` is needed",
  },
  {
    name: 'JobQueue__queueServiceUri',
    required: 'no',
    meaning:
      'the Functions identity-based connection instead of `JobQueue`: e.g. `https://<account>.queue.core.windows.net`',
    connectionPart: true,
  },
  {
    name: 'JobQueue__credential',
    required: 'no',
    meaning: '`managedidentity` (or unset), with `JobQueue__queueServiceUri`',
    connectionPart: true,
  },
  {
    name: 'JobQueue__clientId',
    required: 'no',
    meaning: 'the user-assigned identity of `JobQueue__queueServiceUri`',
    connectionPart: true,
  },
  {
    name: 'JOB_QUEUE_NAME',
    required: 'no',
    fallback: 'job-runs',
    check: (value) =>
      QUEUE_NAME.test(value)
        ? undefined
        : 'JOB_QUEUE_NAME must be 3-56 lower-case letters, digits and single hyphens (its poison queue adds "-poison")',
    meaning: 'its poison queue is `<name>-poison` (3-56 lower-case letters, digits, hyphens)',
  },
  {
    name: 'JOB_HEARTBEAT_SECONDS',
    required: 'no',
    number: { min: 1, max: 300, default: 30, unit: 'seconds' },
    meaning:
      "how often a running job's runner writes its heartbeat (and writes this interval on the row at its claim); a job whose row has gone 4 of its runner's beats without a write, by the storage service's clock, is `Failed JobRunnerLost`",
  },
  {
    name: 'ITEM_DEFINITION_MAX_BYTES',
    required: 'no',
    number: { min: 64 * 1024, max: 16 * 1024 * 1024, default: 4 * 1024 * 1024, unit: 'bytes' },
    meaning:
      "the largest body of the Extensibility Toolkit's calls that carry an item definition; a larger one is `400 InvalidRequestBody`",
  },
  {
    name: 'ENDPOINT_RESOLUTION_URLS',
    required: 'no',
    meaning:
      "a JSON object of lower-case Fabric region names (and `default`) to backend URLs, for Fabric's endpoint resolution (docs/deploy.md)",
  },
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    required: 'no',
    meaning:
      'the Application Insights resource (the Functions host reads it too); with it the app sends its summary lines there itself, each field a custom dimension (docs/operations.md)',
  },
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    required: 'no',
    meaning:
      "`Authorization=AAD` or `Authorization=AAD;ClientId=<GUID>`: send with a managed identity's Entra token, for a resource that refuses keys (as `infra/` deploys it)",
  },
  {
    name: 'SUMMARY_TELEMETRY',
    required: 'no',
    fallback: 'export',
    check: (value) => (value === 'export' || value === 'log' ? undefined : 'SUMMARY_TELEMETRY must be export or log'),
    meaning: '`export` or `log`: `log` keeps the summary lines in the Functions log even with Application Insights',
  },
];

/** The names of SETTING_ROWS by requirement; a Functions connection counts once (`JobQueue`). */
export const SETTINGS = {
  required: names('yes'),
  oneOf: names('one of these two'),
  optional: names('no'),
};

function names(required: Requirement): string[] {
  return SETTING_ROWS.filter((row) => row.required === required && !row.connectionPart).map((row) => row.name);
}

/** The settings table of docs/settings.md, as Markdown: derived from SETTING_ROWS (a test holds the page to it). */
export function settingsTable(): string {
  const lines = ['| setting | required | default | meaning |', '|---|---|---|---|'];
  for (const row of SETTING_ROWS) {
    const { number } = row;
    const meaning = number ? `${number.min} to ${number.max} ${number.unit}: ${row.meaning}` : row.meaning;
    const shown = number
      ? String(number.default)
      : row.fallback !== undefined
        ? `\`${row.fallback}\``
        : (row.default ?? '');
    lines.push(`| \`${row.name}\` | ${row.required} | ${shown} | ${meaning} |`);
  }
  return lines.join('\n');
}

/** The bounds of a whole-number setting, from its row. */
export function wholeNumberOf(name: string): WholeNumber {
  const { number } = rowOf(name);
  if (!number) throw new Error(`${name} is not a whole-number setting`);
  return number;
}

/** A setting's row; every name the readers pass is one. */
export function rowOf(name: string): SettingRow {
  const row = SETTING_ROWS.find((candidate) => candidate.name === name);
  if (!row) throw new Error(`${name} is not a setting of SETTING_ROWS`);
  return row;
}

/** The value an unset text setting takes. */
export function fallbackOf(name: string): string {
  const { fallback } = rowOf(name);
  if (fallback === undefined) throw new Error(`${name} has no fallback`);
  return fallback;
}
