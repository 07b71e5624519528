/**
 * The development stack's settings: fixed development values that anyone can
 * override from the environment. local.settings.sample.json holds the same
 * values (a test keeps the two in step), but for the sealing key, which each
 * machine generates for itself (dev/devAssertionKey.ts).
 */
import { join, resolve } from 'node:path';
import { azuriteConnectionString, ONELAKE_ACCOUNT } from './azurite';
import { JWKS_PATH } from './tokenIssuer';

/**
 * The workload app's client secret as the development token endpoint knows
 * it: not a secret, and not taken from the environment, so that a real one in
 * a developer's shell is never printed or sent to the stack.
 */
export const DEV_CLIENT_SECRET = 'development-client-secret-for-loopback-only';

export const DEV_DEFAULTS = {
  PUBLISHER_TENANT_ID: 'aaaaaaaa-0000-4000-8000-000000000001',
  WORKLOAD_CLIENT_ID: 'aaaaaaaa-0000-4000-8000-000000000002',
  WORKLOAD_AUDIENCE: 'api://localdevinstance/aaaaaaaa-0000-4000-8000-000000000001/Contoso.FinanceAnalytics',
  /** The tenant of the development user on whose behalf "Fabric" calls. */
  DEV_USER_TENANT_ID: 'bbbbbbbb-0000-4000-8000-000000000003',
  JOB_STATE_TABLE_NAME: 'JobInstances',
  ITEMS_TABLE_NAME: 'Items',
  HOST: '127.0.0.1',
  PORT: '7071',
  DEV_ISSUER_PORT: '7072',
  AZURITE_TABLE_PORT: '10002',
  AZURITE_QUEUE_PORT: '10001',
  /** Only for `func start`: the Functions host keeps its own state in blobs (AzureWebJobsStorage). */
  AZURITE_BLOB_PORT: '10000',
  JOB_QUEUE_NAME: 'job-runs',
  /** Entra ID's token endpoint for the on-behalf-of exchange (always on 127.0.0.1, HTTPS). */
  DEV_TOKEN_PORT: '7073',
  /** OneLake's stand-in, Azurite's Blob service over HTTPS with OAuth. */
  DEV_ONELAKE_PORT: '10003',
  /** consent, mfa, policy or unavailable: what the token endpoint answers every exchange; empty: tokens. */
  DEV_TOKEN_FAILURE: '',
  /** local: always the project's local host; auto: func when it is on the PATH. */
  DEV_FUNCTIONS_HOST: 'auto',
};

/** Fabric's published example job (Jobs_GetItemJobInstanceState). */
export const DEMO_JOB = {
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  jobType: 'calculateForecast',
  jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072',
  status: 'InProgress' as const,
  startTimeUtc: new Date('2023-12-10T14:41:39.412Z'),
};

export type DevSettings = typeof DEV_DEFAULTS & {
  /** Git-ignored folder for Azurite's data, the development signing key, certificate and sealing key. */
  DEV_DATA_DIR: string;
  ENTRA_JWKS_URI: string;
  JOB_STATE_TABLE_CONNECTION_STRING: string;
  /** Azurite's Table and Queue endpoints, for the job queue. */
  JobQueue: string;
  /** Endpoint resolution answers with this very host. */
  ENDPOINT_RESOLUTION_URLS: string;
  WORKLOAD_CLIENT_SECRET: string;
  /** The development token endpoint: https://127.0.0.1:{DEV_TOKEN_PORT}. */
  ENTRA_TOKEN_HOST: string;
  /** The OneLake stand-in: https://127.0.0.1:{DEV_ONELAKE_PORT}/onelake. */
  ONELAKE_ENDPOINT: string;
  /** The development sealing key; empty until npm start reads its file (developmentAssertionKey). */
  USER_ASSERTION_KEY: string;
};

