import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_JOB } from '../../dev/devSettings';
import { printedDemo, runPrinted } from '../fixtures/demoShell';
import { devStackEnv } from '../fixtures/devStackEnv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
/** The entry point `npm start` runs after its prestart build. */
const START = join(ROOT, 'dist', 'dev', 'start.js');
const TOKEN = join(__dirname, '..', '..', 'dist', 'dev', 'token.js');

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const visit = (p: number) => (children.get(p) ?? []).forEach((c) => (found.push(c), visit(c)));
  visit(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

interface RunningStart {
  child: ChildProcess;
  output: () => string;
  curlLines: string[];
}

/** Runs the README's `npm start` and waits for its two curl lines. */
async function npmStart(env: NodeJS.ProcessEnv): Promise<RunningStart> {
  // --ignore-scripts skips only the prestart build: npm test has built,
  // and rebuilding would rewrite dist/ under the other test files' feet.
  const child = spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const curlLines = await new Promise<string[]>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const lines = printedDemo(output).curlLines;
      if (lines.length >= 5 && output.includes('Ctrl-C')) resolve(lines);
    });
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  return { child, output: () => output, curlLines };
}

/** SIGTERM to npm, then every process that was below it must be gone. */
async function expectCleanStop(child: ChildProcess): Promise<void> {
  const started = descendants(child.pid!);
  expect(started.length).toBeGreaterThanOrEqual(2); // the stack's node process and Azurite at least
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  // Bounded wait for the children to finish stopping; the assertion is on the outcome only.
  for (let i = 0; i < 50 && started.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 200));
  expect(started.filter(alive)).toEqual([]);
}

const freshEnv = (dataDir: string, extra: NodeJS.ProcessEnv = {}) =>
  devStackEnv(dataDir, { DEV_FUNCTIONS_HOST: 'local', ...extra });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The job instance id of a printed v1 job line. */
const jobIdOf = (line: string) => /\$JOBS\/([0-9a-f-]{36})/.exec(line)![1];

/** The printed OneLake listing line (the last curl line). */
const listingLine = (lines: string[]) => lines.find((line) => line.includes('$LAKE'))!;

