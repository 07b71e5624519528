import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { readConfig, SETTINGS } from '../../src/config';
import { appSettingsOf, devSettings } from '../../dev/devSettings';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const sample = JSON.parse(read('local.settings.sample.json')) as {
  Values: Record<string, string>;
  Host: { LocalHttpPort: number };
};

describe('local.settings.sample.json', () => {
  it('names every setting the app reads', () => {
    for (const name of [...SETTINGS.required, ...SETTINGS.oneOf, ...SETTINGS.optional])
      expect(sample.Values).toHaveProperty(name);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  });

  it('is a configuration the app accepts', () => {
    expect(() => readConfig(sample.Values)).not.toThrow();
  });

  it('points at the development stack that npm start runs', () => {
    const dev = appSettingsOf(devSettings({}, ROOT));
    for (const name of [
      'PUBLISHER_TENANT_ID',
      'WORKLOAD_CLIENT_ID',
      'WORKLOAD_AUDIENCE',
      'ENTRA_JWKS_URI',
      'JOB_STATE_TABLE_NAME',
      'ITEMS_TABLE_NAME',
      'ENDPOINT_RESOLUTION_URLS',
    ]) {
      expect(sample.Values[name]).toBe(dev[name]);
    }
    // UseDevelopmentStorage=true is Azurite's default Table endpoint, where npm start runs it.
    expect(dev.JOB_STATE_TABLE_CONNECTION_STRING).toContain('TableEndpoint=http://127.0.0.1:10002/');
    expect(String(sample.Host.LocalHttpPort)).toBe(devSettings({}, ROOT).PORT);
  });
});

describe('host.json', () => {
  const host = JSON.parse(read('host.json'));
  it('has the extension bundle Flex Consumption wants for the queue trigger, and keeps the api route prefix', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    // What Create writes (base64 of JSON) is what the trigger decodes.
    expect(host.extensions.queues.messageEncoding).toBe('base64');
    expect(host.extensions?.http?.routePrefix ?? 'api').toBe('api');
  });
});

describe('.funcignore', () => {
  const lines = read('.funcignore')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'));
  it('keeps sources, tests, dev tools, unbundled output, node_modules and local settings out of the deployed package', () => {
    for (const entry of [
      '/src',
      '/test',
      '/dev',
      '/dist/dev',
      '/dist/src',
      '/node_modules',
      '/local.settings.json',
      '*.ts',
    ])
      expect(lines).toContain(entry);
    // The restored Bicep compiler (over 100 MB) and azd's environment folder (its values) never ship.
    for (const entry of ['/.tools', '/.azure']) expect(lines).toContain(entry);
  });

  it('never excludes the bundle or the host files', () => {
    for (const line of lines)
      expect([
        'dist',
        '/dist',
        'app',
        'dist/app',
        '/dist/app',
        'main.js',
        '*.js',
        'host.json',
        'package.json',
      ]).not.toContain(line);
  });
});

describe('package-lock.json', () => {
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json'));
  const production = Object.entries(
    lock.packages as Record<string, { version?: string; integrity?: string; dev?: boolean; link?: boolean }>,
  ).filter(([path, entry]) => path !== '' && !entry.dev);

  it('records the production dependencies package.json declares', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    expect(lock.packages[''].dependencies).toEqual(pkg.dependencies);
    for (const name of Object.keys(pkg.dependencies))
      expect(production.map(([path]) => path)).toContain(`node_modules/${name}`);
  });

  it('pins every package that runs in production to one exact version and its sha512 digest', () => {
    expect(production.length).toBeGreaterThan(Object.keys(pkg.dependencies).length);
    for (const [path, entry] of production) {
      expect(entry.link, path).toBeUndefined();
      expect(entry.version, path).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
      expect(entry.integrity, path).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
  });
});

