/**
 * `npm start`: the whole product on this machine, with nothing but Node.js
 * and npm. Azurite (Table and Queue services) with data under .dev/, a
 * development token issuer and Entra ID's token endpoint on loopback,
 * OneLake's stand-in, the demo job from Fabric's example, and the Functions
 * host: `func start` when Azure Functions Core Tools is on the PATH, else the
 * project's local host. Prints ready-to-run curl commands and stops
 * everything it started on Ctrl-C, SIGTERM or SIGHUP.
 *
 * The token endpoint and the stand-in serve the development certificate
 * (dev/devTls.ts), which every process of the stack trusts through Node's
 * NODE_EXTRA_CA_CERTS. Node reads it only when a process starts, and the
 * local host runs in this process: so when it does not name the certificate
 * yet, this program runs itself again, once, as a child that has it.
 *
 * `npm run stack` (--stack-only) is the same run without the Functions host,
 * for people who run `npm run host`, `func start` or a debugger themselves:
 * it prints the settings that point a host at this stack instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createDependencies } from '../src/app';
import { readConfig, SETTINGS } from '../src/config';
import { jobInstancePath } from '../src/http/jobPath';
import { createTableClient } from '../src/storage/tableClient';
import { COLUMNS, rowAnswers, toJobEntity, type JobRecord } from '../src/jobs/jobRow';
import { JobStateWriter } from '../src/jobs/jobStateWriter';
import { forLog } from '../src/logValue';
import { JobAlreadyExistsError } from '../src/jobs/writerErrors';
import {
  AZURITE_ACCOUNT,
  createOneLakeWorkspace,
  startAzurite,
  startOneLakeStandIn,
  type RunningAzurite,
  type RunningOneLakeStandIn,
} from './azurite';
import { demoCurls, demoCurlText } from './demoCurls';
import { assertionKeyFile, developmentAssertionKey } from './devAssertionKey';
import { createDevIssuer, devAppOnlyAuthorization, devAuthorization, devIdentity, devStorageToken } from './devIssuer';
import { appSettingsOf, DEMO_JOB, devSettings, devTokenFailure, type DevSettings } from './devSettings';
import { developmentTls, trustsCertificate, type DevTls } from './devTls';
import { createConsoleSink, logFormatFromArgs, type LogFormat, startLocalHost } from './localHost';
import { sourceFunctions } from './sourceFunctions';
import { startTokenEndpoint } from './tokenEndpoint';
import { RERUN_MARK, runAgainTrusting } from './trustedRerun';
import { assertOutsideAzure, startJwksServer, type TokenIssuer } from './tokenIssuer';
import { PROJECT_ROOT } from './projectRoot';

const FUNC_START_TIMEOUT_MS = 120_000;

type Stop = () => Promise<void>;

/** What has been started, stopped in reverse order; children are killed outright if we exit any other way. */
class Started {
  private readonly stops: Stop[] = [];
  private readonly groups: ChildProcess[] = [];
  private stopping = false;
  private stopped?: Promise<void>;

  add(stop: Stop): void {
    this.stops.push(stop);
  }