/** The listing line turned into a GET of one file of the folder it lists: the same variables and headers. */
const fileLine = (listing: string, name: string) =>
  listing.replace(/\?restype=container&comp=list&prefix=([^"]*)"/, (_, prefix: string) => `/${prefix}${name}"`);

let dataDir: string;
let env: NodeJS.ProcessEnv;
let child: ChildProcess;
let output = '';
let curlLines: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'npm-start-'));
  env = await freshEnv(dataDir);
  const running = await npmStart(env);
  child = running.child;
  curlLines = running.curlLines;
  output = running.output();
}, 60_000);

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('says which Functions host it runs', () => {
    expect(output).toContain("Functions host: the project's local host");
  });

  it("prints a curl line that returns the demo job exactly as in Fabric's example", () => {
    const body = runPrinted(output, curlLines[0]);
    expect(body).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
  });

  it('prints a Create, a Get and a Cancel of a new demo job that work as printed', async () => {
    const [create, get, cancel] = curlLines.slice(2);
    expect(create).toContain('-X POST');
    // The Create goes through the on-behalf-of exchange at the token endpoint (the demo job acts for its user).
    expect(runPrinted(output, create)).toMatch(/^HTTP\/1\.1 202 /);
    // The runner picks the job up within a couple of seconds; it runs 15 s, and is left to complete (a later test).
    let state: { status: string } = { status: 'NotStarted' };
    for (let i = 0; i < 50 && state.status !== 'InProgress'; i++) {
      state = JSON.parse(runPrinted(output, get));
      if (state.status !== 'InProgress') await sleep(200);
    }
    expect(state.status).toBe('InProgress');
    // Nothing in the item's folder yet: the job writes its forecast when it completes.
    expect(runPrinted(output, listingLine(curlLines))).not.toContain(jobIdOf(create));
    // The same three lines for another job, which is cancelled.
    const otherId = randomUUID();
    const [other, otherGet, otherCancel] = [create, get, cancel].map((line) =>
      line.replaceAll(jobIdOf(create), otherId),
    );
    expect(runPrinted(output, other)).toMatch(/^HTTP\/1\.1 202 /);
    for (let i = 0; i < 50 && JSON.parse(runPrinted(output, otherGet)).status !== 'InProgress'; i++) await sleep(200);
    const cancelled = JSON.parse(runPrinted(output, otherCancel));
    expect(cancelled).toMatchObject({ status: 'Cancelled', endTimeUtc: expect.any(String) });
    expect(JSON.parse(runPrinted(output, otherGet)).status).toBe('Cancelled');
  });

  it('prints an item create, update, payload and delete, and a resolve, that work as printed', () => {
    const [create, update, payload, remove, resolve] = curlLines.slice(5, 10);
    const run = (line: string) => runPrinted(output, line);
    expect(run(create)).toMatch(/^HTTP\/1\.1 200 /);
    expect(run(update)).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(run(payload))).toEqual({ itemPayload: { horizonMonths: 6 } });
    expect(run(remove)).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(run(payload))).toMatchObject({ errorCode: 'ItemNotFound' });
    expect(resolve).not.toContain('x-ms-client-tenant-id');
    expect(JSON.parse(run(resolve))).toEqual({ url: `http://127.0.0.1:${env.PORT}/api`, ttlInMinutes: 60 });
  });

  it("prints the Extensibility Toolkit's calls, which work as printed: create, update, a job, its state, its cancel, soft delete, restore, a hard delete with no user, resolution", async () => {
    const [create, update, job, state, cancel, softDelete, restore, hardDelete, resolve] = curlLines.slice(10);
    const run = (line: string) => JSON.parse(runPrinted(output, line));
    expect(run(create)).toEqual({});
    expect(run(update)).toEqual({});
    expect(run(job)).toEqual({ status: 'NotStarted' });
    let seen: { status: string } = { status: 'NotStarted' };
    for (let i = 0; i < 50 && seen.status !== 'InProgress'; i++) {
      seen = run(state);
      if (seen.status !== 'InProgress') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(seen.status).toBe('InProgress');
    expect(run(cancel)).toMatchObject({ status: 'Cancelled', endTimeUtc: expect.any(String) });
    expect(run(softDelete)).toEqual({});
    expect(run(restore)).toEqual({});
    expect(hardDelete).toContain('$APP_AUTH');
    expect(run(hardDelete)).toEqual({});
    expect(run(state)).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobInstanceNotFound' } });
    expect(resolve).not.toContain('x-ms-client-tenant-id');
    expect(run(resolve)).toEqual({ url: `http://127.0.0.1:${env.PORT}/api`, ttlInMinutes: 60 });
  });

  it('sets the long headers once, as shell variables, so that each curl line stays short', () => {
    const { variables } = printedDemo(output);
    expect(variables.map((line) => line.split('=')[0])).toEqual([
      'BASE',
      'AUTH',
      'APP_AUTH',
      'TENANT',
      'JOBS',
      'ITEM',
      'TK_ITEM',
      'LAKE',
      'ONELAKE_AUTH',
    ]);
    for (const line of curlLines) expect(line.length, line).toBeLessThan(320);
    // No token in a curl line: a JWS is three base64url segments (the definition's payload is base64 too, but one).
    for (const line of curlLines) expect(line).not.toMatch(/eyJ[\w-]*\.[\w-]*\./);
  });

  it('prints a second curl line, for a job that does not exist', () => {
    const body = JSON.parse(runPrinted(output, curlLines[1]));
    expect(body).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobInstanceNotFound' } });
  });

  it('keeps its data under the data folder: Azurite, the stand-in, the signing key, the certificate, the sealing key', () => {
    expect(existsSync(join(dataDir, 'azurite'))).toBe(true);
    expect(existsSync(join(dataDir, 'onelake'))).toBe(true);
    expect(existsSync(join(dataDir, 'dev-issuer-key.pem'))).toBe(true);
    expect(existsSync(join(dataDir, 'tls', 'cert.pem'))).toBe(true);
    const keyFile = join(dataDir, 'user-assertion-key');
    expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(output).toContain(`NODE_EXTRA_CA_CERTS=${join(dataDir, 'tls', 'cert.pem')}`);
  });

  it('lets npm run token mint headers that the running stack accepts', () => {
    const printed = execFileSync(process.execPath, [TOKEN], { env, encoding: 'utf8' });
    const authorization = /^Authorization: (.*)$/m.exec(printed)![1];
    const tenant = /^x-ms-client-tenant-id: (.*)$/m.exec(printed)![1];
    const url = runPrinted(output, `echo "${/curl -sS "([^"]+)"/.exec(curlLines[0])![1]}"`).trim();
    const body = execFileSync(
      'curl',
      ['-sS', url, '-H', `Authorization: ${authorization}`, '-H', `x-ms-client-tenant-id: ${tenant}`],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(body).status).toBe('InProgress');
    // Its storage token, as the variable the listing line reads, is accepted by the stand-in.
    const oneLakeAuth = /^ONELAKE_AUTH='([^']+)'$/m.exec(printed)![1];
    const listing = listingLine(curlLines).replace('$ONELAKE_AUTH', oneLakeAuth);
    expect(runPrinted(output, listing)).toContain('<EnumerationResults');
  });

  it("writes the printed Create's forecast into the demo item's OneLake folder when the job completes: the printed listing line shows it", async () => {
    const [create, get] = curlLines.slice(2);
    const jobId = jobIdOf(create);
    // The job runs 15 s from its Create (a test above); bounded waits, nothing asserted about time.
    let state: { status: string } = { status: 'InProgress' };
    for (let i = 0; i < 120 && state.status === 'InProgress'; i++) {
      state = JSON.parse(runPrinted(output, get));
      if (state.status === 'InProgress') await sleep(500);
    }
    expect(state).toMatchObject({ status: 'Completed' });
    const name = `${DEMO_JOB.itemId}/Files/forecasts/${jobId}.json`;
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(name); i++) {
      listed = runPrinted(output, listingLine(curlLines));
      if (!listed.includes(name)) await sleep(200);
    }
    expect(listed).toContain(`<Name>${name}</Name>`);
    const forecast = JSON.parse(runPrinted(output, fileLine(listingLine(curlLines), `${jobId}.json`)));
    expect(forecast).toMatchObject({ itemId: DEMO_JOB.itemId, jobInstanceId: jobId });
  }, 90_000);

  it('stops every process it started when npm gets SIGTERM', async () => {
    await expectCleanStop(child);
  });
});

