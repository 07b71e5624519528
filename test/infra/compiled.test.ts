import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBicep } from '../../dev/bicepCli';
import { checkTemplates, INFRA_DIR, type TemplateCheck } from '../../dev/checkTemplates';
import { DEFAULT_TABLE_NAME, SETTINGS } from '../../src/config';
import {
  deploy,
  reference,
  TARGET,
  resourceId,
  roleDefinitionId,
  type ArmTemplate,
  type Deployed,
  type Deployment,
} from '../fixtures/armTemplate';
import { bicep, NO_COMPILER_IN_CI, skipCompiledTests } from '../fixtures/bicepCompiler';

/**
 * infra/ as Azure sees it: the ARM JSON `bicep build` makes (what `az
 * deployment group create` and `azd up` send), evaluated for given
 * parameters by test/fixtures/armTemplate.ts. Skipped, with one line saying
 * why, on a machine without the compiler; never skipped in CI.
 */

const ROOT = join(INFRA_DIR, '..');
const deployGuide = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');

const ENTRA = {
  publisherTenantId: '11111111-1111-4111-8111-111111111111',
  workloadClientId: '22222222-2222-4222-8222-222222222222',
  workloadAudience: 'api://localdevinstance/11111111-1111-4111-8111-111111111111/Contoso.FinanceAnalytics',
};
/** The two assertion keys: secure parameters without a default, which azd generates once. */
const KEYS = {
  userAssertionKey: 'K'.repeat(64),
  userAssertionKeyPrevious: 'P'.repeat(64),
};
/** Every parameter without a default. */
const REQUIRED = { ...ENTRA, ...KEYS };
const RUNNER = '33333333-3333-4333-8333-333333333333';
const KEY_SECRETS = {
  USER_ASSERTION_KEY: 'user-assertion-key',
  USER_ASSERTION_KEY_PREVIOUS: 'user-assertion-key-previous',
};

/** Built-in role ids, as learn.microsoft.com's generated built-in roles pages list them (docs/deploy.md#sources). */
const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925',
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed',
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  /** learn.microsoft.com/azure/role-based-access-control/built-in-roles/security */
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};

/** Settings the Functions host and its telemetry read, not src/config/. */
const HOST_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

/** Settings src/config/ reads that Azure deliberately does not set, and why. */
const LEFT_OUT = {
  ENTRA_JWKS_URI: "its default follows ENTRA_AUTHORITY_HOST; anything else would trust keys other than Entra ID's",
  JOB_STATE_TABLE_CONNECTION_STRING: 'the account refuses shared keys; the identity reaches JOB_STATE_TABLE_ENDPOINT',
  JOB_HEARTBEAT_SECONDS: "the app's default (30 s) is the documented one",
  SUMMARY_TELEMETRY: 'the default (export to Application Insights) is the intended one',
  ITEM_DEFINITION_MAX_BYTES: 'the default (4 MiB) is the documented one',
  ENTRA_TOKEN_HOST: 'its default follows ENTRA_AUTHORITY_HOST, where Entra ID issues tokens in the cloud deployed to',
  ONELAKE_ENDPOINT: "the default is OneLake's public Blob endpoint, the one Fabric documents",
  FABRIC_API_URL: "the default is Fabric's public REST API, the one Fabric documents",
  WORKLOAD_CLIENT_CERTIFICATE: 'the deployment is keyless (managedIdentity)',
  WORKLOAD_CLIENT_SECRET: 'development only; refused inside Azure',
};

