import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_PACKAGE_DIR, writePackageDir } from '../../dev/package';
import { INFRA_DIR } from '../fixtures/bicep';

/**
 * azure.yaml, the Azure Developer CLI's project file (`azd up`), against
 * azd's own published schema (vendored in test/fixtures/azd, see its README)
 * and against the conventions azd follows for a TypeScript function app.
 */

const ROOT = join(INFRA_DIR, '..');
const project = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
  name: string;
  infra: { provider: string; path: string; module: string };
  services: Record<
    string,
    {
      project: string;
      language: string;
      host: string;
      dist: string;
      hooks: Record<string, { shell: string; run: string }>;
    }
  >;
};
const schema = JSON.parse(
  readFileSync(join(ROOT, 'test', 'fixtures', 'azd', 'azure.yaml.schema.json'), 'utf8'),
) as object;

/** The schemas for Azure AI Foundry hosts that azd's schema refers to and that are not vendored. */
const FOUNDRY_SCHEMAS =
  JSON.stringify(schema).match(
    /https:\/\/raw\.githubusercontent\.com\/Azure\/azure-dev\/main\/cli\/azd\/extensions\/[^"#]+\.json/g,
  ) ?? [];

function validator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // Empty stand-ins: they only constrain services whose host is one of those Foundry kinds, which azure.yaml has none of.
  for (const id of new Set(FOUNDRY_SCHEMAS)) ajv.addSchema({ $id: id }, id);
  return ajv.compile(schema);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)],
  );
}

describe('azure.yaml', () => {
  it("is valid against azd's published schema", () => {
    const validate = validator();
    expect(validate(project), JSON.stringify(validate.errors)).toBe(true);
  });

  it('is checked by a schema that can tell: a broken azure.yaml fails', () => {
    const validate = validator();
    expect(validate({ ...project, name: 'Not A Valid Name' })).toBe(false);
    expect(validate({ services: project.services })).toBe(false);
    const hooks = { prepackage: { shell: 'cmd', run: 'npm run package' } };
    expect(validate({ ...project, services: { api: { ...project.services.api, hooks } } })).toBe(false);
  });

  it('uses none of the hosts whose schemas are stood in for', () => {
    expect(FOUNDRY_SCHEMAS.length).toBeGreaterThan(0);
    for (const service of Object.values(project.services))
      expect(service.host).not.toMatch(/^(azure\.ai\.|microsoft\.foundry)/);
  });

  it('names the project as package.json names the package', () => {
    const { name } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string };
    expect(project.name).toBe(name);
    expect(name).toBe('fabric-workload-backend');
  });

  it('deploys one service, api: a TypeScript function app from the repository root', () => {
    expect(Object.keys(project.services)).toEqual(['api']);
    expect(project.services.api).toMatchObject({ project: '.', language: 'ts', host: 'function' });
  });

  it('provisions infra/main.bicep, the template the az commands deploy', () => {
    expect(project.infra).toEqual({ provider: 'bicep', path: 'infra', module: 'main' });
    expect(readdirSync(INFRA_DIR)).toContain('main.bicep');
  });

  it('packages with npm run package and uploads exactly its files, unzipped, nothing stale', () => {
    const api = project.services.api;
    expect(api.hooks.prepackage).toEqual({ shell: 'sh', run: 'npm run package' });
    expect(join(ROOT, api.dist)).toBe(DEFAULT_PACKAGE_DIR);
    // The package's own files (packageFiles, which the zip holds too) stand in for by a small set here:
    // the real bundle may be rebuilt by another test file while this one runs.
    const files = new Map([
      ['host.json', Buffer.from('{}')],
      ['package.json', Buffer.from('{"main":"dist/app/main.js"}')],
      ['dist/app/main.js', Buffer.from('module.exports = {};')],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'azd-package-'));
    try {
      writeFileSync(join(dir, 'stale.js'), 'left from an older package');
      expect(writePackageDir(dir, files)).toEqual([...files.keys()]);
      expect(
        filesUnder(dir)
          .map((f) => relative(dir, f).split('\\').join('/'))
          .sort(),
      ).toEqual([...files.keys()].sort());
      for (const [path, data] of files) expect(readFileSync(join(dir, path)).equals(data), path).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
