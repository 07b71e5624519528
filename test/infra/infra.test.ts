import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { DEFAULT_TABLE_NAME, SETTINGS } from '../../src/config';
import {
  INFRA_DIR,
  bicepFiles,
  body,
  call,
  declarations,
  declaredName,
  declaredTarget,
  elements,
  isConditional,
  literal,
  objectKeys,
  parameterDefault,
  parseBicep,
  parseInfraFile,
  property,
  syntaxProblems,
} from '../fixtures/bicep';

/**
 * Checks of infra/ that run without a Bicep compiler and without Azure: the
 * files parse, and what a security reviewer asks about (settings, identity,
 * roles and their scopes, keys switched off) is read from the syntax tree.
 */

const ROOT = join(INFRA_DIR, '..');
const deployGuide = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');

/** Built-in role ids, as learn.microsoft.com's generated built-in roles pages list them (docs/deploy.md#sources). */
const BUILT_IN_ROLES = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

/** The API version used for each resource type, each checked against the REST API specs (docs/deploy.md#sources). */
const API_VERSIONS: Record<string, string> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities': '2024-11-30',
  'Microsoft.Storage/storageAccounts': '2025-01-01',
  'Microsoft.Storage/storageAccounts/blobServices': '2025-01-01',
  'Microsoft.Storage/storageAccounts/blobServices/containers': '2025-01-01',
  'Microsoft.Storage/storageAccounts/tableServices': '2025-01-01',
  'Microsoft.Storage/storageAccounts/tableServices/tables': '2025-01-01',
  'Microsoft.OperationalInsights/workspaces': '2025-02-01',
  'Microsoft.Insights/components': '2020-02-02',
  'Microsoft.Web/serverfarms': '2024-11-01',
  'Microsoft.Web/sites': '2024-11-01',
  'Microsoft.Web/sites/basicPublishingCredentialsPolicies': '2024-11-01',
  'Microsoft.Authorization/roleAssignments': '2022-04-01',
};

/** Settings the Functions host and its telemetry read, not src/config.ts. */
const HOST_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

/** Settings src/config.ts reads that Azure deliberately does not set, and why. */
const LEFT_OUT = {
  ENTRA_JWKS_URI: 'its default follows ENTRA_AUTHORITY_HOST; anything else would trust keys other than Entra ID\'s',
  JOB_STATE_TABLE_CONNECTION_STRING: 'the account refuses shared keys; the identity reaches JOB_STATE_TABLE_ENDPOINT',
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
  'alwaysOn', 'containerSize', 'ftpsState', 'isReserved', 'isXenon', 'javaVersion', 'linuxFxVersion',
  'netFrameworkVersion', 'powerShellVersion', 'functionAppScaleLimit', 'preWarmedInstanceCount',
  'use32BitWorkerProcess', 'vnetBackupRestoreEnabled', 'vnetContentShareEnabled', 'vnetImagePullEnabled',
  'vnetRouteAllEnabled', 'windowsFxVersion',
];

/** Every setting src/config.ts reads. */
const READ: string[] = [...SETTINGS.required, ...SETTINGS.oneOf, ...SETTINGS.optional];

const trees = new Map<string, Node>();
beforeAll(async () => {
  for (const file of bicepFiles()) trees.set(file, await parseInfraFile(file));
});

function tree(file: string): Node {
  const root = trees.get(file);
  if (!root) throw new Error(`${file} is not under infra/`);
  return root;
}

function resources(file: string, type?: string): Node[] {
  return declarations(tree(file), 'resource_declaration').filter((r) => !type || declaredTarget(r).split('@')[0] === type);
}

function theResource(file: string, type: string): Node {
  const found = resources(file, type);
  expect(found, `${file}: exactly one ${type}`).toHaveLength(1);
  return found[0];
}

const MAIN = 'main.bicep';
const site = () => body(theResource(MAIN, 'Microsoft.Web/sites'));
const appSettings = () =>
  new Map(
    elements(property(site(), 'properties.siteConfig.appSettings')).map((setting) => [
      literal(property(setting, 'name')) ?? `<not a literal: ${setting.text}>`,
      property(setting, 'value')?.text ?? '',
    ]),
  );

