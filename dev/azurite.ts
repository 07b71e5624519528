/**
 * Starts Azurite's Table service (the real emulator, npm `azurite`) on
 * 127.0.0.1, always with --disableTelemetry. Used by the test setup (in
 * memory, free port) and by the local development stack (on disk).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Azurite's well-known development account; not a secret. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Keep data in this folder; absent: --inMemoryPersistence. */
  location?: string;
  startTimeoutMs?: number;
}

export interface RunningAzurite {
  port: number;
  connectionString: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function azuriteConnectionString(port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`
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
  // A free port can be taken between our probe and Azurite's bind; try again then.
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freeLoopbackPort());
    try {
      return await launch(port, options);
    } catch (error) {
      if (options.port || attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

function launch(port: number, options: AzuriteOptions): Promise<RunningAzurite> {
  const args = [
    require.resolve('azurite/dist/src/table/main.js'),
    '--tableHost', '127.0.0.1',
    '--tablePort', String(port),
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
      reject(new Error(`Azurite did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`));
    }, options.startTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('successfully started')) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.on('data', (later: Buffer) => (closing ||= later.includes('service is closing')));
        child.stderr?.resume();
        resolve({ port, connectionString: azuriteConnectionString(port), process: child, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}:\n${output}`));
    });
  });
}