describe('docs/development.md', () => {
  const readme = read('docs/development.md');

  it("shows an npm run host example that stays on this machine: the development stack's settings and the development issuer's JWKS", () => {
    const example = /^((?: {4}[A-Za-z_]+=\S+ \\\n)+) {4}npm run host$/m.exec(readme);
    expect(example).not.toBeNull();
    const env = Object.fromEntries(
      example![1]
        .trim()
        .split(/ \\\n\s*/)
        .map((assignment) => [
          assignment.slice(0, assignment.indexOf('=')),
          assignment.slice(assignment.indexOf('=') + 1).replace(/ \\$/, ''),
        ]),
    );
    const stack = appSettingsOf(devSettings({}, ROOT));
    expect(env.ENTRA_JWKS_URI).toBe(stack.ENTRA_JWKS_URI);
    // Azurite's default Table endpoint, where npm run stack runs it by default.
    expect(env.JOB_STATE_TABLE_CONNECTION_STRING).toBe('UseDevelopmentStorage=true');
    for (const name of ['PUBLISHER_TENANT_ID', 'WORKLOAD_CLIENT_ID', 'WORKLOAD_AUDIENCE'])
      expect(env[name], name).toBe(stack[name]);
    const config = readConfig(env);
    expect(new URL(config.entraJwksUri).hostname).toBe('127.0.0.1');
  });
});

describe('the README', () => {
  const readme = read('README.md');

  it('is a quickstart: under 200 lines, the two commands first', () => {
    expect(readme.split('\n').length).toBeLessThan(200);
    const [start, test] = [readme.indexOf('    npm install && npm start\n'), readme.indexOf('    npm test\n')];
    expect(start).toBeGreaterThan(0);
    expect(test).toBeGreaterThan(start);
    expect(readme.slice(0, start)).not.toContain('\n## ');
    expect(readme.slice(0, test)).toContain('prints working `curl` commands');
  });

  it('links to every page of docs/', () => {
    for (const name of readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md')))
      expect(readme, name).toContain(`](docs/${name})`);
  });

  it("has handler snippets that compile as files of src/handlers/, with the project's compiler options", () => {
    const files = handlerSnippets(readme);
    expect(Object.keys(files).map((file) => relative(ROOT, file))).toEqual([
      join('src', 'handlers', 'refreshModel.ts'),
      join('src', 'handlers', 'modelItem.ts'),
    ]);
    // The registry of src/handlers/index.ts with the lines the README adds.
    const registry = join(ROOT, 'src', 'handlers', 'readmeRegistry.ts');
    files[registry] = `${read('src/handlers/index.ts')}
import { refreshModel } from './refreshModel';
import { modelItem } from './modelItem';
export const extended = handlers
  .item('Contoso.FinanceAnalytics.Model', modelItem)
  .job('Contoso.FinanceAnalytics.Forecast', 'refreshModel', refreshModel);
`;
    expect(typeErrors(files)).toEqual([]);
  }, 60_000);
});

/** The README's ```ts blocks whose first line names a file under src/handlers/, by absolute path. */
function handlerSnippets(markdown: string): Record<string, string> {
  return Object.fromEntries(
    [...markdown.matchAll(/^```ts\n\/\/ (src\/handlers\/\S+\.ts)\n([\s\S]*?)^```$/gm)].map(([, file, code]) => [
      join(ROOT, file),
      code,
    ]),
  );
}

/** Type-checks files that exist only in memory beside the real sources, with tsconfig.json's options. */
function typeErrors(files: Record<string, string>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  )!;
  const options = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => file in files || fileExists.call(host, file);
  host.readFile = (file) => files[file] ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) =>
    file in files
      ? ts.createSourceFile(file, files[file], language)
      : getSourceFile.call(host, file, language, ...rest);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file ? relative(ROOT, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

/** GitHub's anchors of a Markdown page: its headings, lower-cased, punctuation dropped, spaces as hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  for (const [, heading] of prose.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

describe('the project docs stand on their own', () => {
  const docs = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];

  it.each(docs)('%s cites no team file, no issue and no shared copy', (file) => {
    expect(read(file)).not.toMatch(/\b(DESIGN|AUTH|JOBS|STYLE)\.md\b|\bthe issue\b|\bshared copy\b|the team's/i);
  });

  it.each(docs)('%s links only to files that are in the repository', (file) => {
    const links = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)]
      .map(([, target]) => target)
      .filter((target) => !/^(https?:|mailto:|#)/.test(target));
    for (const target of links)
      expect(existsSync(join(ROOT, dirname(file), target.split('#')[0])), `${file} → ${target}`).toBe(true);
  });

  it.each(docs)('%s links only to headings that are there', (file) => {
    for (const [, target] of read(file).matchAll(/\]\(([^)\s]*#[^)\s]+)\)/g)) {
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const page = path ? join(dirname(file), path) : file;
      expect([...anchorsOf(read(page))], `${file} → ${target}`).toContain(anchor);
    }
  });
});