/** "Flex Consumption plan deprecations" in learn.microsoft.com/azure/azure-functions/functions-app-settings. */
const FLEX_DEPRECATED_SETTINGS = [
  'ENABLE_ORYX_BUILD',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_VNET_ROUTE_ALL',
];
const FLEX_DEPRECATED_SITE_PROPERTIES = [
  'alwaysOn',
  'containerSize',
  'ftpsState',
  'isReserved',
  'isXenon',
  'javaVersion',
  'linuxFxVersion',
  'netFrameworkVersion',
  'powerShellVersion',
  'functionAppScaleLimit',
  'preWarmedInstanceCount',
  'use32BitWorkerProcess',
  'vnetBackupRestoreEnabled',
  'vnetContentShareEnabled',
  'vnetImagePullEnabled',
  'vnetRouteAllEnabled',
  'windowsFxVersion',
];

/** The linter rules the templates must never break, each shown firing by test/fixtures/bicep/lintViolations.bicep. */
const RULES_AT_ERROR = [
  'no-hardcoded-location',
  'no-loc-expr-outside-params',
  'no-hardcoded-env-urls',
  'secure-secrets-in-params',
  'no-unused-params',
  'no-unused-vars',
  'use-resource-id-functions',
  'use-parent-property',
  'outputs-should-not-contain-secrets',
  'use-recent-api-versions',
];

/** Every setting src/config/ reads. A Functions connection (JobQueue) counts once, however it is spelt. */
const READ: string[] = [...SETTINGS.required, ...SETTINGS.oneOf, ...SETTINGS.optional];
const connectionOf = (setting: string) => setting.split('__')[0];

type Body = Deployed['body'];

