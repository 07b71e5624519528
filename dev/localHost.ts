/**
 * A development host that serves the app's HTTP functions over plain Node
 * http, for machines without Azure Functions Core Tools, for end-to-end tests
 * and for benchmarks. Never a production path.
 *
 * As a program (`npm run host`) it serves the bundled app, dist/app/main.js,
 * the same file `func start` and Azure load, configured only from the
 * environment: the app settings of the README plus HOST (default 127.0.0.1)
 * and PORT (default 7071). Tests and `npm start` serve the sources through
 * sourceFunctions() instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from './projectRoot';
// Types only: as a program this file loads no unbundled app code, so its start
// measures the bundle's.
import type { HttpRequest, HttpResponseInit, InvocationContext, LogLevel } from '@azure/functions';
import {
  MethodNotAllowedError,
  PayloadTooLargeError,
  RequestHeaderFieldsTooLargeError,
  RouteNotFoundError,
} from './localHostErrors';
import { toErrorResponse } from '../src/fabric/responses';
import { correlationHeaders, readCorrelation } from '../src/http/requestLog';
import { tryParseUrl } from '../src/url';
import { parseSummaryLine, readableSummary } from '../src/telemetry/summary';
import { parseTraceParent } from '../src/telemetry/traceParent';
import type { RouteDefinition } from '../src/http/routes';
import type { QueueFunction } from '../src/functions/queueFunction';
import type { QueueHostSettings, RunningQueueHost } from './localQueueHost';
import { MAX_REQUEST_HEADER_BYTES, MAX_REQUEST_HEADERS, readRequestHeaders } from './requestHeaders';

export const ROUTE_PREFIX = 'api';

export type LogSink = (level: LogLevel, line: string) => void;

/** What a Functions entry module gives the host: its routes and the request classes of its own @azure/functions. */
export interface FunctionsModule {
  routes: RouteDefinition[];
  queueFunctions?: QueueFunction[];
  HttpRequest: typeof HttpRequest;
  InvocationContext: typeof InvocationContext;
  /** Sends buffered telemetry; the Functions host's appTerminate hook, called here on SIGINT and SIGTERM. */
  flushTelemetry?: () => Promise<void>;
}

export const BUNDLED_ENTRY = join(PROJECT_ROOT, 'dist', 'app', 'main.js');
/** This file compiled: the program `npm run host` runs. */
export const LOCAL_HOST_PROGRAM = join(PROJECT_ROOT, 'dist', 'dev', 'localHost.js');

export interface LocalHostOptions {
  functions: FunctionsModule;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: LogSink;
  /**
   * Run the queue functions too, with these app settings for their
   * connections (`JobQueue`); absent: HTTP only.
   */
  queueSettings?: Record<string, string | undefined>;
  /** host.json's `extensions.queues` by default; tests shorten the retry delay. */
  queueHostSettings?: Partial<QueueHostSettings>;
}

