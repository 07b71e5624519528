/**
 * `npm run package`: the deployment zip of the Functions app, built from the
 * bundle (`npm run build` makes it first). It holds exactly:
 *   host.json
 *   package.json   name, version, description, private and `main`: no
 *                  dependencies, the bundle needs no node_modules
 *   dist/app/*     the bundled function, the lazily loaded identity, queue, telemetry and blob bundles and
 *                  THIRD-PARTY-NOTICES.txt, the licences of what they bundle
 * Nothing else: no sources, tests, dev tools, maps or local settings. Entries
 * carry a fixed date so that the same build gives the same zip. The same files
 * also go, unzipped, to dist/deploy/function-app/: the folder azure.yaml hands
 * to `azd deploy`, which zips it itself.
 *
 *   node dist/dev/package.js [--out <file>]   (default dist/deploy/function-app.zip)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { BUNDLE_DIR, BUNDLE_ENTRY, NOTICES } from './bundle';
import { PROJECT_ROOT } from './projectRoot';

export const DEFAULT_PACKAGE = join(PROJECT_ROOT, 'dist', 'deploy', 'function-app.zip');
/** azure.yaml's `dist`. */
export const DEFAULT_PACKAGE_DIR = join(PROJECT_ROOT, 'dist', 'deploy', 'function-app');
// Zip stores local time, and fflate reads the date's local fields: a local-time
// date gives the same bytes in every time zone.
const FIXED_DATE = new Date(2020, 0, 1);

/** The files of the package: path inside the zip → contents. */
export function packageFiles(): Map<string, Uint8Array> {
  const project = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const main = relative(PROJECT_ROOT, BUNDLE_ENTRY).split('\\').join('/');
  const manifest = {
    name: project.name,
    version: project.version,
    description: project.description,
    private: true,
    main,
  };
  const files = new Map<string, Uint8Array>([
    ['host.json', readFileSync(join(PROJECT_ROOT, 'host.json'))],
    ['package.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)],
  ]);
  for (const name of readdirSync(BUNDLE_DIR).sort()) {
    if (name.endsWith('.js') || name === basename(NOTICES))
      files.set(`${main.slice(0, main.lastIndexOf('/'))}/${name}`, readFileSync(join(BUNDLE_DIR, name)));
  }
  return files;
}

export function writePackage(out = DEFAULT_PACKAGE): { out: string; bytes: number; files: string[] } {
  const files = packageFiles();
  const zippable: Zippable = {};
  for (const [path, data] of files) zippable[path] = [data, { mtime: FIXED_DATE, level: 9 }];
  const zip = zipSync(zippable);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, zip);
  return { out, bytes: zip.length, files: [...files.keys()] };
}

/** The package's files, unzipped, in a folder of their own (emptied first, so nothing stale is deployed). */
export function writePackageDir(dir = DEFAULT_PACKAGE_DIR, files = packageFiles()): string[] {
  rmSync(dir, { recursive: true, force: true });
  for (const [path, data] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  return [...files.keys()];
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  const { out, bytes, files } = writePackage(at > 0 ? process.argv[at + 1] : undefined);
  process.stdout.write(
    `${relative(process.cwd(), out)}: ${(bytes / 1024).toFixed(0)} KiB, ${files.length} files\n${files.map((f) => `  ${f}`).join('\n')}\n`,
  );
  if (at < 0) {
    writePackageDir();
    process.stdout.write(`${relative(process.cwd(), DEFAULT_PACKAGE_DIR)}/: the same files, unzipped (for azd)\n`);
  }
}
