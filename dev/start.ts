/**
 * `npm start`: the whole product on this machine, with nothing but Node.js
 * and npm. Azurite (Table service) with data under .dev/, a development
 * token issuer on loopback, the demo job from Fabric's example, and the
 * Functions host: `func start` when Azure Functions Core Tools is on the
 * PATH, else the project's local host. Prints ready-to-run curl commands and
 * stops everything it started on Ctrl-C or SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { createTableClient } from '../src/jobs/tableClient';
import { JobStateWriter } from '../src/jobs/jobStateWriter';
import { JobAlreadyExistsError } from '../src/jobs/writerErrors';
import { startAzurite, type RunningAzurite } from './azurite';
import { createDevIssuer, devAuthorization } from './devIssuer';
import { appSettingsOf, DEMO_JOB, devSettings, type DevSettings } from './devSettings';
import { startLocalHost } from './localHost';
import { assertOutsideAzure, startJwksServer, type JwksServer } from './tokenIssuer';

const PROJECT_ROOT = join(__dirname, '..', '..');
const MISSING_JOB_INSTANCE_ID = '00000000-0000-4000-8000-000000000000';

type Stop = () => Promise<void>;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function hasFunctionsCoreTools(): boolean {
  return spawnSync('func', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function seedDemoJob(settings: DevSettings): Promise<string> {
  const config = readConfig(appSettingsOf(settings));
  const table = createTableClient(config.table, config.tableName, {});
  await table.createTable();
  const writer = new JobStateWriter(table, { now: () => DEMO_JOB.startTimeUtc });
  try {
    await writer.create({ ...DEMO_JOB, tenantId: settings.DEV_USER_TENANT_ID });
    return 'created';
  } catch (error) {
    if (error instanceof JobAlreadyExistsError) return 'already there';
    throw error;
  }
}

async function startFunctionsHost(settings: DevSettings, children: ChildProcess[]): Promise<{ baseUrl: string; stop: Stop }> {
  const useFunc = settings.DEV_FUNCTIONS_HOST !== 'local' && hasFunctionsCoreTools();
  if (!useFunc) {
    say('Functions host: the project\'s local host (Azure Functions Core Tools is not on the PATH)');
    const host = await startLocalHost({
      dependencies: createDependencies(readConfig(appSettingsOf(settings)), { env: {} }),
      host: settings.HOST,
      port: Number(settings.PORT),
    });
    return { baseUrl: host.baseUrl, stop: host.close };
  }
  say('Functions host: func start (Azure Functions Core Tools)');
  // Its own process group, so stopping it also stops the language worker it starts.
  const func = spawn('func', ['start', '--port', settings.PORT], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...appSettingsOf(settings), FUNCTIONS_WORKER_RUNTIME: 'node' },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.push(func);
  const baseUrl = `http://${settings.HOST}:${settings.PORT}/api`;
  await waitForHttp(`${baseUrl}/workspaces`, 90_000, func);
  return { baseUrl, stop: () => stopProcessGroup(func) };
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`func exited with code ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw new Error(`the Functions host did not answer on ${url} within ${timeoutMs / 1000} s`);
}

function stopProcessGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 5000).unref();
  });
}

export function curlCommand(url: string, authorization: string, tenantId: string): string {
  // Tokens are base64url and dots: nothing in them needs escaping inside single quotes.
  return `curl -sS '${url}' -H 'Authorization: ${authorization}' -H 'x-ms-client-tenant-id: ${tenantId}'`;
}

function jobUrl(baseUrl: string, jobInstanceId: string): string {
  const job = DEMO_JOB;
  return `${baseUrl}/workspaces/${job.workspaceId}/items/${job.itemType}/${job.itemId}/jobTypes/${job.jobType}/instances/${jobInstanceId}`;
}

async function main(): Promise<void> {
  assertOutsideAzure();
  const settings = devSettings(process.env, PROJECT_ROOT);
  const stops: Stop[] = [];
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(exitCode);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));
  // npm forwards SIGTERM to the script's shell, which may die without passing it on:
  // when our parent goes away, stop too rather than leave Azurite and the host behind.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void stopAll(0), 1000).unref();
  // Last resort if we exit some other way: no child outlives us.
  process.once('exit', () => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL')));

  try {
    const azurite: RunningAzurite = await startAzurite({ port: Number(settings.AZURITE_TABLE_PORT), location: join(settings.DEV_DATA_DIR, 'azurite') });
    children.push(azurite.process);
    stops.push(azurite.stop);
    azurite.process.once('exit', () => !stopping && (say('Azurite stopped unexpectedly; stopping.'), void stopAll(1)));
    say(`Azurite Table service: http://127.0.0.1:${azurite.port} (data in ${join(settings.DEV_DATA_DIR, 'azurite')})`);

    const issuer = createDevIssuer(settings);
    const jwks: JwksServer = await startJwksServer(issuer, '127.0.0.1', Number(settings.DEV_ISSUER_PORT));
    stops.push(jwks.close);
    say(`Development token issuer (loopback only): ${jwks.jwksUri}`);

    say(`Demo job ${DEMO_JOB.itemId}/${DEMO_JOB.jobInstanceId}: ${await seedDemoJob(settings)}`);

    const host = await startFunctionsHost(settings, children);
    stops.push(host.stop);
    say(`Endpoint: ${host.baseUrl}/workspaces/{workspaceId}/items/{itemType}/{itemId}/jobTypes/{jobType}/instances/{jobInstanceId}`);
    say('');
    say('The demo job (Fabric\'s example):');
    say(curlCommand(jobUrl(host.baseUrl, DEMO_JOB.jobInstanceId), devAuthorization(issuer, settings), settings.DEV_USER_TENANT_ID));
    say('A job that does not exist:');
    say(curlCommand(jobUrl(host.baseUrl, MISSING_JOB_INSTANCE_ID), devAuthorization(issuer, settings), settings.DEV_USER_TENANT_ID));
    say('');
    say('Tokens last an hour; `npm run token` prints fresh ones. Ctrl-C stops everything.');
  } catch (error) {
    process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
