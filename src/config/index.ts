import { isGuid } from '../ids';
import { tryParseUrl } from '../url';
import { cutText } from '../text';
import { fallbackOf } from './settingRows';
import { SettingsReader, type Env } from './settingsReader';
import { keyValuePairs, type QueueConnection, type TableConnection } from '../storage/connections';
import { readClientCredential, type ClientCredential } from '../auth/clientCredential';
import type { TelemetryConfig } from '../telemetry/summaryWriter';

export type { QueueConnection, TableConnection, TelemetryConfig };
export { ConfigError } from './settingsReader';
export { SETTING_ROWS, SETTINGS, settingsTable, type Requirement, type SettingRow } from './settingRows';

/** Where job state rows live: all a job runner or the CLI needs. */
export interface TableConfig {
  table: TableConnection;
  tableName: string;
}

export interface QueueConfig {
  queue: QueueConnection;
  /** The job queue; its poison queue is `${queueName}-poison`. */
  queueName: string;
}

export interface Config extends TableConfig, QueueConfig {
  /** Lowercase. The app token's tid must equal it. */
  publisherTenantId: string;
  /** Audience of v2.0 tokens. */
  workloadClientId: string;
  /** Audience of v1.0 tokens (the Application ID URI). */
  workloadAudience: string;
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  entraAuthorityHost: string;
  entraJwksUri: string;
  /** The items table, in the same storage account as the job-state table. */
  itemsTableName: string;
  /** How often a running job's runner writes its heartbeat; 4 missed beats make the job lost. */
  jobHeartbeatSeconds: number;
  /** The bound of a toolkit body that carries an item definition. */
  itemDefinitionMaxBytes: number;
  /** Backend URLs by lower-case region name, `default` for the rest; empty when endpoint resolution is not configured. */
  endpointResolutionUrls: Readonly<Record<string, string>>;
  telemetry: TelemetryConfig;
  /** How the workload app proves itself to Entra when it acts for the user; undefined: not configured. */
  workloadCredential?: ClientCredential;
  /** Where the token broker asks for tokens (ENTRA_TOKEN_HOST, default the authority host). */
  entraTokenHost: string;
  /** USER_ASSERTION_KEY and USER_ASSERTION_KEY_PREVIOUS; undefined: not configured. */
  userAssertionKeys?: { current: string; previous?: string };
  /** OneLake's Blob endpoint, without a trailing slash. */
  oneLakeEndpoint: string;
  /** Fabric's REST API base URL, without a trailing slash. */
  fabricApiUrl: string;
}

/** The Functions connection-setting prefix that the queue trigger and the app's own enqueue both read. */
export const JOB_QUEUE_CONNECTION = 'JobQueue';

export const DEFAULT_AUTHORITY_HOST = fallbackOf('ENTRA_AUTHORITY_HOST');
export const DEFAULT_TABLE_NAME = fallbackOf('JOB_STATE_TABLE_NAME');
export const DEFAULT_ITEMS_TABLE_NAME = fallbackOf('ITEMS_TABLE_NAME');
export const DEFAULT_JOB_QUEUE_NAME = fallbackOf('JOB_QUEUE_NAME');
const REGION_NAME = /^[a-z0-9-]{1,64}$/;
/** The problem reported when no table is configured at all (the jobstate CLI adds what to do). */
export const NO_TABLE_CONNECTION = 'one of JOB_STATE_TABLE_ENDPOINT or JOB_STATE_TABLE_CONNECTION_STRING is required';

/**
 * Reads and checks every setting the app has at once. Throws one ConfigError
 * naming every problem, so a bad deployment fails at start, not per request.
 */
