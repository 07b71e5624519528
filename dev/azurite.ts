/**
 * Starts Azurite's Table and Queue services (the real emulator, npm
 * `azurite`, one process each) on 127.0.0.1, always with --disableTelemetry.
 * Used by the test setup (in memory, free ports) and by the local
 * development stack (on disk).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

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

async function startService(
  service: Service,
  fixedPort: number | undefined,
  options: AzuriteOptions,
): Promise<RunningService> {
  // A free port can be taken between our probe and Azurite's bind; try again then.
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort || (await freeLoopbackPort());
    try {
      return await launch(service, port, options);
    } catch (error) {
      if (fixedPort || attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

function launch(service: Service, port: number, options: AzuriteOptions): Promise<RunningService> {
  const args = [
    require.resolve(`azurite/dist/src/${service}/main.js`),
    `--${service}Host`,
    '127.0.0.1',
    `--${service}Port`,
    String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
