import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import {
  INFRA_DIR,
  bicepFiles,
  declarations,
  declaredName,
  declaredTarget,
  parseBicep,
  parseInfraFile,
  syntaxProblems,
} from '../fixtures/bicep';

/**
 * Checks of infra/ that run without a Bicep compiler: every file parses, its
 * modules are files here, and every API version is one docs/deploy.md lists a
 * source for. What the templates mean (settings, identity, roles and their
 * scopes, keys switched off) is checked on the compiled ARM JSON, in
 * compiled.test.ts, wherever the compiler is.
 */

const ROOT = join(INFRA_DIR, '..');
const deployGuide = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');

/**
 * The API version used for each resource type: the newest stable one the pinned
 * Bicep compiler knows (so use-recent-api-versions never turns red with time
 * alone), each checked against the REST API specs (docs/deploy.md#sources).
 */
const API_VERSIONS: Record<string, string> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities': '2024-11-30',
  'Microsoft.Storage/storageAccounts': '2026-09-01',
  'Microsoft.Storage/storageAccounts/blobServices': '2026-09-01',
  'Microsoft.Storage/storageAccounts/blobServices/containers': '2026-09-01',
  'Microsoft.Storage/storageAccounts/tableServices': '2026-09-01',
  'Microsoft.Storage/storageAccounts/tableServices/tables': '2026-09-01',
  'Microsoft.Storage/storageAccounts/queueServices': '2026-09-01',
  'Microsoft.Storage/storageAccounts/queueServices/queues': '2026-09-01',
  'Microsoft.OperationalInsights/workspaces': '2026-03-01',
  'Microsoft.Insights/components': '2020-02-02',
  'Microsoft.Insights/actionGroups': '2023-01-01',
  'Microsoft.Insights/scheduledQueryRules': '2026-03-01',
  'Microsoft.Web/serverfarms': '2025-03-01',
  'Microsoft.Web/sites': '2025-03-01',
  'Microsoft.Web/sites/basicPublishingCredentialsPolicies': '2025-03-01',
  'Microsoft.Authorization/roleAssignments': '2022-04-01',
  'Microsoft.KeyVault/vaults': '2026-05-15',
  'Microsoft.KeyVault/vaults/secrets': '2026-05-15',
};

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
  return declarations(tree(file), 'resource_declaration').filter(
    (r) => !type || declaredTarget(r).split('@')[0] === type,
  );
}

describe('Bicep syntax', () => {
  it('finds the infra files', () => {
    expect(bicepFiles()).toEqual(
      expect.arrayContaining([
        'main.bicep',
        'modules/storage.bicep',
        'modules/monitoring.bicep',
        'modules/roles.bicep',
        'modules/keyVault.bicep',
      ]),
    );
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