export function readConfig(env: Env): Config {
  const settings = new SettingsReader(env);
  const publisherTenantId = settings.text('PUBLISHER_TENANT_ID').toLowerCase();
  const workloadClientId = settings.text('WORKLOAD_CLIENT_ID').toLowerCase();
  const workloadAudience = settings.text('WORKLOAD_AUDIENCE');

  const authorityUrl = tryParseUrl(settings.text('ENTRA_AUTHORITY_HOST'));
  // The origin is the canonical spelling (lower-case host, no default port) that token issuers use.
  const entraAuthorityHost = authorityUrl?.origin ?? DEFAULT_AUTHORITY_HOST;
  const entraJwksUri = settings.value('ENTRA_JWKS_URI') ?? `${entraAuthorityHost}/common/discovery/v2.0/keys`;
  settings.check('ENTRA_JWKS_URI', entraJwksUri);

  const tableConfig = readTableSettings(settings);
  const itemsTableName = settings.text('ITEMS_TABLE_NAME');
  if (itemsTableName.toLowerCase() === tableConfig.tableName.toLowerCase())
    settings.problems.push('ITEMS_TABLE_NAME must differ from JOB_STATE_TABLE_NAME');
  const queueConfig = readQueueSettings(settings);
  const jobHeartbeatSeconds = settings.wholeNumber('JOB_HEARTBEAT_SECONDS');
  const itemDefinitionMaxBytes = settings.wholeNumber('ITEM_DEFINITION_MAX_BYTES');
  const endpointResolutionUrls = readEndpointResolutionUrls(settings);
  const telemetry = readTelemetrySettings(settings);
  const credentialSettings: Record<string, string | undefined> = {
    WORKLOAD_CLIENT_CREDENTIAL: settings.value('WORKLOAD_CLIENT_CREDENTIAL'),
    WORKLOAD_MANAGED_IDENTITY_CLIENT_ID: settings.value('WORKLOAD_MANAGED_IDENTITY_CLIENT_ID'),
    WORKLOAD_CLIENT_CERTIFICATE: settings.value('WORKLOAD_CLIENT_CERTIFICATE'),
    WORKLOAD_CLIENT_SECRET: settings.value('WORKLOAD_CLIENT_SECRET'),
    AZURE_CLIENT_ID: settings.value('AZURE_CLIENT_ID'),
  };
  const workloadCredential = readClientCredential((name) => credentialSettings[name], settings.problems, env);
  const entraTokenHost = tryParseUrl(settings.text('ENTRA_TOKEN_HOST', true) ?? entraAuthorityHost)?.origin ?? '';
  const userAssertionKeys = readAssertionKeys(settings);
  const oneLakeEndpoint = settings.text('ONELAKE_ENDPOINT').replace(/\/+$/, '');
  const fabricApiUrl = settings.text('FABRIC_API_URL').replace(/\/+$/, '');
  return settings.finish({
    publisherTenantId,
    workloadClientId,
    workloadAudience,
    entraAuthorityHost,
    entraJwksUri,
    ...tableConfig,
    ...queueConfig,
    itemsTableName,
    jobHeartbeatSeconds,
    itemDefinitionMaxBytes,
    endpointResolutionUrls,
    telemetry,
    ...(workloadCredential ? { workloadCredential } : {}),
    entraTokenHost,
    ...(userAssertionKeys ? { userAssertionKeys } : {}),
    oneLakeEndpoint,
    fabricApiUrl,
  });
}

/** The two sealing keys; the previous one alone is a mistake (nothing could be sealed). */
function readAssertionKeys(settings: SettingsReader): Config['userAssertionKeys'] {
  const current = settings.text('USER_ASSERTION_KEY', true);
  const previous = settings.text('USER_ASSERTION_KEY_PREVIOUS', true);
  if (current === undefined) {
    if (previous !== undefined)
      settings.problems.push('USER_ASSERTION_KEY_PREVIOUS is set without USER_ASSERTION_KEY; set the current key too');
    return undefined;
  }
  return previous === undefined ? { current } : { current, previous };
}

