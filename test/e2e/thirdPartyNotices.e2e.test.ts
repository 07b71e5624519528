import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allMetafiles, BUNDLE_DIR, NOTICES, readBundleMeta } from '../../dev/bundle';
import { packageDirOf } from '../../dev/thirdPartyNotices';

const ROOT = join(__dirname, '..', '..');
/** npm test has built: the bundles, their metafiles and the notice of the last build. */
const meta = readBundleMeta();
const notices = readFileSync(NOTICES, 'utf8');

/**
 * Read here without the generator's code: every package folder with a file
 * that esbuild says put bytes into an output.
 */
function packagesInTheBundles(): { name: string; version: string; license: string; dir: string }[] {
  const dirs = new Set<string>();
  for (const metafile of allMetafiles(meta)) {
    for (const output of Object.values(metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
        if (match && bytesInOutput > 0) dirs.add(match[1]);
      }
    }
  }
  return [...dirs].map((dir) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
    return { name: manifest.name, version: manifest.version, license: manifest.license, dir };
  });
}

describe('THIRD-PARTY-NOTICES.txt of the bundles', () => {
  const packages = packagesInTheBundles();

  it('describes the bundles as built (the metafiles are of these files)', () => {
    for (const metafile of allMetafiles(meta)) {
      for (const [output, { bytes }] of Object.entries(metafile.outputs))
        expect(statSync(join(ROOT, output)).size, output).toBe(bytes);
    }
    expect(readdirSync(BUNDLE_DIR).filter((name) => name.endsWith('.LEGAL.txt'))).toEqual([]);
  });

  it('lists every package whose code is in a bundle, and nothing else', () => {
    expect(packages.length).toBeGreaterThan(40);
    for (const p of packages) expect(notices, p.name).toContain(`\n  ${p.name} ${p.version} (${p.license})\n`);
    const listed = notices.split('\n').filter((line) => /^ {2}\S+ \S+ \(.+\)$/.test(line));
    expect(listed).toHaveLength(packages.length);
  });

  it('names the packages a reader would look for first', () => {
    for (const name of [
      'jsonwebtoken',
      'jws',
      'jwa',
      '@azure/data-tables',
      '@azure/core-rest-pipeline',
      '@azure/identity',
      '@azure/msal-node',
      'semver',
      'lodash.once',
      'fast-xml-parser',
      'cookie',
      'safe-buffer',
      'tslib',
    ]) {
      expect(packages.map((p) => p.name)).toContain(name);
    }
  });

  it("gives each package its licence text: the package's own file, or the declared MIT terms with its author", () => {
    const rule = '='.repeat(100);
    for (const p of packages) {
      const header = `\n${p.name} ${p.version}\nLicense: ${p.license}\nText: `;
      const start = notices.indexOf(header);
      expect(start, p.name).toBeGreaterThan(0);
      const next = notices.indexOf(`\n\n${rule}\n`, notices.indexOf(`${rule}\n`, start + header.length) + rule.length);
      const section = notices.slice(start, next < 0 ? undefined : next);
      const file = readdirSync(join(ROOT, p.dir)).find((entry) =>
        /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i.test(entry),
      );
      if (file) expect(section, p.name).toContain(readFileSync(join(ROOT, p.dir, file), 'utf8').trim());
      else
        expect(section, p.name).toMatch(
          /ships no licence file; its package\.json declares MIT with author .+\n[\s\S]*Copyright \(c\) .+\n\nPermission is hereby granted/,
        );
    }
  });
});

describe('packageDirOf', () => {
  it('finds the innermost package of a path, scoped or not, and none for project code', () => {
    expect(packageDirOf('node_modules/@azure/core-auth/dist/commonjs/index.js')).toBe('node_modules/@azure/core-auth');
    expect(packageDirOf('node_modules/jws/node_modules/safe-buffer/index.js')).toBe(
      'node_modules/jws/node_modules/safe-buffer',
    );
    expect(packageDirOf('src/functions/getItemJobInstanceState.ts')).toBeUndefined();
    expect(existsSync(join(ROOT, 'node_modules', 'jws'))).toBe(true);
  });
});
