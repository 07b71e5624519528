/**
 * Bundles the Functions app with esbuild into dist/app, the code `func start`
 * runs (package.json `main`) and the deployment package ships:
 *
 * - main.js: the function entry and every dependency it loads at start, one
 *   file, no node_modules needed. A cold instance reads and compiles one file
 *   instead of resolving hundreds (the unbundled graph takes about twice as
 *   long to load; `npm run bench` shows both).
 * - identity.js: @azure/identity, which only a managed-identity (endpoint)
 *   configuration needs, and only when the first table client is built. Kept
 *   out of main.js so that the common path does not compile it at start.
 * - queue.js: @azure/storage-queue, which only Create needs (its enqueue),
 *   loaded on the first enqueue, so that a cold start serving Get never
 *   compiles it. (The queue trigger itself is the Functions host's.)
 * - telemetry.js: src/telemetry/exportPipeline.ts with OpenTelemetry's log
 *   SDK and the Azure Monitor exporter, loaded after the first summary of a
 *   process that has Application Insights configured.
 * - msal.js: @azure/msal-node, which only a job type with scopes needs, on
 *   its first token request (src/auth/tokenBroker.ts requires it then), so
 *   that no cold start compiles it.
 * - blob.js: @azure/storage-blob, which only a job handler that reads or
 *   writes OneLake needs (src/clients/oneLake.ts requires it when a handler
 *   first asks for its folder), so that no cold start compiles it.
 *
 * - THIRD-PARTY-NOTICES.txt: name, version, licence and licence text of
 *   every npm package whose code is in any of the bundles, from esbuild's
 *   metafiles (kept in dist/dev/bundle.meta.json, out of the package).
 *
 * `@azure/functions-core` stays external: the Functions Node.js worker
 * provides it at run time (it is not on npm).
 *
 * Nothing is rebuilt when the bundles are newer than every file they were
 * built from (and than the installed packages): `npm install && npm start`
 * builds once.
 */
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { PROJECT_ROOT } from './projectRoot';
import { bundledPackageDirs, readBundledPackage, thirdPartyNotices } from './thirdPartyNotices';

export const BUNDLE_DIR = join(PROJECT_ROOT, 'dist', 'app');
export const BUNDLE_ENTRY = join(BUNDLE_DIR, 'main.js');
export const IDENTITY_BUNDLE = join(BUNDLE_DIR, 'identity.js');
export const QUEUE_BUNDLE = join(BUNDLE_DIR, 'queue.js');
export const TELEMETRY_BUNDLE = join(BUNDLE_DIR, 'telemetry.js');
export const BLOB_BUNDLE = join(BUNDLE_DIR, 'blob.js');
export const MSAL_BUNDLE = join(BUNDLE_DIR, 'msal.js');
export const NOTICES = join(BUNDLE_DIR, 'THIRD-PARTY-NOTICES.txt');
/** esbuild's metafiles of the last build: { main, identity, queue, telemetry, blob, msal }, paths relative to the project. */
export const BUNDLE_META = join(PROJECT_ROOT, 'dist', 'dev', 'bundle.meta.json');
/** Rewritten by every npm install or npm ci. */
const INSTALLED = join(PROJECT_ROOT, 'node_modules', '.package-lock.json');

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // THIRD-PARTY-NOTICES.txt carries every bundled package's whole licence.
  legalComments: 'none',
  logLevel: 'warning',
  external: ['@azure/functions-core'],
  absWorkingDir: PROJECT_ROOT,
  metafile: true,
};

/**
 * Modules main.js requires lazily, each bundled on its own beside it: a
 * package, or one of the app's own modules (its specifier as the app writes it).
 */
const SIDE_BUNDLES = {
  identity: { pkg: '@azure/identity', file: IDENTITY_BUNDLE, entry: undefined },
  queue: { pkg: '@azure/storage-queue', file: QUEUE_BUNDLE, entry: undefined },
  telemetry: {
    pkg: './exportPipeline',
    file: TELEMETRY_BUNDLE,
    entry: join(PROJECT_ROOT, 'src', 'telemetry', 'exportPipeline.ts'),
  },
  blob: { pkg: '@azure/storage-blob', file: BLOB_BUNDLE, entry: undefined },
  msal: { pkg: '@azure/msal-node', file: MSAL_BUNDLE, entry: undefined },
} as const;