function readTelemetrySettings(settings: SettingsReader): TelemetryConfig {
  const summaries = settings.text('SUMMARY_TELEMETRY');
  const telemetry: TelemetryConfig = {
    summaries: summaries === 'log' ? 'log' : 'export',
    roleName: settings.value('WEBSITE_SITE_NAME') ?? 'fabric-workload-backend',
  };
  // Checked even without a connection string: the Functions host reads it too.
  const authentication = settings.value('APPLICATIONINSIGHTS_AUTHENTICATION_STRING');
  if (authentication !== undefined) {
    const auth = keyValuePairs(authentication);
    const clientId = auth.get('clientid');
    if (
      auth.get('authorization') !== 'AAD' ||
      (clientId !== undefined && !isGuid(clientId)) ||
      [...auth.keys()].some((name) => name !== 'authorization' && name !== 'clientid')
    ) {
      settings.problems.push(
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be Authorization=AAD or Authorization=AAD;ClientId=<GUID>',
      );
    }
    telemetry.entraAuthentication = { clientId: clientId?.toLowerCase() };
  }
  const connectionString = settings.value('APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (connectionString === undefined) return telemetry;
  const parts = keyValuePairs(connectionString);
  if (!isGuid(parts.get('instrumentationkey')))
    settings.problems.push('APPLICATIONINSIGHTS_CONNECTION_STRING must have InstrumentationKey=<GUID>');
  const ingestion = parts.get('ingestionendpoint');
  if (ingestion !== undefined)
    settings.checkHttpsOrLoopback('APPLICATIONINSIGHTS_CONNECTION_STRING IngestionEndpoint', ingestion);
  telemetry.connectionString = connectionString;
  return telemetry;
}

function readQueueSettings(settings: SettingsReader): QueueConfig {
  const queueName = settings.text('JOB_QUEUE_NAME');
  return { queue: readQueueConnection(settings), queueName };
}

function readQueueConnection(settings: SettingsReader): QueueConnection {
  const connectionString = settings.value(JOB_QUEUE_CONNECTION);
  const serviceUri = settings.value(`${JOB_QUEUE_CONNECTION}__queueServiceUri`);
  if (connectionString !== undefined && serviceUri !== undefined) {
    settings.problems.push(`set only one of ${JOB_QUEUE_CONNECTION} and ${JOB_QUEUE_CONNECTION}__queueServiceUri`);
  }
  if (connectionString !== undefined) return { kind: 'connectionString', connectionString };
  if (serviceUri === undefined) {
    settings.problems.push(
      `${JOB_QUEUE_CONNECTION} (a connection string) or ${JOB_QUEUE_CONNECTION}__queueServiceUri with ${JOB_QUEUE_CONNECTION}__credential=managedidentity is required`,
    );
    return { kind: 'connectionString', connectionString: '' };
  }
  settings.checkHttpsOrLoopback(`${JOB_QUEUE_CONNECTION}__queueServiceUri`, serviceUri);
  const credential = settings.value(`${JOB_QUEUE_CONNECTION}__credential`);
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    settings.problems.push(`${JOB_QUEUE_CONNECTION}__credential must be managedidentity (or unset)`);
  }
  const managedIdentityClientId = settings.value(`${JOB_QUEUE_CONNECTION}__clientId`);
  if (managedIdentityClientId !== undefined && !isGuid(managedIdentityClientId)) {
    settings.problems.push(
      `${JOB_QUEUE_CONNECTION}__clientId must be a GUID (the client id of a user-assigned managed identity)`,
    );
  }
  return { kind: 'serviceUri', serviceUri: serviceUri.replace(/\/+$/, ''), managedIdentityClientId };
}

/** A JSON object of lower-case region names (and `default`) to https backend URLs. */
function readEndpointResolutionUrls(settings: SettingsReader): Record<string, string> {
  const raw = settings.value('ENDPOINT_RESOLUTION_URLS');
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const problem =
    'ENDPOINT_RESOLUTION_URLS must be a JSON object of lower-case region names (or "default") to backend URLs';
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    settings.problems.push(problem);
    return {};
  }
  const urls: Record<string, string> = {};
  for (const [region, url] of Object.entries(parsed)) {
    if (!REGION_NAME.test(region) || typeof url !== 'string') {
      settings.problems.push(`${problem}; ${JSON.stringify(cutText(region, 64))} is not`);
      continue;
    }
    settings.checkHttpsOrLoopback(`ENDPOINT_RESOLUTION_URLS.${region}`, url);
    urls[region] = url.replace(/\/+$/, '');
  }
  return urls;
}

/** Only the job-state table settings: what the writer and the jobstate CLI need. */
export function readTableConfig(env: Env): TableConfig {
  const settings = new SettingsReader(env);
  return settings.finish(readTableSettings(settings));
}

function readTableSettings(settings: SettingsReader): TableConfig {
  const table = readTableConnection(settings);
  const tableName = settings.text('JOB_STATE_TABLE_NAME');
  return { table, tableName };
}

function readTableConnection(settings: SettingsReader): TableConnection {
  const endpoint = settings.value('JOB_STATE_TABLE_ENDPOINT');
  const connectionString = settings.value('JOB_STATE_TABLE_CONNECTION_STRING');
  if (endpoint !== undefined && connectionString !== undefined) {
    settings.problems.push('set only one of JOB_STATE_TABLE_ENDPOINT and JOB_STATE_TABLE_CONNECTION_STRING');
  }
  if (connectionString !== undefined) return { kind: 'connectionString', connectionString };
  if (endpoint === undefined) {
    settings.problems.push(NO_TABLE_CONNECTION);
    return { kind: 'connectionString', connectionString: '' };
  }
  settings.checkHttpsOrLoopback('JOB_STATE_TABLE_ENDPOINT', endpoint);
  const managedIdentityClientId = settings.value('AZURE_CLIENT_ID');
  if (managedIdentityClientId !== undefined && !isGuid(managedIdentityClientId)) {
    settings.problems.push('AZURE_CLIENT_ID must be a GUID (the client id of a user-assigned managed identity)');
  }
  return { kind: 'endpoint', endpoint: endpoint.replace(/\/+$/, ''), managedIdentityClientId };
}
