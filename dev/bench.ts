/**
 * `npm run bench`: figures, not assertions. Starts its own Azurite (in memory,
 * loopback, telemetry off), a JWKS server, Entra's token endpoint and
 * OneLake's stand-in on loopback (dev/benchStack.ts); everything is bounded
 * in count. It runs itself again when it does not trust the development
 * certificate yet (dev/trustedRerun.ts). It measures:
 *  - floor: CPU of the irreducible work of one request, in this process: one
 *    point read and two RS256 verifications against parsed keys;
 *  - the function's own invocation without HTTP, with and without the
 *    validated-token cache (what runs in the Node worker on Azure);
 *  - endpoint warm: the bundled app behind the local host in its own process,
 *    loaded by autocannon from this one at 1 and 32 connections; the host's
 *    CPU per request (from /proc) and its ratio to the floor;
 *  - cold start: spawning the host (HTTP alone, LOCAL_HOST_QUEUES=off) to its
 *    first 200 (JWKS download and first table read included), and the load
 *    of the function's module graph;
 *  - memory after the warm run, and JWKS downloads during it (should be 0);
 *  - jobs (dev/benchJobs.ts): Create's and Cancel's CPU against their floors
 *    (Create of a job type without scopes, dev/benchHandlers.ts), and a 0 s
 *    demo job's latency from Create's 202 to InProgress and Completed (its
 *    Create exchanges the user's token, and it writes its result to OneLake);
 *  - the Extensibility Toolkit (dev/benchToolkit.ts): each of its operations'
 *    CPU against its own floor, as Create's and Cancel's;
 *  - telemetry (dev/benchTelemetry.ts): cold start, module load and CPU per
 *    request of each way the summaries can reach Application Insights;
 *  - acting for the user (dev/benchUser.ts, dev/benchRefresh.ts): Create with
 *    its pre-flight exchange answered from MSAL's cache against Create
 *    without scopes, Create by a new user, the table writes of the polls that
 *    refresh a running job's token, and the bundles (main.js, msal.js).
 * `npm run bench -- --save` also writes docs/performance.md's figures and
 * docs/performance-latency.svg.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { createTableClient } from '../src/storage/tableClient';
import { freeLoopbackPort } from './azurite';
import { BUNDLE_ENTRY, MSAL_BUNDLE } from './bundle';
import { DEMO_JOB, devSettings } from './devSettings';
import { developmentTls, trustsCertificate, type DevTls } from './devTls';
import { invoke, LOCAL_HOST_PROGRAM, loadFunctionsEntry, matchRoutes, type FunctionsModule } from './localHost';
import { sourceFunctions } from './sourceFunctions';
import { RERUN_MARK, runAgainTrusting } from './trustedRerun';
import { PROJECT_ROOT } from './projectRoot';
import { jobLatency, operationCpu } from './benchJobs';
import type { CpuPerCall } from './benchOperation';
import { toolkitOperationCpu } from './benchToolkit';
import { startBenchStack, type Fixture } from './benchStack';
import { userCreateCosts, type UserBenchFixture } from './benchUser';
import { refreshFigures } from './benchRefresh';
import { userRows, userSummary, userTable, type UserFigures } from './benchUserReport';
import { telemetryCosts } from './benchTelemetry';
import { PERCENTILES, round, saveFigures, summaryLine, table, type Figures, type LoadResult } from './benchReport';
import { toolkitRows, toolkitSummary, toolkitTable } from './benchToolkitReport';

const UNBUNDLED_ENTRY = join(PROJECT_ROOT, 'dist', 'src', 'functions', 'index.js');

const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = {
  floorIterations: count('BENCH_FLOOR_ITERATIONS', 2000),
  coldStarts: count('BENCH_COLD_RUNS', 9),
  importRuns: count('BENCH_IMPORT_RUNS', 9),
  requests1: count('BENCH_REQUESTS_1', 2000),
  requests32: count('BENCH_REQUESTS_32', 10000),
  jobWarmUp: count('BENCH_JOB_WARM_UP', 500),
  jobIterations: count('BENCH_JOB_ITERATIONS', 400),
  jobs1: count('BENCH_JOBS_1', 40),
  jobs16: count('BENCH_JOBS_16', 320),
  user: {
    warmUp: count('BENCH_USER_WARM_UP', 500),
    rounds: count('BENCH_USER_ROUNDS', 10),
    batch: count('BENCH_USER_BATCH', 200),
    cold: count('BENCH_USER_COLD', 50),
  },
};

/** Requests (or floor iterations) before anything is measured: the JIT settles. */
const WARM_UP_REQUESTS = 3000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * CPU microseconds per call of `once`, in this process, with `concurrency`
 * loops at once (as the host is loaded): warmed up as long as the host is,
 * then batches until two in a row agree within 5 %; the lower of those two.
 * `prepare`, when given, runs before each batch with its number of calls.
 */
