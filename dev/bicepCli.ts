/**
 * The Bicep compiler for the project's template checks: where it is, and
 * running it. It is looked for in this order:
 *   1. BICEP_BIN, a path to a bicep executable;
 *   2. the copy `npm run bicep:restore` restores from NuGet, pinned by
 *      dev/bicep/bicep.csproj, in .tools/nuget (git-ignored);
 *   3. `bicep` on the PATH;
 *   4. the copy `az bicep install` keeps in ~/.azure/bin.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from './projectRoot';

export const BICEP_PROJECT = join(PROJECT_ROOT, 'dev', 'bicep', 'bicep.csproj');
const PACKAGE_ID = 'Azure.Bicep.CommandLine.linux-x64';
const RESTORED_PACKAGES = join(PROJECT_ROOT, '.tools', 'nuget');

export const HOW_TO_GET_BICEP =
  'npm run bicep:restore (needs the .NET SDK), or az bicep install, or a bicep on the PATH, or BICEP_BIN=<path to bicep>';

export interface BicepCli {
  path: string;
  /** Which of the four places it was found in, for messages. */
  source: 'BICEP_BIN' | 'restored' | 'PATH' | 'az';
}

/** The version dev/bicep/bicep.csproj pins: the one `npm run bicep:restore` brings. */
export function pinnedBicepVersion(): string {
  const project = readFileSync(BICEP_PROJECT, 'utf8');
  const version = new RegExp(`Include="${PACKAGE_ID.replace(/\./g, '\\.')}"\\s+Version="([^"]+)"`).exec(project)?.[1];
  if (!version) throw new Error(`${BICEP_PROJECT} has no PackageReference to ${PACKAGE_ID} with a Version`);
  return version;
}

/** Where the restored compiler is (NuGet lower-cases package folder names). */
export function restoredBicepPath(): string {
  return join(RESTORED_PACKAGES, PACKAGE_ID.toLowerCase(), pinnedBicepVersion(), 'tools', 'bicep');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The compiler to use, or undefined when there is none. A BICEP_BIN that is not an executable is an error, not a fallback. */
export function findBicep(env: NodeJS.ProcessEnv = process.env): BicepCli | undefined {
  if (env.BICEP_BIN) {
    if (!isExecutable(env.BICEP_BIN)) throw new Error(`BICEP_BIN=${env.BICEP_BIN} is not an executable file`);
    return { path: env.BICEP_BIN, source: 'BICEP_BIN' };
  }
  // The pinned package is the linux-x64 build (what CI runs): elsewhere it cannot run, so look on.
  const restored = restoredBicepPath();
  if (process.platform === 'linux' && process.arch === 'x64' && isExecutable(restored))
    return { path: restored, source: 'restored' };
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const onPath = join(dir, 'bicep');
    if (isExecutable(onPath)) return { path: onPath, source: 'PATH' };
  }
  const az = join(env.HOME ?? homedir(), '.azure', 'bin', 'bicep');
  if (isExecutable(az)) return { path: az, source: 'az' };
  return undefined;
}

export interface BicepRun {
  exitCode: number;
  stdout: string;
  /** Every diagnostic line, e.g. "/…/main.bicep(12,3) : Warning no-unused-params: …". */
  diagnostics: string[];
}

const DIAGNOSTIC = /^.+\(\d+,\d+\) : (Error|Warning|Info) /;

/** Runs the compiler; diagnostics are read from stderr, where bicep writes them. */
export function runBicep(cli: BicepCli, args: string[], cwd = PROJECT_ROOT): Promise<BicepRun> {
  return new Promise((resolve, reject) => {
    execFile(
      cli.path,
      args,
      // No telemetry from the compiler; ARM JSON of a few hundred KiB at most.
      { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, BICEP_TELEMETRY_ENABLED: 'false' } },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        const lines = stderr.split(/\r?\n/).filter((line) => line.trim() !== '');
        // Anything on stderr that is not a diagnostic (a crash, a bad option) is kept as one, so it cannot pass unseen.
        resolve({
          exitCode: error ? Number(error.code) : 0,
          stdout,
          diagnostics: lines.map((l) => (DIAGNOSTIC.test(l) ? l : `(bicep) ${l}`)),
        });
      },
    );
  });
}
