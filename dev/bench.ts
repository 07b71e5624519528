/**
 * `npm run bench`: figures, not assertions. Everything runs on loopback and
 * is bounded in count. Three measurements:
 *  1. cold start: time to load the Functions entry in a fresh Node process
 *     (what a cold instance pays before its first request), with the lazy
 *     @azure/identity load and with it loaded eagerly for comparison;
 *  2. token verification: jsonwebtoken against a parsed KeyObject vs a PEM string;
 *  3. end to end: GET requests through the local host against Azurite.
 */
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { createTableClient } from '../src/jobs/tableClient';
import { toJobEntity } from '../src/jobs/jobRow';
import { startAzurite } from './azurite';
import { jobInstancePath } from '../src/http/jobPath';
import { devAuthorization, devIdentity } from './devIssuer';
import { fabricAppTokenClaims } from './fabricTokens';
import { appSettingsOf, DEMO_JOB, devSettings } from './devSettings';
import { startLocalHost } from './localHost';
import { sourceFunctions } from './sourceFunctions';
import { startJwksServer, TokenIssuer } from './tokenIssuer';

const ROOT = join(__dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'src', 'functions', 'getItemJobInstanceState.js');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

function coldStart(settings: Record<string, string>, runs: number): void {
  const measure = (preload: string) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const script = `const t=process.hrtime.bigint();${preload}require(${JSON.stringify(ENTRY)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
      const result = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...settings }, encoding: 'utf8' });
      times.push(Number(result.stdout));
    }
    return times.sort((a, b) => a - b);
  };
  const lazy = measure('');
  const eager = measure("require('@azure/identity');");
  console.log(`cold start, load of the Functions entry (${runs} fresh processes each, median / max):`);
  console.log(`  as shipped (identity loaded lazily)   ${fmt(percentile(lazy, 50))} / ${fmt(lazy[lazy.length - 1])}`);
  console.log(`  with @azure/identity loaded eagerly    ${fmt(percentile(eager, 50))} / ${fmt(eager[eager.length - 1])}`);
}

function verification(issuer: TokenIssuer, token: string, iterations: number): void {
  const key = issuer.keys[0].publicKey;
  const pem = key.export({ format: 'pem', type: 'spki' }) as string;
  const time = (secret: typeof key | string) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) jwt.verify(token, secret, { algorithms: ['RS256'] });
    return Number(process.hrtime.bigint() - start) / 1e6 / iterations;
  };
  time(key);
  console.log(`token verification (${iterations} each): KeyObject ${(time(key) * 1000).toFixed(1)} µs, PEM string ${(time(pem) * 1000).toFixed(1)} µs`);
}

async function endToEnd(baseUrl: string, headers: Record<string, string>, total: number, concurrency: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = baseUrl + jobInstancePath(DEMO_JOB);
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const start = process.hrtime.bigint();
      request(url, { headers, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - start) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
        .on('error', reject)
        .end();
    });
  const run = async (count: number) => {
    const latencies: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next++ < count) latencies.push(await once());
    };
    const start = Date.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { latencies: latencies.sort((a, b) => a - b), seconds: (Date.now() - start) / 1000 };
  };
  await run(Math.min(200, total));
  const { latencies, seconds } = await run(total);
  agent.destroy();
  console.log(`end to end through the local host + Azurite (${total} GETs, ${concurrency} at a time, both tokens validated each time):`);
  console.log(`  ${(total / seconds).toFixed(0)} requests/s; latency p50 ${fmt(percentile(latencies, 50))}, p95 ${fmt(percentile(latencies, 95))}, p99 ${fmt(percentile(latencies, 99))}`);
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const issuer = new TokenIssuer();
  issuer.addKey();
  const jwks = await startJwksServer(issuer);
  // The development stack's values, pointed at this run's Azurite and issuer.
  const dev = { ...devSettings({}, ROOT), ENTRA_JWKS_URI: jwks.jwksUri, JOB_STATE_TABLE_CONNECTION_STRING: azurite.connectionString };
  const settings = appSettingsOf(dev);
  try {
    const config = readConfig(settings);
    const table = createTableClient(config.table, config.tableName, {});
    await table.createTable();
    await table.createEntity(toJobEntity({ ...DEMO_JOB, tenantId: dev.DEV_USER_TENANT_ID }));
    const authorization = devAuthorization(issuer, dev);
    const headers = { authorization, 'x-ms-client-tenant-id': dev.DEV_USER_TENANT_ID };
    const appToken = issuer.sign(fabricAppTokenClaims(devIdentity(dev)));

    console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
    coldStart(settings, Number(process.env.BENCH_COLD_RUNS ?? 10));
    verification(issuer, appToken, Number(process.env.BENCH_VERIFY_ITERATIONS ?? 2000));
    const host = await startLocalHost({ functions: sourceFunctions(createDependencies(config, { env: {} })), port: 0, log: () => undefined });
    await endToEnd(host.baseUrl, headers, Number(process.env.BENCH_REQUESTS ?? 2000), Number(process.env.BENCH_CONCURRENCY ?? 16));
    await host.close();
  } finally {
    await jwks.close();
    await azurite.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