describe('Bicep syntax', () => {
  it('finds the infra files', () => {
    expect(bicepFiles()).toEqual(expect.arrayContaining(['main.bicep', 'modules/storage.bicep', 'modules/monitoring.bicep', 'modules/roles.bicep']));
  });

  it('parses every .bicep file under infra/ without an error or a missing node', () => {
    for (const file of bicepFiles()) expect(syntaxProblems(tree(file)), file).toEqual([]);
  });

  it('reports where a broken file goes wrong', async () => {
    const problemsIn = async (source: string) => syntaxProblems(await parseBicep(source));
    expect(await problemsIn("param a string\nparam b string = = 'x'\n")).toEqual(['2:18 unexpected "="']);
    expect(await problemsIn("var x = {\n  a: 'b'\n  c: \n}\n")).toEqual(['3:5 missing identifier']);
    expect(await problemsIn("resource st 'Microsoft.Storage/storageAccounts@2025-01-01' = {\n  name: 'st'\n")).toEqual([
      expect.stringMatching(/^1:1 unexpected "resource st/),
    ]);
    expect(await problemsIn("param a string = 'x'\n")).toEqual([]);
  });

  it('uses the checked API version of every resource type', () => {
    const used = [...trees.keys()].flatMap((file) => resources(file).map((r) => declaredTarget(r)));
    for (const target of used) {
      const [type, version] = target.split('@');
      expect(API_VERSIONS[type], `${type} has a checked version`).toBeDefined();
      expect(version, type).toBe(API_VERSIONS[type]);
      expect(deployGuide, `docs/deploy.md lists the source of ${target}`).toContain(target);
    }
    expect(new Set(used.map((t) => t.split('@')[0]))).toEqual(new Set(Object.keys(API_VERSIONS)));
  });

  it('resolves every module to a local file under infra/', () => {
    for (const file of trees.keys()) {
      for (const module of declarations(tree(file), 'module_declaration')) {
        const path = declaredTarget(module);
        expect(path, `${file}: ${declaredName(module)} is a local file`).toMatch(/^[\w./-]+\.bicep$/);
        expect(existsSync(join(INFRA_DIR, dirname(file), path)), `${file}: ${path}`).toBe(true);
      }
    }
  });
});

describe('main.parameters.json', () => {
  const parametersFile = JSON.parse(readFileSync(join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: unknown }> };
  const supplied = Object.keys(parametersFile.parameters);
  const declared = () => new Map(declarations(tree(MAIN), 'parameter_declaration').map((p) => [declaredName(p), parameterDefault(p)]));

  it('names only parameters main.bicep declares', () => {
    for (const name of supplied) expect(declared().has(name), name).toBe(true);
  });

  it('leaves out exactly the Entra values, which have no default, so a deployment without them stops; the guide passes each with -p', () => {
    const required = [...declared()].filter(([, fallback]) => !fallback).map(([name]) => name);
    expect(required.sort()).toEqual(['publisherTenantId', 'workloadAudience', 'workloadClientId']);
    for (const name of required) {
      expect(supplied).not.toContain(name);
      expect(deployGuide).toMatch(new RegExp(`-p ${name}=`));
    }
  });

  it('keeps the table name default of the app', () => {
    expect(parametersFile.parameters.jobStateTableName.value).toBe(DEFAULT_TABLE_NAME);
    expect(literal(declared().get('jobStateTableName'))).toBe(DEFAULT_TABLE_NAME);
  });
});

describe('function app settings', () => {
  it('sets exactly the settings src/config.ts reads, less the ones left out on purpose', () => {
    const appOwn = [...appSettings().keys()].filter((name) => !HOST_SETTINGS.includes(name));
    expect(appOwn.sort()).toEqual(READ.filter((name) => !(name in LEFT_OUT)).sort());
  });

  it('sets every required setting and exactly one table connection', () => {
    const names = [...appSettings().keys()];
    for (const name of SETTINGS.required) expect(names).toContain(name);
    expect(SETTINGS.oneOf.filter((name) => names.includes(name))).toEqual(['JOB_STATE_TABLE_ENDPOINT']);
  });

  it('gives the host identity-based storage (blobs only) and Entra-authenticated telemetry', () => {
    const settings = appSettings();
    expect([...settings.keys()].filter((name) => !READ.includes(name)).sort()).toEqual([...HOST_SETTINGS].sort());
    expect(settings.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'Authorization=AAD;ClientId=${identity.properties.clientId}'");
  });

  it('names each setting once and none that Flex Consumption deprecates', () => {
    const names = elements(property(site(), 'properties.siteConfig.appSettings')).map((s) => literal(property(s, 'name')));
    expect(new Set(names).size).toBe(names.length);
    for (const name of FLEX_DEPRECATED_SETTINGS) expect(names).not.toContain(name);
    const siteKeys = [...objectKeys(property(site(), 'properties')!), ...objectKeys(property(site(), 'properties.siteConfig')!)].map((k) => k.toLowerCase());
    for (const key of FLEX_DEPRECATED_SITE_PROPERTIES) expect(siteKeys).not.toContain(key.toLowerCase());
  });
});

describe('one user-assigned identity for everything', () => {
  it('is the only identity of the app', () => {
    expect(literal(property(site(), 'identity.type'))).toBe('UserAssigned');
    expect(objectKeys(property(site(), 'identity.userAssignedIdentities')!)).toEqual(["'${identity.id}'"]);
    expect(resources(MAIN, 'Microsoft.ManagedIdentity/userAssignedIdentities').map(declaredName)).toEqual(['identity']);
  });

  it('is what the host, telemetry and the table client authenticate as', () => {
    const settings = appSettings();
    for (const name of ['AzureWebJobsStorage__clientId', 'AZURE_CLIENT_ID']) expect(settings.get(name), name).toBe('identity.properties.clientId');
    expect(settings.get('JOB_STATE_TABLE_ENDPOINT')).toBe('storage.outputs.tableEndpoint');
  });

  it('is what reads the deployment package', () => {
    const storage = property(site(), 'properties.functionAppConfig.deployment.storage')!;
    expect(literal(property(storage, 'type'))).toBe('blobContainer');
    expect(literal(property(storage, 'authentication.type'))).toBe('UserAssignedIdentity');
    expect(property(storage, 'authentication.userAssignedIdentityResourceId')?.text).toBe('identity.id');
  });

  it('is the principal every app role goes to', () => {
    const roles = declarations(tree(MAIN), 'module_declaration').find((m) => declaredTarget(m) === 'modules/roles.bicep')!;
    expect(property(body(roles), 'params.appPrincipalId')?.text).toBe('identity.properties.principalId');
  });
});

describe('function app', () => {
  it('runs Node.js 22 on a Flex Consumption (FC1) Linux plan', () => {
    expect(literal(property(site(), 'properties.functionAppConfig.runtime.name'))).toBe('node');
    expect(literal(property(site(), 'properties.functionAppConfig.runtime.version'))).toBe('22');
    expect(literal(property(site(), 'kind'))).toBe('functionapp,linux');
    const plan = body(theResource(MAIN, 'Microsoft.Web/serverfarms'));
    expect(literal(property(plan, 'sku.name'))).toBe('FC1');
    expect(literal(property(plan, 'sku.tier'))).toBe('FlexConsumption');
    expect(property(plan, 'properties.reserved')?.text).toBe('true');
  });

  it('accepts HTTPS only, TLS 1.2 and up', () => {
    expect(property(site(), 'properties.httpsOnly')?.text).toBe('true');
    expect(literal(property(site(), 'properties.siteConfig.minTlsVersion'))).toBe('1.2');
  });

  it('turns off FTP and SCM basic publishing credentials', () => {
    const policies = resources(MAIN, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies').map(body);
    expect(policies.map((p) => literal(property(p, 'name'))).sort()).toEqual(['ftp', 'scm']);
    for (const policy of policies) expect(property(policy, 'properties.allow')?.text).toBe('false');
  });

  it('outputs the app name, the Fabric backend URL, the table endpoint and the identity', () => {
    const outputs = new Map(declarations(tree(MAIN), 'output_declaration').map((o) => [declaredName(o), o.namedChildren.at(-1)?.text]));
    expect(outputs.get('fabricBackendUrl')).toBe("'https://${functionApp.properties.defaultHostName}/api'");
    for (const name of ['functionAppName', 'jobStateTableEndpoint', 'identityPrincipalId', 'identityClientId']) expect(outputs.has(name), name).toBe(true);
  });
});

describe('no keys anywhere', () => {
  it('storage refuses shared keys and anonymous blobs, below TLS 1.2', () => {
    const account = body(theResource('modules/storage.bicep', 'Microsoft.Storage/storageAccounts'));
    expect(property(account, 'properties.allowSharedKeyAccess')?.text).toBe('false');
    expect(property(account, 'properties.allowBlobPublicAccess')?.text).toBe('false');
    expect(literal(property(account, 'properties.minimumTlsVersion'))).toBe('TLS1_2');
  });

  it('Log Analytics and Application Insights refuse local authentication', () => {
    const workspace = body(theResource('modules/monitoring.bicep', 'Microsoft.OperationalInsights/workspaces'));
    expect(property(workspace, 'properties.features.disableLocalAuth')?.text).toBe('true');
    const appInsights = body(theResource('modules/monitoring.bicep', 'Microsoft.Insights/components'));
    expect(property(appInsights, 'properties.DisableLocalAuth')?.text).toBe('true');
  });
});

describe('role assignments', () => {
  const ROLES = 'modules/roles.bicep';
  const roleIds = () => {
    const roleVar = declarations(tree(ROLES), 'variable_declaration').find((v) => declaredName(v) === 'roleIds')!;
    const object = roleVar.namedChildren.at(-1)!;
    return Object.fromEntries(objectKeys(object).map((key) => [key, literal(property(object, key))]));
  };
  /** Which resource type each assignment's scope is, from the symbol it names. */
  const scopeTypes = () => new Map(resources(ROLES).map((r) => [declaredName(r), declaredTarget(r).split('@')[0]]));

  const assignments = () =>
    resources(ROLES, 'Microsoft.Authorization/roleAssignments').map((declaration) => {
      const assignment = body(declaration);
      const definition = call(property(assignment, 'properties.roleDefinitionId'));
      const name = call(property(assignment, 'name'));
      const scope = property(assignment, 'scope')!.text;
      return {
        symbol: declaredName(declaration),
        role: definition?.args[1]?.text.replace(/^roleIds\./, ''),
        definitionCall: definition && `${definition.name}(${literal(definition.args[0])})`,
        nameArgs: name && `${name.name}(${name.args.map((a) => a.text).join(', ')})`,
        principalId: property(assignment, 'properties.principalId')?.text,
        principalType: property(assignment, 'properties.principalType')?.text,
        scope,
        scopeType: scopeTypes().get(scope),
        conditional: isConditional(declaration),
      };
    });

  it('use the built-in role definition ids', () => {
    expect(roleIds()).toEqual(BUILT_IN_ROLES);
    for (const assignment of assignments()) {
      expect(assignment.definitionCall, assignment.symbol).toBe('subscriptionResourceId(Microsoft.Authorization/roleDefinitions)');
    }
  });

  it('grant exactly these roles on exactly these scopes', () => {
    const granted = assignments().map(({ role, scopeType, principalId, conditional }) => ({ role, scopeType, principalId, conditional }));
    expect(granted).toEqual([
      { role: 'storageBlobDataOwner', scopeType: 'Microsoft.Storage/storageAccounts', principalId: 'appPrincipalId', conditional: false },
      { role: 'storageTableDataReader', scopeType: 'Microsoft.Storage/storageAccounts/tableServices/tables', principalId: 'appPrincipalId', conditional: false },
      { role: 'monitoringMetricsPublisher', scopeType: 'Microsoft.Insights/components', principalId: 'appPrincipalId', conditional: false },
      { role: 'storageTableDataContributor', scopeType: 'Microsoft.Storage/storageAccounts/tableServices/tables', principalId: 'jobRunnerPrincipalId', conditional: true },
    ]);
  });

  it('scope the table roles to the job-state table that main.bicep names', () => {
    const table = body(resources(ROLES, 'Microsoft.Storage/storageAccounts/tableServices/tables')[0]);
    expect(property(table, 'name')?.text).toBe('tableName');
    const roles = declarations(tree(MAIN), 'module_declaration').find((m) => declaredTarget(m) === 'modules/roles.bicep')!;
    expect(property(body(roles), 'params.tableName')?.text).toBe('storage.outputs.tableName');
  });

  it('have deterministic names: guid(scope, principal, role)', () => {
    for (const a of assignments()) expect(a.nameArgs, a.symbol).toBe(`guid(${a.scope}.id, ${a.principalId}, roleIds.${a.role})`);
  });

  it('name the managed identity a ServicePrincipal and let the job runner be any kind', () => {
    const types = new Map(assignments().map((a) => [a.principalId, a.principalType]));
    expect(types.get('appPrincipalId')).toBe("'ServicePrincipal'");
    expect(types.get('jobRunnerPrincipalId')).toBe('jobRunnerPrincipalType');
  });
});