describe('the development issuer', () => {
  it('refuses to run inside Azure', () => {
    const result = spawnSync(process.execPath, [START], {
      env: { ...env, WEBSITE_INSTANCE_ID: 'abc123' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('refuses to run inside Azure (WEBSITE_INSTANCE_ID is set)');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('npm start with a DEV_TOKEN_FAILURE it does not know', () => {
  it('says so in one line instead of starting anything', () => {
    const result = spawnSync(process.execPath, [START], {
      env: { ...env, DEV_TOKEN_FAILURE: 'sometimes' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'npm start: DEV_TOKEN_FAILURE must be consent, mfa, policy, unavailable or empty, not "sometimes"\n',
    );
  });
});

describe('npm start with Azure Functions Core Tools on the PATH', () => {
  // A stand-in `func` (the real one cannot be installed here): like Core Tools it
  // answers --version, takes `start --port N`, and serves through a child process,
  // its "language worker", which must stop with it. It serves with the local host.
  const FAKE_FUNC = `#!/bin/sh
if [ "$1" = "--version" ]; then echo 4.0.0-stand-in; exit 0; fi
PORT="$3" node ${JSON.stringify(join(ROOT, 'dist', 'dev', 'localHost.js'))} &
wait
`;
  let funcDir: string;
  let funcData: string;
  let running: RunningStart;

  beforeAll(async () => {
    funcDir = mkdtempSync(join(tmpdir(), 'fake-func-'));
    funcData = mkdtempSync(join(tmpdir(), 'npm-start-func-'));
    writeFileSync(join(funcDir, 'func'), FAKE_FUNC, { mode: 0o755 });
    // An endpoint setting in the shell must not reach func beside the development connection string.
    // The token endpoint switched to a failure: a Create then shows that func's worker reached it, over TLS.
    const funcEnv = await freshEnv(funcData, {
      PATH: `${funcDir}:${process.env.PATH}`,
      DEV_FUNCTIONS_HOST: 'auto',
      JOB_STATE_TABLE_ENDPOINT: 'https://elsewhere.table.core.windows.net',
      DEV_TOKEN_FAILURE: 'consent',
    });
    running = await npmStart(funcEnv);
  }, 90_000);

  afterAll(() => {
    if (running?.child.exitCode === null) running.child.kill('SIGKILL');
    rmSync(funcDir, { recursive: true, force: true });
    rmSync(funcData, { recursive: true, force: true });
  });

  it('runs func start and says so', () => {
    expect(running.output()).toContain('Functions host: func start (Azure Functions Core Tools)');
  });

  it('prints curl lines that work against it', () => {
    expect(runPrinted(running.output(), running.curlLines[0])).toBe(
      '{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}',
    );
  });

  it("gives func the stack's settings and trust: a Create reaches the token endpoint, switched by DEV_TOKEN_FAILURE to ask for consent", () => {
    expect(running.output()).toContain('answering every exchange with the consent failure (DEV_TOKEN_FAILURE)');
    const answer = runPrinted(running.output(), running.curlLines[2]);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"errorCode":"AuthUIRequired"');
    expect(answer).toContain('AADSTS65001');
  });

  it('stops func and its worker with everything else', async () => {
    await expectCleanStop(running.child);
  });
});