export interface RunningHost {
  server: Server;
  /** e.g. http://127.0.0.1:7071/api */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startLocalHost(options: LocalHostOptions): Promise<RunningHost> {
  const { functions } = options;
  const log = options.log ?? consoleSink;
  // Kestrel's bound, above our own 16 KiB Authorization bound, so the app (not Node) answers oversized Authorization headers.
  const server = createServer(
    { maxHeaderSize: MAX_REQUEST_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 },
    (req, res) => {
      serve(functions, log, req, res).catch((error) => {
        log('error', `local host: ${String(error)}`);
        if (!res.headersSent) writeResponse(res, toErrorResponse(error));
        else res.destroy();
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const hostPart = address.includes(':') ? `[${address}]` : address;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  let queues: RunningQueueHost | undefined;
  if (options.queueSettings) {
    queues = await startQueueFunctions(functions, options.queueSettings, log, options.queueHostSettings).catch(
      async (error: unknown) => {
        await closeServer();
        throw error;
      },
    );
  }
  return {
    server,
    baseUrl: `http://${hostPart}:${port}/${ROUTE_PREFIX}`,
    close: async () => {
      await closeServer();
      await queues?.close();
    },
  };
}

/**
 * Runs the entry module's queue functions with these app settings for their
 * connections; undefined when it has none. The queue SDK is loaded only
 * here: serving HTTP alone needs none of it.
 */
export async function startQueueFunctions(
  functions: FunctionsModule,
  settings: Record<string, string | undefined>,
  log: LogSink,
  overrides?: Partial<QueueHostSettings>,
): Promise<RunningQueueHost | undefined> {
  if (!functions.queueFunctions?.length) return undefined;
  const { readQueueHostSettings, startQueueHost } = await import('./localQueueHost');
  return startQueueHost({
    settings: { ...readQueueHostSettings(), ...overrides },
    functions: functions.queueFunctions,
    setting: (name) => settings[name],
    createContext: (functionName, triggerMetadata) => newContext(functions, functionName, log, triggerMetadata),
    log,
  });
}

/**
 * Like the Functions host, the local host buffers a request body before the
 * function sees it; it stops at this size (the Functions host at 100 MB): above
 * every bound of the app's own (the largest, ITEM_DEFINITION_MAX_BYTES, is at
 * most 16 MiB), so the app's answers are what a caller sees.
 */
export const MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;

async function serve(
  functions: FunctionsModule,
  log: LogSink,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const headers = readRequestHeaders(req);
  if (!headers) {
    req.resume();
    return writeResponse(res, toErrorResponse(new RequestHeaderFieldsTooLargeError(MAX_REQUEST_HEADERS)));
  }
  // The host's own answers echo ActivityId and RequestId as the app's do, read and checked the same way.
  const echo = correlationHeaders(readCorrelation({ get: (name) => headers[name] ?? null }));
  const hostAnswer = (error: unknown): HttpResponseInit => {
    const response = toErrorResponse(error);
    return { ...response, headers: { ...(response.headers as Record<string, string>), ...echo } };
  };
  const url = tryParseUrl(req.url ?? '/', 'http://localhost');
  const matched = url ? matchRoutes(functions.routes, url.pathname) : [];
  if (matched.length === 0) {
    req.resume();
    return writeResponse(res, hostAnswer(new RouteNotFoundError()));
  }
  const method = req.method ?? 'GET';
  const match = matched.find(({ route }) => route.methods.includes(method as never));
  if (!match) {
    req.resume();
    return writeResponse(
      res,
      hostAnswer(new MethodNotAllowedError([...new Set(matched.flatMap(({ route }) => route.methods))])),
    );
  }
  // A GET has no body to wait for: its handler runs even if the client has already gone, as in the Functions host.
  const body = method === 'GET' || method === 'HEAD' ? (req.resume(), new Uint8Array(0)) : await readBody(req);
  if (body === 'too large') {
    res.shouldKeepAlive = false;
    return writeResponse(res, hostAnswer(new PayloadTooLargeError(MAX_REQUEST_BODY_BYTES)));
  }
  const request = {
    method,
    // As the Functions host builds it: the host the client addressed (the app's own URL for endpoint resolution).
    url: `http://${hostOf(req)}${url!.pathname}${url!.search}`,
    headers,
    params: match.params,
    body: { bytes: body },
  };
  writeResponse(res, await invoke(functions, match.route, request, log));
}

/** The Host header when it is a plain host[:port], else the address the server listens on. */
function hostOf(req: IncomingMessage): string {
  const host = req.headers.host;
  if (host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/.test(host)) return host;
  const { address, port } = req.socket.address() as AddressInfo;
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The whole body, or 'too large' as soon as it passes MAX_REQUEST_BODY_BYTES (declared or sent). */
async function readBody(req: IncomingMessage): Promise<Uint8Array | 'too large'> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_REQUEST_BODY_BYTES) {
    req.resume();
    return 'too large';
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_REQUEST_BODY_BYTES) {
      req.resume();
      return 'too large';
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Calls a route's handler as the Functions worker does: with a fresh
 * HttpRequest and InvocationContext of the entry module's own classes.
 */
export async function invoke(
  functions: FunctionsModule,
  route: RouteDefinition,
  request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    params: Record<string, string>;
    body?: { bytes: Uint8Array };
  },
  log: LogSink,
): Promise<HttpResponseInit> {
  return await route.handler(
    new functions.HttpRequest(request),
    newContext(functions, route.name, log, undefined, request.headers.traceparent),
  );
}

/** A fresh InvocationContext of the entry module's own class, its log lines going to `log`. */
function newContext(
  functions: FunctionsModule,
  functionName: string,
  log: LogSink,
  triggerMetadata?: Record<string, unknown>,
  traceParent?: string,
): InvocationContext {
  return new functions.InvocationContext({
    invocationId: randomUUID(),
    functionName,
    traceContext: { traceParent: invocationTraceParent(traceParent) },
    logHandler: (level, ...args) => log(level, args.map(String).join(' ')),
    triggerMetadata,
  });
}

/**
 * The invocation's W3C traceparent, as the Functions host opens a span for
 * each invocation: in the caller's trace when the request carried a valid
 * traceparent, in a new trace otherwise.
 */
function invocationTraceParent(incoming: string | undefined): string {
  const traceId = parseTraceParent(incoming)?.traceId ?? randomBytes(16).toString('hex');
  return `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
}

/** Literal segments (the `api` prefix too) match case-insensitively, as in the Functions host. */
export function matchRoutes(
  routes: RouteDefinition[],
  pathname: string,
): { route: RouteDefinition; params: Record<string, string> }[] {
  const segments = pathname.replace(/^\//, '').replace(/\/$/, '').split('/');
  const matched: { route: RouteDefinition; params: Record<string, string> }[] = [];
  for (const route of routes) {
    const template = [ROUTE_PREFIX, ...route.route.split('/')];
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = template.every((part, i) => {
      const segment = segments[i];
      if (segment === '') return false;
      if (part.startsWith('{') && part.endsWith('}')) {
        params[part.slice(1, -1)] = decodeSegment(segment);
        return true;
      }
      return part.toLowerCase() === segment.toLowerCase();
    });
    if (matches) matched.push({ route, params });
  }
  return matched;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // Not valid percent-encoding: the handler's validation rejects it.
  }
}

function writeResponse(res: ServerResponse, response: HttpResponseInit): void {
  res.statusCode = response.status ?? 200;
  for (const [name, value] of Object.entries((response.headers ?? {}) as Record<string, string>))
    res.setHeader(name, value);
  res.end(typeof response.body === 'string' ? response.body : '');
}

/**
 * Lines to stdout (errors and warnings to stderr), written once per turn of
 * the event loop rather than once per line: writes to a pipe are synchronous
 * in Node, and under load one write per request costs more than the request.
 * The Functions host, too, receives logs asynchronously.
 */
const pending = { stdout: [] as string[], stderr: [] as string[] };
let flushScheduled = false;

function flushLogs(): void {
  flushScheduled = false;
  for (const name of ['stdout', 'stderr'] as const) {
    if (pending[name].length > 0) process[name].write(pending[name].join(''));
    pending[name] = [];
  }
}

export type LogFormat = 'text' | 'json';

/**
 * The console, in one of two forms. `text` (the default) is for people: one
 * line each, summary lines rendered as `operation status … · name=value`.
 * `json` (`--json`) is one JSON object a line, a summary's fields as they are
 * written to Application Insights, for jq and for tests.
 */
export function createConsoleSink(format: LogFormat = 'text'): LogSink {
  return (level, line) => {
    const stream = level === 'error' || level === 'warning' || level === 'critical' ? 'stderr' : 'stdout';
    const time = new Date().toISOString();
    const summary = parseSummaryLine(line);
    const text =
      format === 'json'
        ? JSON.stringify(summary ? { time, level, ...summary } : { time, level, message: line })
        : `${time} ${level.padEnd(11)} ${summary ? readableSummary(summary) : line}`;
    pending[stream].push(`${text}\n`);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushLogs);
    }
  };
}

const consoleSink = createConsoleSink();

/** `--json` on the command line (`npm run host -- --json`, `npm start -- --json`). */
export function logFormatFromArgs(args: readonly string[]): LogFormat {
  return args.includes('--json') ? 'json' : 'text';
}

/**
 * Loads a Functions entry module (by default the bundle) as the Functions
 * host would. Outside the Functions worker, @azure/functions says it runs in
 * test mode and skips app.http registration; the local host serves the
 * exported routes instead, so those two notices are not repeated here.
 */
export function loadFunctionsEntry(path = BUNDLED_ENTRY): FunctionsModule {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/^WARNING: .*"@azure\/functions" package (is in|to) test mode/.test(String(args[0]))) warn(...args);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path) as FunctionsModule;
  } finally {
    console.warn = warn;
  }
}

/** LOCAL_HOST_QUEUE_LEASE_SECONDS: the queue lease, shortened by tests that kill a host mid-job. */
function leaseFromEnvironment(): Partial<QueueHostSettings> | undefined {
  const raw = process.env.LOCAL_HOST_QUEUE_LEASE_SECONDS;
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    process.stderr.write(
      `LOCAL_HOST_QUEUE_LEASE_SECONDS must be a whole number from 1 to 3600, not ${JSON.stringify(raw)}\n`,
    );
    process.exit(1);
  }
  return { leaseMs: seconds * 1000 };
}

async function main(): Promise<void> {
  let functions: FunctionsModule;
  try {
    functions = loadFunctionsEntry();
  } catch (error) {
    // The bundle has its own ConfigError class: recognise it by name.
    const message =
      error instanceof Error && error.name === 'ConfigError'
        ? error.message
        : `cannot load ${BUNDLED_ENTRY}: ${String(error)}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
  const port = Number(process.env.PORT || 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}\n`);
    process.exit(1);
  }
  const address = process.env.HOST || '127.0.0.1';
  const log = createConsoleSink(logFormatFromArgs(process.argv.slice(2)));
  const host = await startLocalHost({ functions, host: address, port, log }).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === 'EADDRINUSE' ? 'the port is in use (set PORT to another)' : error.message;
    process.stderr.write(`The local host cannot listen on ${address}:${port}: ${why}\n`);
    process.exit(1);
  });
  // LOCAL_HOST_QUEUES=off serves HTTP alone: the benchmark's cold start, which in Azure never waits for
  // the queue listener (the Functions host runs that itself, apart from the worker).
  const queues = (
    process.env.LOCAL_HOST_QUEUES === 'off'
      ? Promise.resolve(undefined)
      : startQueueFunctions(functions, process.env, log, leaseFromEnvironment())
  ).catch((error: unknown) => {
    process.stderr.write(
      `The local host cannot run the queue functions: ${error instanceof Error ? error.message.split('\n', 1)[0] : String(error)}\n`,
    );
    process.exit(1);
  });
  await queues;
  process.stdout.write(`Local host listening on ${host.baseUrl} (not Azure Functions Core Tools)\n`);
  const stop = () =>
    void host
      .close()
      .then(() => queues)
      .then((running) => running?.close())
      // As the host's appTerminate: buffered telemetry goes out (within the flush's own bound).
      .then(() => functions.flushTelemetry?.().catch(() => undefined))
      .then(() => {
        flushLogs();
        process.exit(0);
      });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
