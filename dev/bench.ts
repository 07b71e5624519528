/**
 * `npm run bench`: figures, not assertions. Starts its own Azurite (in memory,
 * loopback, telemetry off) and a JWKS server on loopback; everything is
 * bounded in count. It measures:
 *  - floor: CPU of the irreducible work of one request, in this process: one
 *    point read and two RS256 verifications against parsed keys;
 *  - endpoint warm: the bundled app behind the local host in its own process,
 *    loaded by autocannon from this one at 1 and 32 connections; the host's
 *    CPU per request (from /proc) and its ratio to the floor;
 *  - cold start: spawning the host to its first 200 (JWKS download and first
 *    table read included), and the load of the function's module graph;
 *  - memory after the warm run, and JWKS downloads during it (should be 0).
 * `npm run bench -- --save` also writes docs/performance.md's figures and
 * docs/performance-latency.svg.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { jobInstancePath } from '../src/http/jobPath';
import { createTableClient } from '../src/jobs/tableClient';
import { toJobEntity } from '../src/jobs/jobRow';
import { freeLoopbackPort, startAzurite } from './azurite';
import { BUNDLE_ENTRY } from './bundle';
import { devIdentity } from './devIssuer';
import { fabricAppTokenClaims, fabricSubjectTokenClaims, subjectAndAppHeader } from './fabricTokens';
import { appSettingsOf, DEMO_JOB, devSettings } from './devSettings';
import { loadFunctionsEntry, matchRoute, type FunctionsModule } from './localHost';
import { sourceFunctions } from './sourceFunctions';
import { startJwksServer, TokenIssuer } from './tokenIssuer';
import { PROJECT_ROOT } from './projectRoot';

const HOST_PROGRAM = join(PROJECT_ROOT, 'dist', 'dev', 'localHost.js');
const UNBUNDLED_ENTRY = join(PROJECT_ROOT, 'dist', 'src', 'functions', 'getItemJobInstanceState.js');
const PERFORMANCE_DOC = join(PROJECT_ROOT, 'docs', 'performance.md');
const LATENCY_PLOT = join(PROJECT_ROOT, 'docs', 'performance-latency.svg');

const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = {
  floorIterations: count('BENCH_FLOOR_ITERATIONS', 2000),
  coldStarts: count('BENCH_COLD_RUNS', 9),
  importRuns: count('BENCH_IMPORT_RUNS', 9),
  requests1: count('BENCH_REQUESTS_1', 2000),
  requests32: count('BENCH_REQUESTS_32', 10000),
};

/** Requests (or floor iterations) before anything is measured: the JIT settles. */
const WARM_UP_REQUESTS = 3000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

interface Fixture {
  settings: Record<string, string>;
  headers: Record<string, string>;
  url: (baseUrl: string) => string;
  subjectToken: string;
  appToken: string;
  issuer: TokenIssuer;
}

/**
 * CPU microseconds per call of `once`, in this process, with `concurrency`
 * loops at once (as the host is loaded): warmed up as long as the host is,
 * then batches until two in a row agree within 5 %; the lower of those two.
 */
async function cpuPerCall(once: () => Promise<void>, concurrency: number): Promise<number> {
  const batch = async (iterations: number) => {
    const perLoop = Math.ceil(iterations / concurrency);
    const start = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perLoop; i++) await once();
      }),
    );
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (perLoop * concurrency);
  };
  await batch(WARM_UP_REQUESTS);
  let previous = await batch(RUNS.floorIterations);
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await batch(RUNS.floorIterations);
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
  const matched = matchRoute(functions.routes, new URL(url).pathname)!;
  return async () => {
    const request = new functions.HttpRequest({ method: 'GET', url, headers: fixture.headers, params: matched.params });
    const context = new functions.InvocationContext({ invocationId: 'bench', functionName: matched.route.name, logHandler: () => undefined });
    const response = await matched.route.handler(request, context);
    if (response.status !== 200) throw new Error(`invocation answered ${response.status}`);
  };
}

/** Milliseconds to require a module in a fresh process, median of several. */
function importMs(entry: string, settings: Record<string, string>): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(entry)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;
  const times = Array.from({ length: RUNS.importRuns }, () => {
    const result = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...settings }, encoding: 'utf8' });
    const ms = Number(result.stdout);
    if (result.status !== 0 || !Number.isFinite(ms) || ms <= 0) throw new Error(`loading ${entry} failed: ${result.stderr}`);
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
async function spawnHost(settings: Record<string, string>): Promise<HostProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, [...(process.env.BENCH_HOST_NODE_OPTIONS?.split(' ') ?? []), HOST_PROGRAM], { env: { PATH: process.env.PATH, ...settings, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error('the host did not listen within 30 s'))), 30_000);
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
  return { child, baseUrl: `http://127.0.0.1:${port}/api`, stop: () => (child.kill('SIGTERM'), exited) };
}

