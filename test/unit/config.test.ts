import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig, SETTING_ROWS, settingsTable } from '../../src/config';

import { MINIMAL_SETTINGS as VALID } from '../fixtures/settings';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    readConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('readConfig', () => {
  it('reads a minimal configuration and fills the defaults', () => {
    expect(readConfig(VALID)).toEqual({
      publisherTenantId: '8a2b1c3d-0000-4000-8000-00000000aaaa',
      workloadClientId: '5f1d7c2e-1111-4111-8111-00000000bbbb',
      workloadAudience: 'api://contoso/workload',
      entraAuthorityHost: 'https://login.microsoftonline.com',
      entraJwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
      table: { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
      tableName: 'JobInstances',
      itemsTableName: 'Items',
      queue: { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
      queueName: 'job-runs',
      jobHeartbeatSeconds: 30,
      itemDefinitionMaxBytes: 4 * 1024 * 1024,
      endpointResolutionUrls: {},
      telemetry: { summaries: 'export', roleName: 'fabric-workload-backend' },
      entraTokenHost: 'https://login.microsoftonline.com',
      oneLakeEndpoint: 'https://onelake.blob.fabric.microsoft.com',
      fabricApiUrl: 'https://api.fabric.microsoft.com/v1',
    });
  });

  it('reads the Application Insights settings the Functions host reads too', () => {
    const connectionString =
      'InstrumentationKey=0f0f0f0f-0000-4000-8000-000000000002;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
    expect(
      readConfig({ ...VALID, APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, WEBSITE_SITE_NAME: 'func-x' })
        .telemetry,
    ).toEqual({
      connectionString,
      summaries: 'export',
      roleName: 'func-x',
    });
    const withIdentity = readConfig({
      ...VALID,
      APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=0F0F0F0F-0000-4000-8000-000000000003',
      SUMMARY_TELEMETRY: 'log',
    }).telemetry;
    expect(withIdentity).toMatchObject({
      entraAuthentication: { clientId: '0f0f0f0f-0000-4000-8000-000000000003' },
      summaries: 'log',
    });
    expect(
      readConfig({
        ...VALID,
        APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
      }).telemetry.entraAuthentication,
    ).toEqual({
      clientId: undefined,
    });
  });

  it('checks the Application Insights settings', () => {
    const key = 'InstrumentationKey=0f0f0f0f-0000-4000-8000-000000000002';
    expect(problemsOf({ ...VALID, APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x/' })).toEqual([
      expect.stringContaining('InstrumentationKey=<GUID>'),
    ]);
    expect(
      problemsOf({
        ...VALID,
        APPLICATIONINSIGHTS_CONNECTION_STRING: `${key};IngestionEndpoint=http://in.example.com/`,
      }),
    ).toEqual([expect.stringContaining('IngestionEndpoint must be an https URL')]);
    for (const bad of [
      'Authorization=Key',
      'Authorization=AAD;ClientId=nope',
      'Authorization=AAD;Secret=x',
      'ClientId=0f0f0f0f-0000-4000-8000-000000000003',
    ]) {
      expect(
        problemsOf({
          ...VALID,
          APPLICATIONINSIGHTS_CONNECTION_STRING: key,
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: bad,
        }),
      ).toEqual([expect.stringContaining('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be')]);
    }
    expect(problemsOf({ ...VALID, SUMMARY_TELEMETRY: 'both' })).toEqual(['SUMMARY_TELEMETRY must be export or log']);
    // The Functions host reads it too: checked even without a connection string.
    expect(problemsOf({ ...VALID, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'garbage' })).toEqual([
      expect.stringContaining('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be'),
    ]);
  });

  it('reads the identity-based queue connection of the Functions convention', () => {
    const { JobQueue: _, ...rest } = VALID;
    const config = readConfig({
      ...rest,
      JobQueue__queueServiceUri: 'https://acct.queue.core.windows.net/',
      JobQueue__credential: 'managedidentity',
      JobQueue__clientId: '0f0f0f0f-0000-4000-8000-000000000001',
    });
    expect(config.queue).toEqual({
      kind: 'serviceUri',
      serviceUri: 'https://acct.queue.core.windows.net',
      managedIdentityClientId: '0f0f0f0f-0000-4000-8000-000000000001',
    });
  });

  it('checks the queue, heartbeat, items table and endpoint resolution settings', () => {
    const { JobQueue: _, ...rest } = VALID;
    expect(problemsOf(rest)).toEqual([
      expect.stringContaining('JobQueue (a connection string) or JobQueue__queueServiceUri'),
    ]);
    expect(
      problemsOf({
        ...rest,
        JobQueue__queueServiceUri: 'http://acct.queue.core.windows.net',
        JobQueue__credential: 'key',
        JobQueue__clientId: 'x',
      }),
    ).toEqual([
      expect.stringContaining('JobQueue__queueServiceUri must be an https URL'),
      'JobQueue__credential must be managedidentity (or unset)',
      expect.stringContaining('JobQueue__clientId must be a GUID'),
    ]);
    expect(problemsOf({ ...VALID, JOB_QUEUE_NAME: 'Job_Runs' })).toEqual([
      expect.stringContaining('JOB_QUEUE_NAME must be'),
    ]);
    for (const bad of ['0', '301', '1.5', 'ten'])
      expect(problemsOf({ ...VALID, JOB_HEARTBEAT_SECONDS: bad })).toEqual([
        expect.stringContaining('JOB_HEARTBEAT_SECONDS'),
      ]);
    expect(readConfig({ ...VALID, JOB_HEARTBEAT_SECONDS: '5' }).jobHeartbeatSeconds).toBe(5);
    expect(problemsOf({ ...VALID, ITEMS_TABLE_NAME: 'JobInstances' })).toEqual([
      'ITEMS_TABLE_NAME must differ from JOB_STATE_TABLE_NAME',
    ]);
    expect(problemsOf({ ...VALID, ENDPOINT_RESOLUTION_URLS: '["https://a"]' })).toEqual([
      expect.stringContaining('ENDPOINT_RESOLUTION_URLS must be a JSON object'),
    ]);
    expect(problemsOf({ ...VALID, ENDPOINT_RESOLUTION_URLS: '{"westeurope":"http://example.com"}' })).toEqual([
      expect.stringContaining('ENDPOINT_RESOLUTION_URLS.westeurope must be an https URL'),
    ]);
    expect(
      readConfig({
        ...VALID,
        ENDPOINT_RESOLUTION_URLS:
          '{"default":"https://be.contoso.com/api/","westeurope":"https://weu.contoso.com/api"}',
      }).endpointResolutionUrls,
    ).toEqual({
      default: 'https://be.contoso.com/api',
      westeurope: 'https://weu.contoso.com/api',
    });
  });

  it('derives the JWKS address from a sovereign-cloud authority', () => {
    const config = readConfig({ ...VALID, ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.us/' });
    expect(config.entraAuthorityHost).toBe('https://login.microsoftonline.us');
    expect(config.entraJwksUri).toBe('https://login.microsoftonline.us/common/discovery/v2.0/keys');
  });

  it('uses the canonical origin of the authority, as issuers spell it', () => {
    expect(
      readConfig({ ...VALID, ENTRA_AUTHORITY_HOST: 'https://LOGIN.microsoftonline.com:443' }).entraAuthorityHost,
    ).toBe('https://login.microsoftonline.com');
  });

  it('reads the managed-identity endpoint and a user-assigned identity', () => {
    const { JOB_STATE_TABLE_CONNECTION_STRING: _, ...rest } = VALID;
    const config = readConfig({
      ...rest,
      JOB_STATE_TABLE_ENDPOINT: 'https://acct.table.core.windows.net/',
      AZURE_CLIENT_ID: '0f0f0f0f-0000-4000-8000-000000000001',
    });
    expect(config.table).toEqual({
      kind: 'endpoint',
      endpoint: 'https://acct.table.core.windows.net',
      managedIdentityClientId: '0f0f0f0f-0000-4000-8000-000000000001',
    });
  });

  it('allows http for a loopback JWKS address', () => {
    expect(readConfig({ ...VALID, ENTRA_JWKS_URI: 'http://127.0.0.1:9999/keys' }).entraJwksUri).toBe(
      'http://127.0.0.1:9999/keys',
    );
  });

  it('names every problem in one error', () => {
    const problems = problemsOf({
      PUBLISHER_TENANT_ID: 'contoso',
      WORKLOAD_AUDIENCE: ' ',
      ENTRA_JWKS_URI: 'http://keys.example.com/keys',
      JOB_STATE_TABLE_NAME: 'job-instances',
    });
    expect(problems).toEqual([
      'PUBLISHER_TENANT_ID must be a GUID',
      'WORKLOAD_CLIENT_ID is required',
      'WORKLOAD_AUDIENCE is required',
      'ENTRA_JWKS_URI must be an https URL (http is allowed only for a loopback host)',
      'one of JOB_STATE_TABLE_ENDPOINT or JOB_STATE_TABLE_CONNECTION_STRING is required',
      'JOB_STATE_TABLE_NAME must be 3-63 letters or digits, starting with a letter',
      'JobQueue (a connection string) or JobQueue__queueServiceUri with JobQueue__credential=managedidentity is required',
    ]);
  });

  it.each([
    ['an http authority', { ENTRA_AUTHORITY_HOST: 'http://login.microsoftonline.com' }, /ENTRA_AUTHORITY_HOST/],
    [
      'an authority with a path',
      { ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.com/common' },
      /ENTRA_AUTHORITY_HOST/,
    ],
    [
      'an authority with user info',
      { ENTRA_AUTHORITY_HOST: 'https://me@login.microsoftonline.com' },
      /ENTRA_AUTHORITY_HOST/,
    ],
    ['both table settings', { JOB_STATE_TABLE_ENDPOINT: 'https://acct.table.core.windows.net' }, /only one of/],
    ['a client id that is not a GUID', { WORKLOAD_CLIENT_ID: 'my-app' }, /WORKLOAD_CLIENT_ID must be a GUID/],
  ])('rejects %s', (_name, change, problem) => {
    expect(problemsOf({ ...VALID, ...change }).join('\n')).toMatch(problem);
  });

  it.each([
    [
      'an http endpoint elsewhere',
      'http://acct.table.core.windows.net',
      /JOB_STATE_TABLE_ENDPOINT must be an https URL/,
    ],
    ['a managed identity id that is not a GUID', 'https://acct.table.core.windows.net', /AZURE_CLIENT_ID/],
  ])('rejects %s', (_name, endpoint, problem) => {
    const { JOB_STATE_TABLE_CONNECTION_STRING: _, ...rest } = VALID;
    expect(problemsOf({ ...rest, JOB_STATE_TABLE_ENDPOINT: endpoint, AZURE_CLIENT_ID: 'mine' }).join('\n')).toMatch(
      problem,
    );
  });

  it.each(['REPLACE-workload-application-id-uri', '5f1d7c2e-1111-4111-8111-00000000bbbb', 'contoso/workload'])(
    'refuses a WORKLOAD_AUDIENCE that is not an absolute URI: %s',
    (audience) => {
      expect(problemsOf({ ...VALID, WORKLOAD_AUDIENCE: audience })).toEqual([
        'WORKLOAD_AUDIENCE must be the Application ID URI, an absolute URI such as api://… or https://…',
      ]);
    },
  );

  it.each([
    'api://localdevinstance/tenant/Contoso.Workload',
    'https://contoso.com/fe/be/Contoso.Workload',
    'urn:contoso:workload',
  ])('accepts the Application ID URI %s', (audience) => {
    expect(readConfig({ ...VALID, WORKLOAD_AUDIENCE: audience }).workloadAudience).toBe(audience);
  });

  it('reads the two assertion keys, and refuses a short one or the previous one alone', () => {
    const key = 'k'.repeat(43);
    expect(readConfig({ ...VALID, USER_ASSERTION_KEY: key }).userAssertionKeys).toEqual({ current: key });
    expect(problemsOf({ ...VALID, USER_ASSERTION_KEY: 'k'.repeat(42) })).toEqual([
      'USER_ASSERTION_KEY must be 43 or more characters of random text (e.g. 32 random bytes in base64)',
    ]);
    expect(problemsOf({ ...VALID, USER_ASSERTION_KEY_PREVIOUS: key })).toEqual([
      'USER_ASSERTION_KEY_PREVIOUS is set without USER_ASSERTION_KEY; set the current key too',
    ]);
  });

  it.each(['USER_ASSERTION_KEY', 'USER_ASSERTION_KEY_PREVIOUS'])(
    'refuses an unresolved Key Vault reference in %s, which is long enough to pass for a key',
    (name) => {
      // What the platform passes on when the identity cannot read the secret: the reference's own text.
      const unresolved = '@Microsoft.KeyVault(SecretUri=https://kv-abc.vault.azure.net/secrets/user-assertion-key/)';
      expect(unresolved.length).toBeGreaterThan(43);
      const problems = problemsOf({ ...VALID, USER_ASSERTION_KEY: 'k'.repeat(43), [name]: unresolved });
      expect(problems).toEqual([
        expect.stringMatching(new RegExp(`^${name} is a Key Vault reference the platform could not resolve`)),
      ]);
      expect(problems[0]).not.toContain('kv-abc');
    },
  );

  it('says how many problems there are and lists them one per line', () => {
    expect(() => readConfig({})).toThrow(/^Invalid configuration \(5 problems\):\n- PUBLISHER_TENANT_ID is required\n/);
  });
});

describe('SETTING_ROWS, the one list of settings', () => {
  const root = join(__dirname, '..', '..');
  it('docs/settings.md has the table derived from it', () => {
    expect(readFileSync(join(root, 'docs', 'settings.md'), 'utf8')).toContain(settingsTable());
  });

  it('names every setting the readers read, and the readers read every one', () => {
    const source = ['index.ts', 'settingsReader.ts']
      .map((file) => readFileSync(join(root, 'src', 'config', file), 'utf8'))
      .join('\n');
    // Names passed to the reader, spelt out or built from the JobQueue connection prefix.
    const read = new Set(
      [
        ...source.matchAll(
          /(?:settings\.(?:value|required|requiredGuid|wholeNumber|text|check)\()\s*(?:'([^']+)'|`\$\{JOB_QUEUE_CONNECTION\}([^`]*)`|(JOB_QUEUE_CONNECTION))/g,
        ),
      ].map(([, literal, suffix, prefix]) => literal ?? (prefix ? 'JobQueue' : `JobQueue${suffix}`)),
    );
    read.delete('WEBSITE_SITE_NAME'); // the platform's own variable (the role name of exported telemetry), not a setting
    expect([...read].sort()).toEqual(SETTING_ROWS.map((row) => row.name).sort());
  });
});