/** Every bundle file, main.js first. */
const BUNDLE_FILES = [BUNDLE_ENTRY, ...Object.values(SIDE_BUNDLES).map(({ file }) => file)];

/** Points main.js's lazy `require('<package>')` of each side bundle at its sibling file. */
const sideBundlesBeside: Plugin = {
  name: 'side-bundles-beside',
  setup(builder) {
    for (const { pkg, file } of Object.values(SIDE_BUNDLES)) {
      const filter = new RegExp(`^${pkg.replace(/[/.-]/g, '\\$&')}$`);
      builder.onResolve({ filter }, () => ({ path: `./${file.slice(BUNDLE_DIR.length + 1)}`, external: true }));
    }
  },
};

export interface BundleMeta {
  main: Metafile;
  identity: Metafile;
  queue: Metafile;
  telemetry: Metafile;
  blob: Metafile;
  msal: Metafile;
}

/** Every metafile of a build, main.js's first. */
export function allMetafiles(meta: BundleMeta): Metafile[] {
  return [meta.main, meta.identity, meta.queue, meta.telemetry, meta.blob, meta.msal];
}

export function readBundleMeta(): BundleMeta {
  return JSON.parse(readFileSync(BUNDLE_META, 'utf8')) as BundleMeta;
}

/** True when every output exists and is newer than every input of the last build, this script and the installed packages. */
export function bundleIsUpToDate(): boolean {
  try {
    const meta = readBundleMeta();
    const oldestOutput = Math.min(...[...BUNDLE_FILES, NOTICES].map((file) => statSync(file).mtimeMs));
    const inputs = allMetafiles(meta).flatMap((metafile) =>
      Object.keys(metafile.inputs).filter((path) => !path.startsWith('<')),
    );
    const newestInput = Math.max(
      ...[__filename, INSTALLED, ...inputs.map((path) => join(PROJECT_ROOT, path))].map(
        (file) => statSync(file).mtimeMs,
      ),
    );
    return newestInput < oldestOutput;
  } catch {
    return false; // a file is missing: build
  }
}

export async function bundle(): Promise<'built' | 'up to date'> {
  if (bundleIsUpToDate()) return 'up to date';
  rmSync(BUNDLE_DIR, { recursive: true, force: true }); // nothing stale may reach the package
  const side = ({ pkg, file, entry }: (typeof SIDE_BUNDLES)[keyof typeof SIDE_BUNDLES]) =>
    entry
      ? build({ ...COMMON, entryPoints: [entry], outfile: file })
      : build({
          ...COMMON,
          stdin: { contents: `module.exports = require('${pkg}');`, resolveDir: PROJECT_ROOT },
          outfile: file,
        });
  const [main, identity, queue, telemetry, blob, msal] = await Promise.all([
    build({
      ...COMMON,
      entryPoints: [join(PROJECT_ROOT, 'src', 'functions', 'index.ts')],
      outfile: BUNDLE_ENTRY,
      plugins: [sideBundlesBeside],
    }),
    side(SIDE_BUNDLES.identity),
    side(SIDE_BUNDLES.queue),
    side(SIDE_BUNDLES.telemetry),
    side(SIDE_BUNDLES.blob),
    side(SIDE_BUNDLES.msal),
  ]);
  const meta: BundleMeta = {
    main: main.metafile!,
    identity: identity.metafile!,
    queue: queue.metafile!,
    telemetry: telemetry.metafile!,
    blob: blob.metafile!,
    msal: msal.metafile!,
  };
  const packages = bundledPackageDirs(allMetafiles(meta)).map((dir) => readBundledPackage(PROJECT_ROOT, dir));
  for (const p of packages.filter((p) => !p.licenseText))
    process.stderr.write(
      `bundle: ${p.name} ${p.version} ships no licence text (${p.license}); check it before you ship\n`,
    );
  mkdirSync(dirname(BUNDLE_META), { recursive: true });
  writeFileSync(BUNDLE_META, JSON.stringify(meta));
  writeFileSync(
    NOTICES,
    thirdPartyNotices(
      packages,
      BUNDLE_FILES.map((file) => relative(PROJECT_ROOT, file).split(sep).join('/')),
    ),
  );
  return 'built';
}

if (require.main === module) {
  bundle().catch((error: unknown) => {
    process.stderr.write(`bundle failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