  /** A child in its own process group (func and its language worker). */
  addGroup(child: ChildProcess): void {
    this.groups.push(child);
    this.add(() => stopProcessGroup(child));
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Idempotent: a second signal (npm's, then the parent watchdog's) waits for the first stop instead of cutting it short. */
  async stopAll(exitCode: number): Promise<never> {
    this.stopped ??= (async () => {
      this.stopping = true;
      for (const stop of [...this.stops].reverse()) await stop().catch(() => undefined);
    })();
    await this.stopped;
    process.exit(exitCode);
  }

  killGroupsNow(): void {
    for (const child of this.groups) signalGroup(child, 'SIGKILL');
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function hasFunctionsCoreTools(): boolean {
  return spawnSync('func', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Creates the demo job, or keeps the one there when it is this run's: what
 * you did to it with jobstate survives a restart. A row of another owner
 * (DEV_USER_TENANT_ID changed since it was made) would answer the printed
 * curl line with JobInstanceNotFound, so it is replaced by a fresh demo job.
 */
export async function seedDemoJob(settings: DevSettings): Promise<string> {
  const config = readConfig(appSettingsOf(settings));
  const table = createTableClient(config.table, config.tableName, {});
  await table.createTable();
  // In Azure the template creates the items table; Azurite starts empty.
  await createTableClient(config.table, config.itemsTableName, {}).createTable();
  const demo: JobRecord = { ...DEMO_JOB, tenantId: settings.DEV_USER_TENANT_ID };
  try {
    await new JobStateWriter(table, { now: () => DEMO_JOB.startTimeUtc }).create(demo);
    return 'created';
  } catch (error) {
    if (!(error instanceof JobAlreadyExistsError)) throw error;
  }
  const existing = await table.getEntity<Record<string, unknown>>(DEMO_JOB.itemId, DEMO_JOB.jobInstanceId);
  if (rowAnswers(existing, demo)) return 'already there';
  await table.upsertEntity(toJobEntity(demo), 'Replace');
  return `replaced (it belonged to tenant ${forLog(existing[COLUMNS.tenantId])}; DEV_USER_TENANT_ID is ${demo.tenantId})`;
}

function jobUrl(baseUrl: string, jobInstanceId: string): string {
  return baseUrl + jobInstancePath({ ...DEMO_JOB, jobInstanceId });
}

/** What makes a process trust the development certificate: this process's NODE_EXTRA_CA_CERTS, which names it. */
type Trust = { NODE_EXTRA_CA_CERTS: string };

/**
 * The shell's environment without any app setting of its own, so only the development values reach func,
 * and the certificate trusted, so its language worker reaches the token endpoint and the stand-in.
 */
function environmentForFunc(settings: DevSettings, trust: Trust): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [...SETTINGS.required, ...SETTINGS.oneOf, ...SETTINGS.optional]) delete env[name];
  const hostStorage = `${settings.JobQueue}BlobEndpoint=http://127.0.0.1:${settings.AZURITE_BLOB_PORT}/${AZURITE_ACCOUNT};`;
  return {
    ...env,
    ...appSettingsOf(settings),
    ...trust,
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: hostStorage,
  };
}

async function startFunctionsHost(
  settings: DevSettings,
  issuer: TokenIssuer,
  useFunc: boolean,
  trust: Trust,
  started: Started,
  logFormat: LogFormat,
): Promise<string> {
  if (!useFunc) {
    say(
      `Functions host: the project's local host (${settings.DEV_FUNCTIONS_HOST === 'local' ? 'DEV_FUNCTIONS_HOST=local' : 'Azure Functions Core Tools is not on the PATH'})`,
    );
    const host = await startLocalHost({
      functions: sourceFunctions(createDependencies(readConfig(appSettingsOf(settings)), { env: {} })),
      host: settings.HOST,
      port: Number(settings.PORT),
      log: createConsoleSink(logFormat),
      queueSettings: appSettingsOf(settings),
    });
    started.add(host.close);
    return host.baseUrl;
  }
  say('Functions host: func start (Azure Functions Core Tools)');
  // Its own process group, so stopping it also stops the language worker it starts.
  const func = spawn('func', ['start', '--port', settings.PORT], {
    cwd: PROJECT_ROOT,
    env: environmentForFunc(settings, trust),
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  started.addGroup(func);
  const baseUrl = `http://${settings.HOST}:${settings.PORT}/api`;
  await waitUntilServing(
    jobUrl(baseUrl, DEMO_JOB.jobInstanceId),
    devAuthorization(issuer, settings),
    settings.DEV_USER_TENANT_ID,
    func,
  );
  return baseUrl;
}

/** Ready means the function answers the demo job, not merely that the host accepts connections. */
async function waitUntilServing(
  url: string,
  authorization: string,
  tenantId: string,
  func: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + FUNC_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (func.exitCode !== null || func.signalCode !== null)
      throw new Error(`func start exited (${func.exitCode ?? func.signalCode})`);
    try {
      const response = await fetch(url, {
        headers: { authorization, 'x-ms-client-tenant-id': tenantId },
        signal: AbortSignal.timeout(5000),
      });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`func start did not serve the demo job within ${FUNC_START_TIMEOUT_MS / 1000} s`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal); // No process groups here (Windows), or already gone.
  }
}

function stopProcessGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    child.once('exit', () => resolve());
    signalGroup(child, 'SIGTERM');
    setTimeout(() => signalGroup(child, 'SIGKILL'), 5000).unref();
  });
}

/** --stack-only: no Functions host; the settings that point one of your own at this stack. */
function announceStackOnly(settings: DevSettings, trust: Trust): string {
  const baseUrl = `http://${settings.HOST}:${settings.PORT}/api`;
  say('Functions host: none (--stack-only). Start your own against this stack with these settings');
  say('(npm run host and a debugger read them from the environment; func start from local.settings.json,');
  say('where local.settings.sample.json has the same values for the default ports but for USER_ASSERTION_KEY,');
  say("which is this machine's own, and NODE_EXTRA_CA_CERTS, which func start takes from the environment):");
  for (const [name, value] of Object.entries({
    ...appSettingsOf(settings),
    ...trust,
    HOST: settings.HOST,
    PORT: settings.PORT,
  })) {
    say(`export ${name}='${value}'`);
  }
  say(
    `USER_ASSERTION_KEY is a development key, kept in ${assertionKeyFile(settings.DEV_DATA_DIR)}: never use it for a deployment.`,
  );
  say(`The curl lines below answer once your host listens on ${baseUrl}.`);
  return baseUrl;
}

/** A port of the stack taken by something else: which setting moves it. */
function portInUse(error: Error, what: string): Error {
  return error.message.includes('EADDRINUSE') ? new Error(`${what} is in use; set it to another`) : error;
}

/** Azurite's Table and Queue services, and its Blob service as OneLake's stand-in, started side by side. */
async function startStorage(
  settings: DevSettings,
  tls: DevTls,
  withBlob: boolean,
  started: Started,
): Promise<{ azurite: RunningAzurite; oneLake: RunningOneLakeStandIn }> {
  const [azurite, oneLake] = await Promise.allSettled([
    startAzurite({
      port: Number(settings.AZURITE_TABLE_PORT),
      queuePort: Number(settings.AZURITE_QUEUE_PORT),
      blobPort: withBlob ? Number(settings.AZURITE_BLOB_PORT) : undefined,
      location: join(settings.DEV_DATA_DIR, 'azurite'),
    }).catch((error: Error) => {
      throw portInUse(error, 'an Azurite port (AZURITE_TABLE_PORT, AZURITE_QUEUE_PORT or AZURITE_BLOB_PORT)');
    }),
    startOneLakeStandIn({
      tls,
      port: Number(settings.DEV_ONELAKE_PORT),
      location: join(settings.DEV_DATA_DIR, 'onelake'),
    }).catch((error: Error) => {
      throw portInUse(error, `OneLake's stand-in's port (DEV_ONELAKE_PORT, ${settings.DEV_ONELAKE_PORT})`);
    }),
  ]);
  for (const result of [azurite, oneLake]) if (result.status === 'fulfilled') started.add(result.value.stop);
  if (azurite.status === 'rejected') throw azurite.reason;
  if (oneLake.status === 'rejected') throw oneLake.reason;
  for (const [name, service] of [
    ['Azurite', azurite.value],
    ["OneLake's stand-in", oneLake.value],
  ] as const) {
    service.process.once(
      'exit',
      () => started.isStopping || (say(`${name} stopped unexpectedly; stopping.`), void started.stopAll(1)),
    );
  }
  return { azurite: azurite.value, oneLake: oneLake.value };
}

async function main(args: string[]): Promise<void> {
  const unknown = args.find((arg) => arg !== '--stack-only' && arg !== '--json');
  if (unknown !== undefined)
    throw new Error(`unknown option ${JSON.stringify(unknown)} (the options are --stack-only and --json)`);
  const stackOnly = args.includes('--stack-only');
  assertOutsideAzure();
  const settings = devSettings(process.env, PROJECT_ROOT);
  const tokenFailure = devTokenFailure(settings);
  const tls = developmentTls(join(settings.DEV_DATA_DIR, 'tls'));
  if (!trustsCertificate(tls)) return runAgainTrusting(tls, __filename, args, 'npm start');
  delete process.env[RERUN_MARK]; // not for func's environment
  const trust: Trust = { NODE_EXTRA_CA_CERTS: resolve(process.env.NODE_EXTRA_CA_CERTS!) };
  settings.USER_ASSERTION_KEY = developmentAssertionKey(settings.DEV_DATA_DIR);

  const started = new Started();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void started.stopAll(0));
  // npm forwards SIGTERM to the script's shell, which may die without passing it on:
  // when our parent goes away, stop too rather than leave Azurite and the host behind.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void started.stopAll(0), 1000).unref();
  // Last resort if we exit some other way: no process group outlives us.
  process.once('exit', () => started.killGroupsNow());

