/**
 * A development host that serves the app's HTTP functions over plain Node
 * http, for machines without Azure Functions Core Tools, for end-to-end tests
 * and for benchmarks. Never a production path.
 *
 * Configured only from the environment: the app settings of DESIGN.md plus
 * HOST (default 127.0.0.1) and PORT (default 7071).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext, type HttpResponseInit, type LogLevel } from '@azure/functions';
import { createDependencies } from '../src/app';
import { ConfigError, readConfig } from '../src/config';
import { MethodNotAllowedError, RouteNotFoundError } from '../src/fabric/errors';
import { toErrorResponse } from '../src/fabric/responses';
import { tryParseUrl } from '../src/url';
import type { JobStateDependencies } from '../src/http/getItemJobInstanceState';
import { createRoutes, type RouteDefinition } from '../src/http/routes';

export const ROUTE_PREFIX = 'api';

export type LogSink = (level: LogLevel, line: string) => void;

export interface LocalHostOptions {
  dependencies: JobStateDependencies;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: LogSink;
}

export interface RunningHost {
  server: Server;
  /** e.g. http://127.0.0.1:7071/api */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startLocalHost(options: LocalHostOptions): Promise<RunningHost> {
  const routes = createRoutes(options.dependencies);
  const log = options.log ?? consoleSink;
  // Above our own 16 KiB Authorization bound, so the app (not Node) answers oversized headers.
  const server = createServer({ maxHeaderSize: 64 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    serve(routes, log, req, res).catch((error) => {
      log('error', `local host: ${String(error)}`);
      if (!res.headersSent) writeResponse(res, toErrorResponse(error));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const hostPart = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    baseUrl: `http://${hostPart}:${port}/${ROUTE_PREFIX}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(routes: RouteDefinition[], log: LogSink, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume(); // GET only: any body is drained and ignored.
  const url = tryParseUrl(req.url ?? '/', 'http://localhost');
  const matched = url && matchRoute(routes, url.pathname);
  if (!matched) return writeResponse(res, toErrorResponse(new RouteNotFoundError()));
  const { route, params } = matched;
  if (!route.methods.includes((req.method ?? '') as never)) {
    return writeResponse(res, toErrorResponse(new MethodNotAllowedError(route.methods)));
  }
  const request = new HttpRequest({
    method: req.method,
    url: `http://localhost${url!.pathname}${url!.search}`,
    headers: joinHeaderValues(req),
    params,
  });
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: route.name,
    logHandler: (level, ...args) => log(level, args.map(String).join(' ')),
  });
  writeResponse(res, await route.handler(request, context));
}

/**
 * Every value of every header, repeated ones joined with ", " as the Functions
 * host does. Node's req.headers keeps only the first Authorization header, so
 * read headersDistinct: a duplicated header must reach the app.
 */
export function joinHeaderValues(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values) headers[name] = values.join(', ');
  }
  return headers;
}

/** Literal segments (the `api` prefix too) match case-insensitively, as in the Functions host. */
export function matchRoute(routes: RouteDefinition[], pathname: string): { route: RouteDefinition; params: Record<string, string> } | undefined {
  const segments = pathname.replace(/^\//, '').replace(/\/$/, '').split('/');
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
    if (matches) return { route, params };
  }
  return undefined;
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
  for (const [name, value] of Object.entries((response.headers ?? {}) as Record<string, string>)) res.setHeader(name, value);
  res.end(typeof response.body === 'string' ? response.body : '');
}

const consoleSink: LogSink = (level, line) => {
  const stream = level === 'error' || level === 'warning' || level === 'critical' ? process.stderr : process.stdout;
  stream.write(`${new Date().toISOString()} ${level.padEnd(11)} ${line}\n`);
};

async function main(): Promise<void> {
  let dependencies: JobStateDependencies;
  try {
    dependencies = createDependencies(readConfig(process.env));
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const port = Number(process.env.PORT || 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}\n`);
    process.exit(1);
  }
  const address = process.env.HOST || '127.0.0.1';
  const host = await startLocalHost({ dependencies, host: address, port }).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === 'EADDRINUSE' ? 'the port is in use (set PORT to another)' : error.message;
    process.stderr.write(`The local host cannot listen on ${address}:${port}: ${why}\n`);
    process.exit(1);
  });
  process.stdout.write(`Local host listening on ${host.baseUrl} (not Azure Functions Core Tools)\n`);
  const stop = () => void host.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