describe.skipIf(skipCompiledTests)('infra/ compiled by the Bicep compiler', () => {
  let check: TemplateCheck;
  let template: ArmTemplate;
  let deployment: Deployment;
  beforeAll(async () => {
    if (!bicep) throw new Error(NO_COMPILER_IN_CI);
    check = await checkTemplates(bicep);
    template = check.compiled.get('main.bicep') as ArmTemplate;
    deployment = deploy(template, REQUIRED);
    // Two runs of the compiler at once: seconds alone, far more on a busy CI machine.
  }, 180_000);

  const all = (type: string, of = deployment) => of.resources.filter((r) => r.type === type && r.deployed);
  const one = (type: string, of = deployment): Deployed => {
    const found = all(type, of);
    expect(found, type).toHaveLength(1);
    return found[0];
  };
  const site = (of = deployment): Body => one('Microsoft.Web/sites', of).body;
  const settings = (of = deployment) =>
    new Map<string, unknown>(
      (site(of).properties.siteConfig.appSettings as Array<{ name: string; value: unknown }>).map((s) => [
        s.name,
        s.value,
      ]),
    );
  const account = () => one('Microsoft.Storage/storageAccounts');
  const identityId = () => one('Microsoft.ManagedIdentity/userAssignedIdentities').id;
  const clientId = () => reference(identityId(), '.clientId');
  const child = (type: string, ...names: string[]) => resourceId(type, account().name, ...names);
  const keyVaultSecret = (secret: string) =>
    resourceId('Microsoft.KeyVault/vaults/secrets', one('Microsoft.KeyVault/vaults').name, secret);

  describe('compiler and linter', () => {
    it('build every entry point and lint every file with no error and no warning', () => {
      expect(check.diagnostics).toEqual([]);
      expect([...check.compiled.keys()]).toEqual(['main.bicep']);
    });

    it('hold the rules that matter as errors, with infra/bicepconfig.json', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bicep-lint-'));
      try {
        cpSync(join(INFRA_DIR, 'bicepconfig.json'), join(dir, 'bicepconfig.json'));
        cpSync(join(ROOT, 'test', 'fixtures', 'bicep', 'lintViolations.bicep'), join(dir, 'lintViolations.bicep'));
        const run = await runBicep(bicep!, ['lint', join(dir, 'lintViolations.bicep')], dir);
        const fired = run.diagnostics.map((line) => / : (\w+) ([a-z-]+):/.exec(line)?.slice(1).join(' '));
        for (const rule of RULES_AT_ERROR) expect(fired, rule).toContain(`Error ${rule}`);
        expect(run.exitCode).not.toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // One more start of the compiler (a large .NET program): seconds alone, far more on a busy CI machine.
    }, 120_000);
  });

  describe('parameters', () => {
    const file = JSON.parse(readFileSync(join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const jsonType = (value: unknown) =>
      Array.isArray(value)
        ? 'array'
        : Number.isInteger(value)
          ? 'int'
          : typeof value === 'boolean'
            ? 'bool'
            : typeof value;

    it('main.parameters.json names only parameters of the template, each with a value of its type', () => {
      for (const [name, { value }] of Object.entries(file.parameters)) {
        expect(template.parameters, name).toHaveProperty(name);
        expect(jsonType(value), name).toBe(template.parameters![name].type.replace(/^secure/, '').toLowerCase());
      }
      expect(file.parameters.jobStateTableName.value).toBe(DEFAULT_TABLE_NAME);
    });

    it('only the Entra values and the two keys have no default; the file leaves them out and the guide passes each with -p', () => {
      const required = Object.entries(template.parameters!)
        .filter(([, p]) => !('defaultValue' in p))
        .map(([name]) => name);
      expect(required.sort()).toEqual(Object.keys(REQUIRED).sort());
      for (const name of required) {
        expect(file.parameters).not.toHaveProperty(name);
        expect(deployGuide).toMatch(new RegExp(`-p ${name}=`));
      }
    });

    it('take the two keys as secure strings of 43 characters or more, which azd generates once (letters and digits)', () => {
      for (const name of Object.keys(KEYS)) {
        const declared = template.parameters![name];
        expect(declared.type, name).toBe('securestring');
        expect(declared.minLength, name).toBe(43);
        expect(declared).not.toHaveProperty('defaultValue');
        // azd generates a parameter only when it has no default and the parameters file does not name it.
        const azd = declared.metadata?.azd as { type?: string; config?: { length?: number; noSpecial?: boolean } };
        expect(azd.type, name).toBe('generate');
        expect(azd.config?.length, name).toBeGreaterThanOrEqual(43);
        // Letters and digits only, so a value passes through the shell commands of the rotation steps as it is.
        expect(azd.config?.noSpecial, name).toBe(true);
      }
    });

    it('keeps telemetry at least 30 days, and a deployment cannot ask for less', () => {
      const retention = template.parameters!.logRetentionDays;
      expect(retention).toMatchObject({ type: 'int', minValue: 30 });
      expect(retention.defaultValue).toBeGreaterThanOrEqual(30);
      const workspace = (of: Deployment) =>
        one('Microsoft.OperationalInsights/workspaces', of).body.properties.retentionInDays;
      expect(workspace(deployment)).toBe(retention.defaultValue);
      expect(workspace(deploy(template, { ...REQUIRED, logRetentionDays: 90 }))).toBe(90);
    });
  });

  describe('function app settings', () => {
    it("are exactly what src/config/ reads, less the ones left out on purpose, plus the host's", () => {
      const names = [...settings().keys()];
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => HOST_SETTINGS.includes(n)).sort()).toEqual([...HOST_SETTINGS].sort());
      const appOwn = new Set(names.filter((n) => !HOST_SETTINGS.includes(n)).map(connectionOf));
      // The Application Insights settings are the host's and the app's both: checked with the host's above.
      expect([...appOwn].sort()).toEqual(READ.filter((n) => !(n in LEFT_OUT) && !HOST_SETTINGS.includes(n)).sort());
      for (const name of SETTINGS.required) expect(names).toContain(name);
      expect(SETTINGS.oneOf.filter((n) => names.includes(n))).toEqual(['JOB_STATE_TABLE_ENDPOINT']);
    });

    it('connect the job queue with the identity, never with a key: JobQueue__queueServiceUri, __credential, __clientId', () => {
      const jobQueue = [...settings().keys()].filter((n) => connectionOf(n) === 'JobQueue').sort();
      expect(jobQueue).toEqual(['JobQueue__clientId', 'JobQueue__credential', 'JobQueue__queueServiceUri']);
      expect(String(settings().get('JobQueue__queueServiceUri'))).toBe(
        reference(account().id, '.primaryEndpoints.queue'),
      );
      expect(settings().get('JobQueue__credential')).toBe('managedidentity');
      expect(String(settings().get('JobQueue__clientId'))).toBe(clientId());
    });

    it('name the queue, the tables and the endpoints the template creates', () => {
      const s = settings();
      expect(s.get('JOB_QUEUE_NAME')).toBe('job-runs');
      expect(all('Microsoft.Storage/storageAccounts/queueServices/queues').map((q) => q.id)).toContain(
        child('Microsoft.Storage/storageAccounts/queueServices/queues', 'default', 'job-runs'),
      );
      const tables = all('Microsoft.Storage/storageAccounts/tableServices/tables').map((t) => t.id);
      expect(s.get('JOB_STATE_TABLE_NAME')).toBe(DEFAULT_TABLE_NAME);
      expect(s.get('ITEMS_TABLE_NAME')).toBe('Items');
      for (const table of [DEFAULT_TABLE_NAME, 'Items'])
        expect(tables).toContain(child('Microsoft.Storage/storageAccounts/tableServices/tables', 'default', table));
      expect(String(s.get('JOB_STATE_TABLE_ENDPOINT'))).toBe(reference(account().id, '.primaryEndpoints.table'));
      expect(String(s.get('AzureWebJobsStorage__blobServiceUri'))).toBe(
        reference(account().id, '.primaryEndpoints.blob'),
      );
    });

    it('pass the Entra values through and take the authority from the cloud deployed to', () => {
      const s = settings();
      expect(s.get('PUBLISHER_TENANT_ID')).toBe(ENTRA.publisherTenantId);
      expect(s.get('WORKLOAD_CLIENT_ID')).toBe(ENTRA.workloadClientId);
      expect(s.get('WORKLOAD_AUDIENCE')).toBe(ENTRA.workloadAudience);
      expect(s.get('ENTRA_AUTHORITY_HOST')).toBe('https://login.microsoftonline.com/');
    });

    it('carry endpointResolutionUrls as JSON text, {} by default', () => {
      expect(settings().get('ENDPOINT_RESOLUTION_URLS')).toBe('{}');
      const urls = { westeurope: 'https://weu.backend.example/api', default: 'https://backend.example/api' };
      const withUrls = deploy(template, { ...REQUIRED, endpointResolutionUrls: urls });
      expect(JSON.parse(String(settings(withUrls).get('ENDPOINT_RESOLUTION_URLS')))).toEqual(urls);
      expect(template.parameters!.endpointResolutionUrls).toEqual(
        expect.objectContaining({ type: 'object', defaultValue: {} }),
      );
    });

    it('authenticate host storage, telemetry and the table client as the one identity', () => {
      const s = settings();
      expect(s.get('AzureWebJobsStorage__credential')).toBe('managedidentity');
      for (const name of ['AzureWebJobsStorage__clientId', 'AZURE_CLIENT_ID'])
        expect(String(s.get(name)), name).toBe(clientId());
      expect(s.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(`Authorization=AAD;ClientId=${clientId()}`);
    });

    it("act for the user keylessly: the workload app's client assertion is the identity's token", () => {
      const s = settings();
      expect(s.get('WORKLOAD_CLIENT_CREDENTIAL')).toBe('managedIdentity');
      expect(String(s.get('WORKLOAD_MANAGED_IDENTITY_CLIENT_ID'))).toBe(clientId());
      for (const name of ['WORKLOAD_CLIENT_CERTIFICATE', 'WORKLOAD_CLIENT_SECRET'])
        expect([...s.keys()]).not.toContain(name);
    });

    it('read the two assertion keys as versionless Key Vault references to the two secrets, as the identity', () => {
      const vault = one('Microsoft.KeyVault/vaults');
      for (const [setting, secret] of Object.entries(KEY_SECRETS)) {
        // No version after the secret's name, so the app follows a new value; the trailing slash is Microsoft's form.
        expect(settings().get(setting), setting).toBe(
          `@Microsoft.KeyVault(SecretUri=https://${vault.name}.vault.azure.net/secrets/${secret}/)`,
        );
        expect(all('Microsoft.KeyVault/vaults/secrets').map((x) => x.name)).toContain(`${vault.name}/${secret}`);
      }
      // Resolved with the user-assigned identity, not a system-assigned one the app does not have.
      expect(site().properties.keyVaultReferenceIdentity).toBe(identityId());
      expect(site().identity.type).toBe('UserAssigned');
    });

    it('start the app only once the identity may read the keys (the role assignments are deployed first)', () => {
      const dependsOn = one('Microsoft.Web/sites').body.dependsOn as string[];
      expect(dependsOn).toContain(resourceId('Microsoft.Resources/deployments', 'roles'));
      const roles = all('Microsoft.Authorization/roleAssignments').filter((a) => a.module === 'roles');
      expect(roles.map((a) => a.scope)).toEqual(
        expect.arrayContaining(Object.values(KEY_SECRETS).map((secret) => keyVaultSecret(secret))),
      );
    });

    it('include nothing Flex Consumption deprecates', () => {
      for (const name of FLEX_DEPRECATED_SETTINGS) expect([...settings().keys()]).not.toContain(name);
      const keys = [...Object.keys(site().properties), ...Object.keys(site().properties.siteConfig)].map((k) =>
        k.toLowerCase(),
      );
      for (const key of FLEX_DEPRECATED_SITE_PROPERTIES) expect(keys).not.toContain(key.toLowerCase());
    });
  });

  describe('function app', () => {
    it('runs Node.js 22 on a Flex Consumption (FC1) Linux plan', () => {
      const plan = one('Microsoft.Web/serverfarms');
      expect(plan.body.sku).toEqual({ tier: 'FlexConsumption', name: 'FC1' });
      expect(plan.body.properties.reserved).toBe(true);
      expect(site().kind).toBe('functionapp,linux');
      expect(site().properties.serverFarmId).toBe(plan.id);
      expect(site().properties.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    });

    it('accepts HTTPS only, TLS 1.2 and up, and no FTP or SCM basic credentials', () => {
      expect(site().properties.httpsOnly).toBe(true);
      expect(site().properties.siteConfig.minTlsVersion).toBe('1.2');
      const policies = all('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
      expect(policies.map((p) => p.name.split('/')[1]).sort()).toEqual(['ftp', 'scm']);
      for (const policy of policies) expect(policy.body.properties).toEqual({ allow: false });
    });

    it('runs as the one user-assigned identity, which also reads the deployment package', () => {
      expect(site().identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identityId()]: {} } });
      expect(all('Microsoft.ManagedIdentity/userAssignedIdentities')).toHaveLength(1);
      const storage = site().properties.functionAppConfig.deployment.storage;
      expect(storage.type).toBe('blobContainer');
      expect(storage.value).toBe(`${reference(account().id, '.primaryEndpoints.blob')}app-package`);
      expect(storage.authentication).toEqual({
        type: 'UserAssignedIdentity',
        userAssignedIdentityResourceId: identityId(),
      });
    });

    it('carries the tag azd finds service "api" by, besides the caller\'s tags', () => {
      expect(site().tags).toEqual({ 'azd-service-name': 'api' });
      expect(site(deploy(template, { ...REQUIRED, tags: { team: 'jobs' } })).tags).toEqual({
        team: 'jobs',
        'azd-service-name': 'api',
      });
    });
  });

  describe('storage', () => {
    it('refuses keys, anonymous blobs, plain HTTP and TLS below 1.2', () => {
      expect(account().body.properties).toEqual({
        allowSharedKeyAccess: false,
        allowBlobPublicAccess: false,
        defaultToOAuthAuthentication: true,
        minimumTlsVersion: 'TLS1_2',
        supportsHttpsTrafficOnly: true,
      });
      expect(one('Microsoft.Storage/storageAccounts/blobServices/containers').body.properties).toEqual({
        publicAccess: 'None',
      });
    });

    it('holds the two tables, the job queue and its poison queue', () => {
      const names = (type: string) =>
        all(`Microsoft.Storage/storageAccounts/${type}`)
          .map((r) => r.name.split('/').at(-1))
          .sort();
      expect(names('tableServices/tables')).toEqual(['Items', 'JobInstances']);
      expect(names('queueServices/queues')).toEqual(['job-runs', 'job-runs-poison']);
    });

    it('Log Analytics and Application Insights refuse local authentication', () => {
      expect(one('Microsoft.OperationalInsights/workspaces').body.properties.features).toEqual({
        disableLocalAuth: true,
      });
      expect(one('Microsoft.Insights/components').body.properties.DisableLocalAuth).toBe(true);
    });
  });

  describe('Key Vault', () => {
    const vault = () => one('Microsoft.KeyVault/vaults');
    const secrets = (of = deployment) => all('Microsoft.KeyVault/vaults/secrets', of);

    it('authorizes with Azure RBAC alone, keeps deleted secrets and cannot be purged', () => {
      expect(vault().body.properties).toEqual({
        tenantId: TARGET.tenantId,
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: true,
        accessPolicies: [],
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
        enablePurgeProtection: true,
        // As storage: a public endpoint that takes Entra-authenticated callers only (the app has no virtual network).
        publicNetworkAccess: 'Enabled',
        enabledForDeployment: false,
        enabledForDiskEncryption: false,
        enabledForTemplateDeployment: false,
      });
      expect(vault().name).toMatch(/^[a-z][a-z0-9-]{2,23}$/);
    });

    it('holds exactly the two keys, each the value of its own parameter', () => {
      const byName = (of: Deployment) =>
        Object.fromEntries(secrets(of).map((x) => [x.name.split('/')[1], x.body.properties.value]));
      expect(byName(deployment)).toEqual({
        'user-assertion-key': KEYS.userAssertionKey,
        'user-assertion-key-previous': KEYS.userAssertionKeyPrevious,
      });
      // A rotation is a deployment with new values: the secrets follow the parameters, each its own.
      const rotated = { userAssertionKey: 'N'.repeat(64), userAssertionKeyPrevious: KEYS.userAssertionKey };
      expect(byName(deploy(template, { ...ENTRA, ...rotated }))).toEqual({
        'user-assertion-key': rotated.userAssertionKey,
        'user-assertion-key-previous': rotated.userAssertionKeyPrevious,
      });
      for (const secret of secrets()) expect(secret.body.properties).toEqual({ value: expect.any(String) });
    });

    it('keeps the keys out of every output and every app setting', () => {
      const text = JSON.stringify({ outputs: deployment.outputs, settings: [...settings().values()] });
      for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
      for (const name of Object.keys(KEYS)) expect(template.outputs ?? {}).not.toHaveProperty(name);
    });
  });

  describe('role assignments', () => {
    const assignments = (of = deployment) =>
      all('Microsoft.Authorization/roleAssignments', of).map((a) => ({
        role:
          Object.entries(ROLE).find(([, id]) => roleDefinitionId(id) === a.body.properties.roleDefinitionId)?.[0] ??
          a.body.properties.roleDefinitionId,
        scope: a.scope,
        principal: String(a.body.properties.principalId),
        principalType: a.body.properties.principalType,
        name: a.name,
      }));
    const queue = (name: string) => child('Microsoft.Storage/storageAccounts/queueServices/queues', 'default', name);
    const table = (name: string) => child('Microsoft.Storage/storageAccounts/tableServices/tables', 'default', name);

    it('give the identity exactly these roles, each on the narrowest scope', () => {
      const appInsights = one('Microsoft.Insights/components').id;
      const app = reference(identityId(), '.principalId');
      const granted = assignments().map(({ role, scope, principal, principalType }) => ({
        role,
        scope,
        principal,
        principalType,
      }));
      const expected = [
        ['storageBlobDataOwner', account().id],
        ['storageTableDataContributor', table(DEFAULT_TABLE_NAME)],
        ['storageTableDataContributor', table('Items')],
        ['storageQueueDataReader', queue('job-runs')],
        ['storageQueueDataMessageProcessor', queue('job-runs')],
        ['storageQueueDataMessageSender', queue('job-runs')],
        ['storageQueueDataReader', queue('job-runs-poison')],
        ['storageQueueDataMessageProcessor', queue('job-runs-poison')],
        ['storageQueueDataMessageSender', queue('job-runs-poison')],
        ['monitoringMetricsPublisher', appInsights],
        ['keyVaultSecretsUser', keyVaultSecret('user-assertion-key')],
        ['keyVaultSecretsUser', keyVaultSecret('user-assertion-key-previous')],
      ].map(([role, scope]) => ({ role, scope, principal: app, principalType: 'ServicePrincipal' }));
      expect(granted).toEqual(expected);
    });

    it("put no table or queue role on the account: only the host's blob role is there", () => {
      const onAccount = assignments().filter((a) => a.scope === account().id);
      expect(onAccount.map((a) => a.role)).toEqual(['storageBlobDataOwner']);
    });

    it('put no role on the vault: the identity reads the two key secrets and nothing else in it', () => {
      const vault = one('Microsoft.KeyVault/vaults').id;
      const inVault = assignments().filter((a) => a.scope === vault || a.scope!.startsWith(`${vault}/`));
      expect(inVault.map((a) => [a.role, a.scope])).toEqual([
        ['keyVaultSecretsUser', keyVaultSecret('user-assertion-key')],
        ['keyVaultSecretsUser', keyVaultSecret('user-assertion-key-previous')],
      ]);
    });

    it('have deterministic names, guid(scope, identity, role), known when the deployment starts', () => {
      for (const a of assignments())
        expect(a.name).toBe(`guid(${a.scope}, ${identityId()}, ${ROLE[a.role as keyof typeof ROLE]})`);
    });

    it('grant an outside job runner, only when named, write access to the job table alone', () => {
      const runner = (of: Deployment) => assignments(of).filter((a) => a.principal === RUNNER);
      expect(runner(deployment)).toEqual([]);
      const withRunner = deploy(template, {
        ...REQUIRED,
        jobRunnerPrincipalId: RUNNER,
        jobRunnerPrincipalType: 'Group',
      });
      expect(runner(withRunner)).toEqual([
        {
          role: 'storageTableDataContributor',
          scope: table(DEFAULT_TABLE_NAME),
          principal: RUNNER,
          principalType: 'Group',
          name: `guid(${table(DEFAULT_TABLE_NAME)}, ${RUNNER}, ${ROLE.storageTableDataContributor})`,
        },
      ]);
    });
  });

  describe('alerts', () => {
    const rules = (of = deployment) => all('Microsoft.Insights/scheduledQueryRules', of);
    const group = (of = deployment) => one('Microsoft.Insights/actionGroups', of);
    const kql = (file: string) => readFileSync(join(INFRA_DIR, 'alerts', file), 'utf8');

    it('are log search alerts on Application Insights, one per infra/alerts/*.kql file, named after it', () => {
      const appInsights = one('Microsoft.Insights/components');
      const byName = new Map(rules().map((r) => [r.name.replace(/-fabricjobs$/, ''), r.body.properties]));
      // serverErrors.kql is the query of the alert server-errors, and so on for every file.
      const files = Object.fromEntries(
        readdirSync(join(INFRA_DIR, 'alerts'))
          .filter((file) => file.endsWith('.kql'))
          .map((file) => [file.replace(/\.kql$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), file]),
      );
      expect(Object.keys(files).length).toBeGreaterThan(0);
      expect([...byName.keys()].sort()).toEqual(Object.keys(files).sort());
      for (const [name, properties] of byName) {
        expect(properties.scopes, name).toEqual([appInsights.id]);
        expect(properties.criteria.allOf[0].query, name).toBe(kql(files[name]));
        expect(properties.criteria.allOf[0]).toMatchObject({ timeAggregation: 'Count', operator: 'GreaterThan' });
        expect(properties.actions.actionGroups, name).toEqual([group().id]);
        expect(properties.enabled).toBe(true);
      }
      expect(byName.get('signing-keys-unavailable')!.criteria.allOf[0].threshold).toBe(0);
      expect(byName.get('server-errors')!.criteria.allOf[0].threshold).toBe(5);
      expect(byName.get('auth-failures')!.criteria.allOf[0].threshold).toBe(20);
    });

    it('take their thresholds from parameters', () => {
      const tuned = deploy(template, { ...REQUIRED, serverErrorAlertThreshold: 50, authFailureAlertThreshold: 200 });
      const threshold = (name: string) =>
        rules(tuned).find((r) => r.name.startsWith(name))!.body.properties.criteria.allOf[0].threshold;
      expect(threshold('server-errors')).toBe(50);
      expect(threshold('auth-failures')).toBe(200);
    });

    it('notify through one action group that e-mails only when alertEmail is given', () => {
      expect(group().body.location).toBe('global');
      expect(group().body.properties.emailReceivers).toEqual([]);
      const mailed = deploy(template, { ...REQUIRED, alertEmail: 'ops@contoso.example' });
      expect(group(mailed).body.properties.emailReceivers).toEqual([
        { name: 'operator', emailAddress: 'ops@contoso.example', useCommonAlertSchema: true },
      ]);
    });
  });

  describe('outputs', () => {
    it('include every output the deployment guide names', () => {
      const table = deployGuide.slice(
        deployGuide.indexOf('The deployment prints:'),
        deployGuide.indexOf('## Prerequisites'),
      );
      const named = [...table.matchAll(/^\| ((?:`\w+`(?:, )?)+) \|/gm)].flatMap((m) =>
        m[1].split(', ').map((n) => n.replace(/`/g, '')),
      );
      expect(named.length).toBeGreaterThan(5);
      for (const name of named) expect(deployment.outputs, name).toHaveProperty(name);
      expect(Object.keys(deployment.outputs).sort()).toEqual([...named].sort());
    });

    it('give what the federated credential needs: the identity as subject, its tenant in the issuer', () => {
      expect(String(deployment.outputs.identityPrincipalId)).toBe(reference(identityId(), '.principalId'));
      expect(deployment.outputs.federatedCredentialIssuer).toBe(
        `https://login.microsoftonline.com/${reference(identityId(), '.tenantId')}/v2.0`,
      );
      expect(deployment.outputs.keyVaultName).toBe(one('Microsoft.KeyVault/vaults').name);
    });

    it('give the backend URL for the workload manifest and where the job queue is', () => {
      const siteId = one('Microsoft.Web/sites').id;
      expect(deployment.outputs.fabricBackendUrl).toBe(`https://${reference(siteId, '.defaultHostName')}/api`);
      expect(String(deployment.outputs.jobQueueServiceUri)).toBe(reference(account().id, '.primaryEndpoints.queue'));
      expect(deployment.outputs.jobQueueName).toBe('job-runs');
      expect(deployment.outputs.storageAccountName).toBe(account().name);
    });
  });
});