  try {
    const useFunc = !stackOnly && settings.DEV_FUNCTIONS_HOST !== 'local' && hasFunctionsCoreTools();
    say(
      `Development TLS certificate (trusted through NODE_EXTRA_CA_CERTS=${trust.NODE_EXTRA_CA_CERTS}): ${tls.certFile}`,
    );
    // func start needs the Blob service for its own state: whenever it may run against this stack.
    const withBlob = useFunc || stackOnly;
    const { azurite, oneLake } = await startStorage(settings, tls, withBlob, started);
    say(
      `Azurite: Table http://127.0.0.1:${azurite.port}, Queue http://127.0.0.1:${azurite.queuePort}${withBlob ? `, Blob http://127.0.0.1:${settings.AZURITE_BLOB_PORT}` : ''} (data in ${join(settings.DEV_DATA_DIR, 'azurite')})`,
    );
    // Real OneLake's workspaces exist already; the stand-in's demo workspace is made here.
    await createOneLakeWorkspace(oneLake.connectionString, DEMO_JOB.workspaceId);
    say(
      `OneLake stand-in (Azurite's Blob service, HTTPS, OAuth): ${oneLake.endpoint}, workspace ${DEMO_JOB.workspaceId} (data in ${join(settings.DEV_DATA_DIR, 'onelake')})`,
    );

    const issuer = createDevIssuer(settings);
    const jwks = await startJwksServer(issuer, '127.0.0.1', Number(settings.DEV_ISSUER_PORT));
    started.add(jwks.close);
    say(`Development token issuer (loopback only): ${jwks.jwksUri}`);
    const tokenEndpoint = await startTokenEndpoint(issuer, {
      identity: devIdentity(settings),
      client: { secret: settings.WORKLOAD_CLIENT_SECRET },
      tls,
      port: Number(settings.DEV_TOKEN_PORT),
    }).catch((error: Error) => {
      throw portInUse(error, `the token endpoint's port (DEV_TOKEN_PORT, ${settings.DEV_TOKEN_PORT})`);
    });
    started.add(tokenEndpoint.close);
    tokenEndpoint.failure = tokenFailure;
    say(
      `Development token endpoint (Entra ID's, for acting for the user; loopback only): ${tokenEndpoint.authorityHost}${tokenFailure ? `, answering every exchange with the ${tokenFailure} failure (DEV_TOKEN_FAILURE)` : ''}`,
    );
    say(`Sealing key for the jobs' user tokens (development only): ${assertionKeyFile(settings.DEV_DATA_DIR)}`);

    say(`Demo job ${DEMO_JOB.itemId}/${DEMO_JOB.jobInstanceId}: ${await seedDemoJob(settings)}`);

    const baseUrl = stackOnly
      ? announceStackOnly(settings, trust)
      : await startFunctionsHost(settings, issuer, useFunc, trust, started, logFormatFromArgs(args));
    say(`Backend URL (both contracts; the Workload endpoint of a manifest): ${baseUrl}`);
    const curls = demoCurls({
      baseUrl,
      authorization: devAuthorization(issuer, settings),
      appOnlyAuthorization: devAppOnlyAuthorization(issuer, settings),
      tenantId: settings.DEV_USER_TENANT_ID,
      oneLake: { endpoint: oneLake.endpoint, certFile: tls.certFile, token: devStorageToken(issuer, settings) },
    });
    say('');
    for (const line of demoCurlText(curls)) say(line);
    say('');
    say('Tokens last an hour; `npm run token` prints fresh ones. Ctrl-C stops everything.');
  } catch (error) {
    process.stderr.write(
      `npm start failed: ${error instanceof Error ? error.message.split('\n', 1)[0] : String(error)}\n`,
    );
    await started.stopAll(1);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