export function devSettings(env: NodeJS.ProcessEnv, projectRoot: string): DevSettings {
  const pick = (name: keyof typeof DEV_DEFAULTS) => env[name] || DEV_DEFAULTS[name];
  const base = Object.fromEntries(
    Object.keys(DEV_DEFAULTS).map((name) => [name, pick(name as keyof typeof DEV_DEFAULTS)]),
  ) as typeof DEV_DEFAULTS;
  return {
    ...base,
    DEV_DATA_DIR: env.DEV_DATA_DIR ? resolve(env.DEV_DATA_DIR) : join(projectRoot, '.dev'),
    ENTRA_JWKS_URI: `http://127.0.0.1:${base.DEV_ISSUER_PORT}${JWKS_PATH}`,
    JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(Number(base.AZURITE_TABLE_PORT)),
    JobQueue: azuriteConnectionString(Number(base.AZURITE_TABLE_PORT), Number(base.AZURITE_QUEUE_PORT)),
    ENDPOINT_RESOLUTION_URLS: JSON.stringify({ default: `http://${base.HOST}:${base.PORT}/api` }),
    WORKLOAD_CLIENT_SECRET: DEV_CLIENT_SECRET,
    ENTRA_TOKEN_HOST: `https://127.0.0.1:${base.DEV_TOKEN_PORT}`,
    ONELAKE_ENDPOINT: `https://127.0.0.1:${base.DEV_ONELAKE_PORT}/${ONELAKE_ACCOUNT}`,
    USER_ASSERTION_KEY: '',
  };
}

/** The app settings (README, "Settings") of the development stack. */
export function appSettingsOf(settings: DevSettings): Record<string, string> {
  return {
    PUBLISHER_TENANT_ID: settings.PUBLISHER_TENANT_ID,
    WORKLOAD_CLIENT_ID: settings.WORKLOAD_CLIENT_ID,
    WORKLOAD_AUDIENCE: settings.WORKLOAD_AUDIENCE,
    ENTRA_JWKS_URI: settings.ENTRA_JWKS_URI,
    JOB_STATE_TABLE_CONNECTION_STRING: settings.JOB_STATE_TABLE_CONNECTION_STRING,
    JOB_STATE_TABLE_NAME: settings.JOB_STATE_TABLE_NAME,
    JobQueue: settings.JobQueue,
    JOB_QUEUE_NAME: settings.JOB_QUEUE_NAME,
    ITEMS_TABLE_NAME: settings.ITEMS_TABLE_NAME,
    ENDPOINT_RESOLUTION_URLS: settings.ENDPOINT_RESOLUTION_URLS,
    // Acting for the user: a client secret (development only), the token endpoint, the sealing key, the stand-in.
    WORKLOAD_CLIENT_CREDENTIAL: 'secret',
    WORKLOAD_CLIENT_SECRET: settings.WORKLOAD_CLIENT_SECRET,
    ENTRA_TOKEN_HOST: settings.ENTRA_TOKEN_HOST,
    USER_ASSERTION_KEY: settings.USER_ASSERTION_KEY,
    ONELAKE_ENDPOINT: settings.ONELAKE_ENDPOINT,
  };
}

/** The token endpoint's failures a developer can switch on from outside, with DEV_TOKEN_FAILURE (dev/tokenEndpoint.ts has each). */
export const DEV_TOKEN_FAILURES = ['consent', 'mfa', 'policy', 'unavailable'] as const;
export type DevTokenFailure = (typeof DEV_TOKEN_FAILURES)[number];

/** DEV_TOKEN_FAILURE, checked: undefined when empty (tokens); throws on anything else not in DEV_TOKEN_FAILURES. */
export function devTokenFailure(settings: Pick<DevSettings, 'DEV_TOKEN_FAILURE'>): DevTokenFailure | undefined {
  const value = settings.DEV_TOKEN_FAILURE;
  if (value === '') return undefined;
  if (!(DEV_TOKEN_FAILURES as readonly string[]).includes(value))
    throw new Error(
      `DEV_TOKEN_FAILURE must be ${DEV_TOKEN_FAILURES.join(', ')} or empty, not ${JSON.stringify(value)}`,
    );
  return value as DevTokenFailure;
}