async function getStatus(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** Spawn to first 200, median of several fresh host processes. */
async function coldStartMs(fixture: Fixture): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS.coldStarts; i++) {
    const start = process.hrtime.bigint();
    const host = await spawnHost(fixture.settings);
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
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

const PERCENTILES = ['p50', 'p75', 'p90', 'p97_5', 'p99', 'p99_9'] as const;

interface LoadResult {
  connections: number;
  requests: number;
  rps: number;
  latency: Record<(typeof PERCENTILES)[number], number>;
  cpuPerRequestUs: number;
  failures: number;
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
  const latency = Object.fromEntries(PERCENTILES.map((p) => [p, at(Number(p.slice(1).replace('_', '.')))])) as LoadResult['latency'];
  return {
    connections,
    requests: result.requests.total,
    rps: result.requests.total / seconds,
    latency,
    cpuPerRequestUs: cpu / result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

async function prepare(): Promise<{ fixture: Fixture; close: () => Promise<void>; jwksRequests: () => number }> {
  const azurite = await startAzurite();
  const issuer = new TokenIssuer();
  issuer.addKey();
  const jwks = await startJwksServer(issuer);
  const dev = { ...devSettings({}, PROJECT_ROOT), ENTRA_JWKS_URI: jwks.jwksUri, JOB_STATE_TABLE_CONNECTION_STRING: azurite.connectionString };
  const settings = appSettingsOf(dev);
  const table = createTableClient(readConfig(settings).table, dev.JOB_STATE_TABLE_NAME, {});
  await table.createTable();
  await table.createEntity(toJobEntity({ ...DEMO_JOB, tenantId: dev.DEV_USER_TENANT_ID }));
  const identity = devIdentity(dev);
  const subjectToken = issuer.sign(fabricSubjectTokenClaims(identity, dev.DEV_USER_TENANT_ID));
  const appToken = issuer.sign(fabricAppTokenClaims(identity));
  const fixture: Fixture = {
    settings,
    headers: { authorization: subjectAndAppHeader(subjectToken, appToken), 'x-ms-client-tenant-id': dev.DEV_USER_TENANT_ID },
    url: (baseUrl) => baseUrl + jobInstancePath(DEMO_JOB),
    subjectToken,
    appToken,
    issuer,
  };
  return {
    fixture,
    jwksRequests: () => jwks.requests,
    close: async () => {
      await jwks.close();
      await azurite.stop();
    },
  };
}

/** Authentication alone, in process: with the validated-token cache and without it. */
async function authenticationUs(fixture: Fixture): Promise<{ cached: number; uncached: number }> {
  const config = readConfig(fixture.settings);
  const measure = async (cacheSize: number | undefined) => {
    const { authenticator } = createDependencies(config, { env: {}, validatedTokenCacheSize: cacheSize });
    const headers = { authorization: fixture.headers.authorization, clientTenantId: fixture.headers['x-ms-client-tenant-id'] };
    for (let i = 0; i < 200; i++) await authenticator.authenticate(headers);
    const start = process.cpuUsage();
    for (let i = 0; i < RUNS.floorIterations; i++) await authenticator.authenticate(headers);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / RUNS.floorIterations;
  };
  return { cached: await measure(undefined), uncached: await measure(0) };
}

interface Figures {
  machine: string;
  /** Floor per iteration by concurrency (1 and 32). */
  floorUs: Record<number, number>;
  /** One invocation of the bundled function without HTTP, by concurrency. */
  invocationUs: Record<number, number>;
  /** The same with the validated-token cache off. */
  uncachedInvocationUs: Record<number, number>;
  auth: { cached: number; uncached: number };
  importMs: number;
  importUnbundledMs: number;
  coldStartMs: number;
  warm: LoadResult[];
  rssMb: number;
  jwksFetches: number;
}

async function run(): Promise<Figures> {
  const { fixture, close, jwksRequests } = await prepare();
  try {
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
    const floor = floorWork(fixture);
    const floorUs = { 1: await cpuPerCall(floor, 1), 32: await cpuPerCall(floor, 32) };
    Object.assign(process.env, fixture.settings);
    const invocation = invocationWork(fixture, loadFunctionsEntry(BUNDLE_ENTRY));
    const invocationUs = { 1: await cpuPerCall(invocation, 1), 32: await cpuPerCall(invocation, 32) };
    // The same from the sources with the validated-token cache off: both RS256 verifications every time.
    const uncached = invocationWork(fixture, sourceFunctions(createDependencies(readConfig(fixture.settings), { env: {}, validatedTokenCacheSize: 0 })));
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
      return {
        machine,
        floorUs,
        invocationUs,
        uncachedInvocationUs,
        auth,
        importMs: bundled,
        importUnbundledMs: unbundled,
        coldStartMs: cold,
        warm,
        rssMb: processRssMb(host.child.pid!),
        jwksFetches: jwksRequests() - jwksBefore,
      };
    } finally {
      await host.stop();
    }
  } finally {
    await close();
  }
}

function table(f: Figures): string {
  const rows: [string, string][] = [
    ['machine', f.machine],
    ['floor: CPU of 1 point read + 2 RS256 verifications, 1 / 32 at a time', `${round(f.floorUs[1])} µs / ${round(f.floorUs[32])} µs`],
    ['function invocation without HTTP (the Node worker\'s share), 1 / 32 at a time', againstFloor(f.invocationUs, f.floorUs)],
    ['the same with the validated-token cache off', againstFloor(f.uncachedInvocationUs, f.floorUs)],
    ['authentication CPU per request, validated-token cache on / off', `${round(f.auth.cached, 1)} µs / ${round(f.auth.uncached, 1)} µs`],
  ];
  for (const w of f.warm) {
    rows.push([`warm, ${w.connections} connection${w.connections === 1 ? '' : 's'} (${w.requests} requests, ${w.failures} not 200)`, `${round(w.rps)} req/s, p50 ${w.latency.p50} ms, p99 ${w.latency.p99} ms`]);
    rows.push([`host CPU per request at ${w.connections}, ratio to the floor at ${w.connections}`, `${round(w.cpuPerRequestUs)} µs, ${round(w.cpuPerRequestUs / f.floorUs[w.connections], 2)} ×`]);
  }
  rows.push(
    ['cold start: spawn to first 200 (median)', `${round(f.coldStartMs)} ms`],
    ['module graph load, bundled / unbundled (median)', `${round(f.importMs, 1)} ms / ${round(f.importUnbundledMs, 1)} ms`],
    ['host resident memory after the warm runs', `${round(f.rssMb)} MB`],
    ['JWKS downloads during the warm runs', String(f.jwksFetches)],
  );
  const width = Math.max(...rows.map(([name]) => name.length));
  return ['| measure | value |', '|---|---|', ...rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value} |`)].join('\n');
}

/** "x µs (r ×) / y µs (s ×)" at 1 and 32, each against the floor at the same concurrency. */
function againstFloor(us: Record<number, number>, floorUs: Record<number, number>): string {
  return [1, 32].map((c) => `${round(us[c])} µs (${round(us[c] / floorUs[c], 2)} ×)`).join(' / ');
}

function summaryLine(f: Figures): string {
  const at32 = f.warm.find((w) => w.connections === 32)!;
  return `bench: cpu_ratio=${round(at32.cpuPerRequestUs / f.floorUs[32], 2)} cold_start_ms=${round(f.coldStartMs)} import_ms=${round(f.importMs)} rps_32=${round(at32.rps)} p99_32_ms=${at32.latency.p99} rss_mb=${round(f.rssMb)} jwks_fetches=${f.jwksFetches}`;
}

/** Latency percentiles at each concurrency, one line each, as a small standalone SVG. */
function latencyPlot(warm: LoadResult[]): string {
  const [width, height, left, bottom, top, right] = [660, 360, 60, 50, 30, 140];
  const max = Math.max(1, ...warm.flatMap((w) => PERCENTILES.map((p) => w.latency[p])));
  const x = (i: number) => left + (i * (width - left - right)) / (PERCENTILES.length - 1);
  const y = (ms: number) => height - bottom - (ms / max) * (height - bottom - top);
  const colours = ['#1f77b4', '#d62728'];
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`, `<rect width="100%" height="100%" fill="white"/>`];
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">Latency percentiles through the local host (ms)</text>`);
  parts.push(`<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="black"/><line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="black"/>`);
  for (let t = 0; t <= 4; t++) {
    const ms = (max * t) / 4;
    parts.push(`<text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${round(ms, 1)}</text><line x1="${left}" y1="${y(ms)}" x2="${width - right}" y2="${y(ms)}" stroke="#ddd"/>`);
  }
  PERCENTILES.forEach((p, i) => parts.push(`<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle">${p.replace('_', '.')}</text>`));
  warm.forEach((w, n) => {
    const points = PERCENTILES.map((p, i) => `${x(i)},${y(w.latency[p])}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${colours[n % 2]}" stroke-width="2"/>`);
    PERCENTILES.forEach((p, i) => parts.push(`<circle cx="${x(i)}" cy="${y(w.latency[p])}" r="3" fill="${colours[n % 2]}"/>`));
    parts.push(`<text x="${width - right + 10}" y="${top + 20 + n * 18}" fill="${colours[n % 2]}">${w.connections} connection${w.connections === 1 ? '' : 's'}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Replaces the figures between the markers of docs/performance.md. */
function saveFigures(f: Figures, output: string): void {
  const doc = readFileSync(PERFORMANCE_DOC, 'utf8');
  const [start, end] = ['<!-- bench:start -->', '<!-- bench:end -->'];
  const before = doc.slice(0, doc.indexOf(start) + start.length);
  const after = doc.slice(doc.indexOf(end));
  writeFileSync(PERFORMANCE_DOC, `${before}\n${output}\n${after}`);
  writeFileSync(LATENCY_PLOT, latencyPlot(f.warm));
}

async function main(): Promise<void> {
  const figures = await run();
  const output = `${table(figures)}\n\n    ${summaryLine(figures)}`;
  console.log(table(figures));
  if (process.argv.includes('--save')) saveFigures(figures, output);
  console.log(summaryLine(figures));
}

void main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
