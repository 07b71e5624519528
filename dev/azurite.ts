/**
 * Starts Azurite's Table and Queue services (the real emulator, npm
 * `azurite`, one process each) on 127.0.0.1, always with --disableTelemetry.
 * Used by the test setup (in memory, free ports) and by the local
 * development stack (on disk). `startOneLakeStandIn` starts its Blob service
 * as OneLake's stand-in, over HTTPS with OAuth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import type { DevTls } from './devTls';

/** Azurite's well-known development account; not a secret. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** The Table service's; 0 or absent: a free port. */
  port?: number;
  /** The Queue service's; 0 or absent: a free port. */
  queuePort?: number;
  /** Also the Blob service, on this port: only `func start` needs it (the Functions host keeps its own state in blobs). */
  blobPort?: number;
  /** Keep data in this folder; absent: --inMemoryPersistence. */
  location?: string;
  startTimeoutMs?: number;
}

export interface RunningAzurite {
  /** The Table service's port. */
  port: number;
  queuePort: number;
  /** Both services' endpoints: a connection string for tables and queues alike. */
  connectionString: string;
  /** The Table service's process (the Queue service's ends with it). */
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Azurite's account with the Table endpoint, and the Queue endpoint when there is one. */
export function azuriteConnectionString(port: number, queuePort?: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};` +
    (queuePort ? `QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT};` : '')
  );
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const started = await Promise.allSettled([
    startService('table', options.port, options),
    startService('queue', options.queuePort, options),
    ...(options.blobPort ? [startService('blob', options.blobPort, options)] : []),
  ]);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
    throw failure.reason;
  }
  const [table, queue, ...others] = started.map((result) => (result as PromiseFulfilledResult<RunningService>).value);
  const stop = async () => void (await Promise.all([table, queue, ...others].map((service) => service.stop())));
  // The others live and die with the Table service: a test that kills it has stopped "storage".
  table.process.once('exit', () => void Promise.all([queue, ...others].map((service) => service.stop())));
  return {
    port: table.port,
    queuePort: queue.port,
    connectionString: azuriteConnectionString(table.port, queue.port),
    process: table.process,
    stop,
  };
}

type Service = 'table' | 'queue' | 'blob';

interface RunningService {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** What one service's process gets beyond the common arguments. */
interface Launch {
  args?: string[];
  env?: Record<string, string>;
}

async function startService(
  service: Service,
  fixedPort: number | undefined,
  options: AzuriteOptions,
  extra: Launch = {},
): Promise<RunningService> {
  // A free port can be taken between our probe and Azurite's bind; try again then.
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort || (await freeLoopbackPort());
    try {
      return await launch(service, port, options, extra);
    } catch (error) {
      if (fixedPort || attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

function launch(service: Service, port: number, options: AzuriteOptions, extra: Launch): Promise<RunningService> {
  const args = [
    require.resolve(`azurite/dist/src/${service}/main.js`),
    `--${service}Host`,
    '127.0.0.1',
    `--${service}Port`,
    String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
    ...(extra.args ?? []),
  ];
  const env = extra.env ? { ...process.env, ...extra.env } : undefined;
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  // With data on disk, SIGINT: Azurite's graceful close, which saves its database
  // (on SIGTERM it dies at once and loses what it had not saved yet). In memory
  // there is nothing to save, and an abrupt stop is the outage the fault tests want.
  // Ctrl-C in a terminal reaches Azurite too: a second SIGINT while it closes would
  // kill it (its handler runs once), so an Azurite that says it is closing is only waited for.
  const stopSignal = options.location ? 'SIGINT' : 'SIGTERM';
  let closing = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      if (!closing) child.kill(stopSignal);
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });

  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      void stop();
      reject(
        new Error(
          `Azurite's ${service} service did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`,
        ),
      );
    }, options.startTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/successfully (started|listens)/.test(output)) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.on('data', (later: Buffer) => (closing ||= later.includes('service is closing')));
        child.stderr?.resume();
        resolve({ port, process: child, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite's ${service} service exited with code ${code}:\n${output}`));
    });
  });
}

/** The stand-in's account: path-style URLs name it, https://127.0.0.1:{port}/onelake/{workspace}/{item}/Files/…. */
export const ONELAKE_ACCOUNT = 'onelake';