async function cpuPerCall(
  once: () => Promise<void>,
  concurrency: number,
  warmUp = WARM_UP_REQUESTS,
  iterations = RUNS.floorIterations,
  prepare?: (count: number) => Promise<void>,
): Promise<number> {
  const batch = async (iterations: number) => {
    const perLoop = Math.ceil(iterations / concurrency);
    await prepare?.(perLoop * concurrency); // the state these calls use up, set up outside the measurement
    const start = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perLoop; i++) await once();
      }),
    );
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (perLoop * concurrency);
  };
  await batch(warmUp);
  let previous = await batch(iterations);
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await batch(iterations);
    if (Math.abs(current - previous) / previous <= 0.05) return Math.min(current, previous);
    previous = current;
  }
  return previous;
}

/** The irreducible work of one request: one point read and two RS256 verifications against a parsed key. */
function floorWork(fixture: Fixture): () => Promise<void> {
  const config = readConfig(fixture.settings);
  const table = createTableClient(config.table, config.tableName, {});
  const key = fixture.issuer.keys[0].publicKey;
  return async () => {
    await table.getEntity(DEMO_JOB.itemId, DEMO_JOB.jobInstanceId);
    jwt.verify(fixture.subjectToken, key, { algorithms: ['RS256'] });
    jwt.verify(fixture.appToken, key, { algorithms: ['RS256'] });
  };
}

/**
 * One invocation of the bundled function as the Functions worker makes it,
 * without any HTTP: what runs in the Node.js process on Azure, where the
 * Functions host (another process) parses the request and writes the answer.
 */
function invocationWork(fixture: Fixture, functions: FunctionsModule): () => Promise<void> {
  const url = fixture.url('http://localhost/api');
  const matched = matchRoutes(functions.routes, new URL(url).pathname).find(({ route }) =>
    route.methods.includes('GET'),
  )!;
  const request = { method: 'GET', url, headers: fixture.headers, params: matched.params };
  return async () => {
    const response = await invoke(functions, matched.route, request, () => undefined);
    if (response.status !== 200) throw new Error(`invocation answered ${response.status}`);
  };
}

/** Milliseconds to require a module in a fresh process, median of several. */
function importMs(entry: string, settings: Record<string, string>): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(entry)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;
  const times = Array.from({ length: RUNS.importRuns }, () => {
    const result = spawnSync(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, ...settings },
      encoding: 'utf8',
    });
    const ms = Number(result.stdout);
    if (result.status !== 0 || !Number.isFinite(ms) || ms <= 0)
      throw new Error(`loading ${entry} failed: ${result.stderr}`);
    return ms;
  });
  return median(times);
}

interface HostProcess {
  child: ChildProcess;
  baseUrl: string;
  stop(): Promise<void>;
}

/** `npm run host` as a separate process: the bundled app behind the local host. */
async function spawnHost(settings: Record<string, string>, nodeArgs: string[] = []): Promise<HostProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_HOST_NODE_OPTIONS?.split(' ') ?? []), ...nodeArgs, LOCAL_HOST_PROGRAM],
    { env: { PATH: process.env.PATH, ...settings, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the host did not listen within 30 s'));
    }, 30_000);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data').resume(); // the host's request log is work it does, not output we keep
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the host exited with ${code}: ${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  return { child, baseUrl: `http://127.0.0.1:${port}/api`, stop };
}

async function getStatus(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** Spawn to first 200, median of several fresh host processes. */
async function coldStartMs(fixture: Fixture, settings = fixture.settings, nodeArgs: string[] = []): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS.coldStarts; i++) {
    const start = process.hrtime.bigint();
    // HTTP alone, as the worker's cold start in Azure: there the queue listener is the Functions host's own.
    const host = await spawnHost({ ...settings, LOCAL_HOST_QUEUES: 'off' }, nodeArgs);
    const status = await getStatus(fixture.url(host.baseUrl), fixture.headers);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    await host.stop();
    if (status !== 200) throw new Error(`cold start: first answer was ${status}`);
  }
  return median(times);
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU microseconds a process has used, from /proc (Linux). */
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1e6;
}

function processRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function load(host: HostProcess, fixture: Fixture, connections: number, amount: number): Promise<LoadResult> {
  const pid = host.child.pid!;
  const cpuBefore = processCpuMicros(pid);
  // autocannon's own histogram counts whole milliseconds; its response event has the exact time.
  const times: number[] = [];
  const started = process.hrtime.bigint();
  let lastResponse = started;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url: fixture.url(host.baseUrl), connections, amount, headers: fixture.headers };
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      times.push(responseTime);
      lastResponse = process.hrtime.bigint();
    });
  });
  const cpu = processCpuMicros(pid) - cpuBefore;
  // autocannon's duration is whole seconds and its run ends on a 1 s tick: time to the last answer instead.
  const seconds = Number(lastResponse - started) / 1e9;
  times.sort((a, b) => a - b);
  const at = (p: number) => round(times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))], 2);
  const latency = Object.fromEntries(
    PERCENTILES.map((p) => [p, at(Number(p.slice(1).replace('_', '.')))]),
  ) as LoadResult['latency'];
  return {
    connections,
    requests: result.requests.total,
    rps: result.requests.total / seconds,
    latency,
    cpuPerRequestUs: cpu / result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/** Authentication alone, in process: with the validated-token cache and without it. */
async function authenticationUs(fixture: Fixture): Promise<{ cached: number; uncached: number }> {
  const config = readConfig(fixture.settings);
  const headers = {
    authorization: fixture.headers.authorization,
    clientTenantId: fixture.headers['x-ms-client-tenant-id'],
  };
  const measure = (cacheSize: number | undefined) => {
    const { authenticator } = createDependencies(config, { env: {}, validatedTokenCacheSize: cacheSize });
    return cpuPerCall(async () => void (await authenticator.authenticate(headers)), 1);
  };
  return { cached: await measure(undefined), uncached: await measure(0) };
}

/** Acting for the user: Create with and without scopes, the refreshing polls' writes, the bundles. */
async function userFigures(
  jobFixture: UserBenchFixture,
  settings: Record<string, string>,
  startup: Pick<UserFigures, 'coldStartMs' | 'importMs'>,
): Promise<UserFigures> {
  const create = await userCreateCosts(jobFixture, RUNS.user);
  return {
    create,
    refresh: refreshFigures(),
    bundles: {
      mainBytes: statSync(BUNDLE_ENTRY).size,
      msalBytes: statSync(MSAL_BUNDLE).size,
      msalLoadMs: importMs(MSAL_BUNDLE, settings),
    },
    ...startup,
  };
}

async function run(tls: DevTls): Promise<Figures> {
  const { fixture, jobFixture, close, jwksRequests } = await startBenchStack(tls);
  try {
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
    const floor = floorWork(fixture);
    const floorUs = { 1: await cpuPerCall(floor, 1), 32: await cpuPerCall(floor, 32) };
    Object.assign(process.env, fixture.settings);
    const invocation = invocationWork(fixture, loadFunctionsEntry(BUNDLE_ENTRY));
    const invocationUs = { 1: await cpuPerCall(invocation, 1), 32: await cpuPerCall(invocation, 32) };
    // The same from the sources with the validated-token cache off: both RS256 verifications every time.
    const uncached = invocationWork(
      fixture,
      sourceFunctions(createDependencies(readConfig(fixture.settings), { env: {}, validatedTokenCacheSize: 0 })),
    );
    const uncachedInvocationUs = { 1: await cpuPerCall(uncached, 1), 32: await cpuPerCall(uncached, 32) };
    const auth = await authenticationUs(fixture);
    const bundled = importMs(BUNDLE_ENTRY, fixture.settings);
    const unbundled = importMs(UNBUNDLED_ENTRY, fixture.settings);
    const cold = await coldStartMs(fixture);

    const host = await spawnHost(fixture.settings);
    try {
      await load(host, fixture, 8, WARM_UP_REQUESTS); // warm the JIT and the connection pool, as the floor is
      const jwksBefore = jwksRequests();
      const warm = [await load(host, fixture, 1, RUNS.requests1), await load(host, fixture, 32, RUNS.requests32)];
      const latency = [
        await jobLatency(host.baseUrl, jobFixture, 1, RUNS.jobs1),
        await jobLatency(host.baseUrl, jobFixture, 16, RUNS.jobs16),
      ];
      const rssMb = processRssMb(host.child.pid!);
      const jwksFetches = jwksRequests() - jwksBefore;
      // Last: every Create and Cancel leaves a row behind (fewer of them than of reads, and in a table of their own).
      const jobCalls = { warmUp: RUNS.jobWarmUp, iterations: RUNS.jobIterations };
      const operationCpuPerCall: CpuPerCall = (once, c, prepare) =>
        cpuPerCall(once, c, jobCalls.warmUp, jobCalls.iterations, prepare);
      const operations = await operationCpu(jobFixture, operationCpuPerCall);
      const toolkit = await toolkitOperationCpu(jobFixture, operationCpuPerCall);
      const user = await userFigures(jobFixture, fixture.settings, { coldStartMs: cold, importMs: bundled });
      const telemetry = await telemetryCosts({
        settings: fixture.settings,
        azureSettings: fixture.azureSettings,
        coldStartMs: (settings, nodeArgs) => coldStartMs(fixture, settings, nodeArgs),
        warmRun: async (settings, nodeArgs) => {
          const other = await spawnHost({ ...settings, LOCAL_HOST_QUEUES: 'off' }, nodeArgs);
          try {
            await load(other, fixture, 8, WARM_UP_REQUESTS);
            const run = await load(other, fixture, 32, RUNS.requests32);
            if (run.failures > 0) throw new Error(`telemetry run: ${run.failures} answers were not 200`);
            return { cpuPerRequestUs: run.cpuPerRequestUs, rps: run.rps, rssMb: processRssMb(other.child.pid!) };
          } finally {
            await other.stop();
          }
        },
        importMs,
      });
      return {
        telemetry,
        jobs: { ...operations, latency },
        toolkit,
        user,
        machine,
        floorUs,
        invocationUs,
        uncachedInvocationUs,
        auth,
        importMs: bundled,
        importUnbundledMs: unbundled,
        coldStartMs: cold,
        warm,
        rssMb,
        jwksFetches,
      };
    } finally {
      await host.stop();
    }
  } finally {
    await close();
  }
}

/** `BENCH_ONLY=operations`: the in-process operations alone (v1's Create and Cancel, the toolkit's), for quick runs. */
async function operationsOnly(tls: DevTls): Promise<void> {
  const { jobFixture, close } = await startBenchStack(tls);
  try {
    const perCall: CpuPerCall = (once, c, prepare) => cpuPerCall(once, c, RUNS.jobWarmUp, RUNS.jobIterations, prepare);
    const { createUs, cancelUs } = await operationCpu(jobFixture, perCall);
    const v1 = [
      { operation: 'v1 Create', floor: '', invocationUs: createUs.invocation, floorUs: createUs.floor },
      { operation: 'v1 Cancel', floor: '', invocationUs: cancelUs.invocation, floorUs: cancelUs.floor },
    ];
    const toolkit = await toolkitOperationCpu(jobFixture, perCall);
    for (const [name, value] of toolkitRows([...v1, ...toolkit])) console.log(`${name}: ${value}`);
    console.log(toolkitSummary(toolkit));
  } finally {
    await close();
  }
}

/** `BENCH_ONLY=user`: acting for the user's figures alone, with the cold start and module load they are read beside. */
async function userOnly(tls: DevTls): Promise<void> {
  const { fixture, jobFixture, close } = await startBenchStack(tls);
  try {
    const startup = { coldStartMs: await coldStartMs(fixture), importMs: importMs(BUNDLE_ENTRY, fixture.settings) };
    const user = await userFigures(jobFixture, fixture.settings, startup);
    for (const [name, value] of userRows(user)) console.log(`${name}: ${value}`);
    console.log(`\n${userTable(user)}\n\n${userSummary(user)}`);
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  // The stack's HTTPS services serve the development certificate: this process calls them (OneLake's stand-in at
  // set-up, the token endpoint through MSAL) and its hosts inherit its trust, so it must trust the certificate.
  const tls = developmentTls(join(devSettings({}, PROJECT_ROOT).DEV_DATA_DIR, 'tls'));
  if (!trustsCertificate(tls)) return runAgainTrusting(tls, __filename, process.argv.slice(2), 'npm run bench');
  delete process.env[RERUN_MARK];
  if (process.env.BENCH_ONLY === 'operations') return operationsOnly(tls);
  if (process.env.BENCH_ONLY === 'user') return userOnly(tls);
  const figures = await run(tls);
  const output = `${table(figures)}\n\n    ${summaryLine(figures)}`;
  console.log(table(figures));
  if (process.argv.includes('--save')) saveFigures(figures, output, toolkitTable(figures), userTable(figures.user));
  console.log(summaryLine(figures));
}

void main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
