import { printedDemo, runPrinted } from '../fixtures/demoShell';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appSettingsOf, devSettings } from '../../dev/devSettings';
import { devStackEnv } from '../fixtures/devStackEnv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');

/** Starts a program in a process group of its own, as a terminal does, and collects its output until `ready` is in it. */
function startUntil(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  return new Promise((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) resolve({ child, output: () => output });
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`)));
  });
}

/** Ctrl-C: SIGINT to the whole process group (npm, its shell, the program); resolves with npm's exit code. */
function stop(child: ChildProcess | undefined): Promise<unknown> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid!, 'SIGINT');
  return exited;
}

/** Every process below `pid`, from /proc. */
function processesBelow(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const below = (p: number): number[] => (children.get(p) ?? []).flatMap((child) => [child, ...below(child)]);
  return below(pid);
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

let dataDir: string;
let stack: { child: ChildProcess; output: () => string };
let host: ChildProcess | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'npm-run-stack-'));
  const env = await devStackEnv(dataDir);
  // --ignore-scripts skips only the prestack build: npm test has built.
  stack = await startUntil('npm', ['run', 'stack', '--ignore-scripts'], env, 'Ctrl-C');
}, 60_000);

afterAll(async () => {
  await stop(host);
  await stop(stack?.child);
  rmSync(dataDir, { recursive: true, force: true });
});

/** The `export NAME='value'` lines it printed, as an environment. */
function printedSettings(): Record<string, string> {
  return Object.fromEntries(
    [...stack.output().matchAll(/^export (\w+)='([^']*)'$/gm)].map(([, name, value]) => [name, value]),
  );
}

describe('npm run stack (the development stack without a Functions host)', () => {
  it('starts no Functions host and says so', () => {
    expect(stack.output()).toContain('Functions host: none (--stack-only)');
    expect(stack.output()).not.toContain('Local host listening');
  });

  it('prints every setting a host needs, all pointing at loopback, with the trust and the development key', () => {
    const settings = printedSettings();
    // Every app setting of the development stack, the certificate to trust, and where the host listens.
    expect(Object.keys(settings).sort()).toEqual(
      [...Object.keys(appSettingsOf(devSettings({}, ROOT))), 'NODE_EXTRA_CA_CERTS', 'HOST', 'PORT'].sort(),
    );
    expect(settings.JobQueue).toMatch(/QueueEndpoint=http:\/\/127\.0\.0\.1:\d+\//);
    expect(settings.ENTRA_JWKS_URI).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(settings.JOB_STATE_TABLE_CONNECTION_STRING).toMatch(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+\//);
    expect(settings.ENTRA_TOKEN_HOST).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(settings.ONELAKE_ENDPOINT).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/onelake$/);
    expect(settings.NODE_EXTRA_CA_CERTS).toBe(join(dataDir, 'tls', 'cert.pem'));
    // The machine's own sealing key (the sample leaves it empty), said to be a development key.
    const keyFile = join(dataDir, 'user-assertion-key');
    expect(settings.USER_ASSERTION_KEY).toBe(readFileSync(keyFile, 'utf8').trim());
    expect(stack.output()).toContain(`USER_ASSERTION_KEY is a development key, kept in ${keyFile}`);
  });

  it("serves a host started by hand with those settings (npm run host's program): the printed curl line answers", async () => {
    const settings = printedSettings();
    const started = await startUntil(
      process.execPath,
      [join(ROOT, 'dist', 'dev', 'localHost.js')],
      { PATH: process.env.PATH, ...settings },
      'listening',
    );
    host = started.child;
    const curl = stack
      .output()
      .split('\n')
      .find((line) => line.startsWith('curl '))!;
    expect(runPrinted(stack.output(), curl)).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
    // A job Create exchanges the user's token at the token endpoint, over TLS: the printed settings suffice for it too.
    const create = printedDemo(stack.output()).curlLines[2];
    expect(create).toContain('-X POST');
    expect(runPrinted(stack.output(), create)).toMatch(/^HTTP\/1\.1 202 /);
  });

  it('stops everything it started on Ctrl-C (SIGINT to its process group)', async () => {
    await stop(host);
    const started = processesBelow(stack.child.pid!);
    expect(started.length).toBeGreaterThanOrEqual(2); // the stack's node process and Azurite at least
    await stop(stack.child);
    // Bounded wait for the children to finish stopping; the assertion is on the outcome only.
    for (let i = 0; i < 50 && started.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started.filter(alive)).toEqual([]);
  });
});

describe('npm start with an option it does not know', () => {
  it('says so in one line instead of starting anything', () => {
    const result = spawnSync(process.execPath, [join(ROOT, 'dist', 'dev', 'start.js'), '--stack'], {
      env: { PATH: process.env.PATH, DEV_DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('npm start: unknown option "--stack" (the options are --stack-only and --json)\n');
  });
});