export interface OneLakeStandInOptions {
  /** The development certificate (dev/devTls.ts) it serves; callers trust it through NODE_EXTRA_CA_CERTS. */
  tls: Pick<DevTls, 'certFile' | 'keyFile'>;
  /** 0 or absent: a free port. */
  port?: number;
  /** Keep data in this folder (npm start); absent: --inMemoryPersistence (tests). */
  location?: string;
  /** The account key, base64 (set-up only: creating workspaces' containers); absent: a random one. */
  accountKey?: string;
  startTimeoutMs?: number;
}

export interface RunningOneLakeStandIn {
  port: number;
  /** https://127.0.0.1:{port}/onelake: what the OneLake client takes as its endpoint. */
  endpoint: string;
  /** The account key, base64: for set-up only, never for what the app does (that is OAuth). */
  accountKey: string;
  /** A connection string with the account key and the Blob endpoint (set-up only). */
  connectionString: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Azurite's Blob service as OneLake's stand-in: HTTPS with the development
 * certificate, an account named `onelake` (AZURITE_ACCOUNTS, which also
 * drops the well-known devstoreaccount1), bearer tokens accepted
 * (`--oauth basic`), on 127.0.0.1.
 *
 * What `--oauth basic` checks of a bearer token (Azurite 3.35,
 * dist/src/blob/authentication/BlobTokenAuthenticator.js, constants in
 * dist/src/common/utils/constants.js and dist/src/blob/utils/constants.js):
 * - only over HTTPS (over HTTP a bearer token is refused);
 * - the JWT is decoded, its signature never checked: any key, or none,
 *   passes;
 * - `iat`, `nbf` and `exp` must be present; now < nbf or now > exp fails
 *   (no clock tolerance): 403 AuthenticationFailed, "Lifetime validation
 *   failed. The token is expired.";
 * - `iss` must start with https://sts.windows.net/, https://sts.microsoftonline.de/,
 *   https://sts.chinacloudapi.cn/ or https://sts.windows-ppe.net (the tenant is
 *   not compared with anything);
 * - `aud` must be exactly https://storage.azure.com (with or without a
 *   trailing slash), e406a681-f3d4-42a8-90b6-c2b029497af1 (Azure Storage's
 *   application id) or https://{account}.blob.core.windows.net (or another
 *   cloud's) whose account is the request's;
 * - nothing else: no scope (`scp`), role, `oid` or tenant check, so every
 *   valid-looking token may do everything. The stand-in shows that the
 *   client sends a live storage-audience token, not that OneLake's
 *   authorization would allow the call.
 * Every failure is 403 AuthenticationFailed (never 401).
 */
export async function startOneLakeStandIn(options: OneLakeStandInOptions): Promise<RunningOneLakeStandIn> {
  const accountKey = options.accountKey ?? randomBytes(64).toString('base64');
  const service = await startService(
    'blob',
    options.port,
    { location: options.location, startTimeoutMs: options.startTimeoutMs },
    {
      args: ['--cert', options.tls.certFile, '--key', options.tls.keyFile, '--oauth', 'basic'],
      env: { AZURITE_ACCOUNTS: `${ONELAKE_ACCOUNT}:${accountKey}` },
    },
  );
  const endpoint = `https://127.0.0.1:${service.port}/${ONELAKE_ACCOUNT}`;
  return {
    port: service.port,
    endpoint,
    accountKey,
    connectionString: oneLakeConnectionString(endpoint, accountKey),
    process: service.process,
    stop: service.stop,
  };
}

/** The stand-in's connection string: its account, key and Blob endpoint. */
export function oneLakeConnectionString(endpoint: string, accountKey: string): string {
  return `DefaultEndpointsProtocol=https;AccountName=${ONELAKE_ACCOUNT};AccountKey=${accountKey};BlobEndpoint=${endpoint};`;
}

/**
 * Creates a workspace's container in the stand-in, with the account key (set-up
 * only: real OneLake's workspaces exist already, and it refuses to create
 * them). Already there: nothing happens. `ca`: the certificate to trust, for
 * a process that does not trust it through NODE_EXTRA_CA_CERTS (one that set
 * the variable after it started, like vitest's global setup).
 */
export async function createOneLakeWorkspace(
  connectionString: string,
  workspaceId: string,
  options: { ca?: string } = {},
): Promise<void> {
  const { ContainerClient } = require('@azure/storage-blob') as typeof import('@azure/storage-blob');
  // tlsOptions reaches core-rest-pipeline's createPipelineFromOptions, which the Blob SDK's options are passed to.
  const pipelineOptions = (options.ca ? { tlsOptions: { ca: options.ca } } : {}) as StoragePipelineOptions;
  const container = new ContainerClient(connectionString, workspaceId.toLowerCase(), pipelineOptions);
  await container.createIfNotExists();
}
