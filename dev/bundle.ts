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
 *
 * `@azure/functions-core` stays external: the Functions Node.js worker
 * provides it at run time (it is not on npm).
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './projectRoot';

export const BUNDLE_DIR = join(PROJECT_ROOT, 'dist', 'app');
export const BUNDLE_ENTRY = join(BUNDLE_DIR, 'main.js');
export const IDENTITY_BUNDLE = join(BUNDLE_DIR, 'identity.js');

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  legalComments: 'linked',
  logLevel: 'warning',
  external: ['@azure/functions-core'],
};

/** Points main.js's lazy `require('@azure/identity')` at the sibling identity.js. */
const identityBeside: Plugin = {
  name: 'identity-beside',
  setup(builder) {
    builder.onResolve({ filter: /^@azure\/identity$/ }, () => ({ path: './identity.js', external: true }));
  },
};

export async function bundle(): Promise<void> {
  rmSync(BUNDLE_DIR, { recursive: true, force: true }); // nothing stale may reach the package
  await Promise.all([
    build({ ...COMMON, entryPoints: [join(PROJECT_ROOT, 'src', 'functions', 'index.ts')], outfile: BUNDLE_ENTRY, plugins: [identityBeside] }),
    build({ ...COMMON, stdin: { contents: "module.exports = require('@azure/identity');", resolveDir: PROJECT_ROOT }, outfile: IDENTITY_BUNDLE }),
  ]);
}

if (require.main === module) {
  bundle().catch((error: unknown) => {
    process.stderr.write(`bundle failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
