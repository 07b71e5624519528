/**
 * The few calls of Fabric's REST API (https://api.fabric.microsoft.com/v1)
 * the Fabric client makes, on loopback HTTPS with the development certificate
 * (dev/devTls.ts), for tests and the local stack:
 *
 *   GET    /v1/workspaces/{workspaceId}/items/{itemId}   the item, or 404 ItemNotFound
 *   POST   /v1/workspaces/{workspaceId}/items            creates an item: 201 with it
 *   DELETE /v1/workspaces/{workspaceId}/items/{itemId}   200 with no body, or 404 ItemNotFound
 *
 * Every call needs `Authorization: Bearer <JWT>` whose `aud` is
 * https://api.fabric.microsoft.com and whose `exp` is not past; the token is
 * decoded, its signature not checked. Otherwise 401, with Fabric's error body
 * (`{ requestId, errorCode, message }`); every answer carries a `requestid`
 * header. It can be told to answer the next requests with a failure (429 with
 * a Retry-After, 503, 500) or not at all. Each request is recorded: method,
 * path, the token's `oid`, what was answered; never the token.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isGuid } from '../src/ids';
import { assertOutsideAzure } from './tokenIssuer';

export const FABRIC_API_AUDIENCE = 'https://api.fabric.microsoft.com';

export interface FakeFabricItem {
  id: string;
  workspaceId: string;
  type: string;
  displayName: string;
  description?: string;
}

export interface FabricApiRequest {
  method: string;
  /** Path and query, as received. */
  path: string;
  /** The bearer token's `oid`, when it had one. */
  oid?: string;
  /** The status answered; undefined for a request left unanswered. */
  status?: number;
}

export interface FakeFabricApi {
  /** https://127.0.0.1:{port}/v1: the Fabric client's base URL. */
  baseUrl: string;
  readonly requests: readonly FabricApiRequest[];
  /** Makes an item exist (the GET answers it). */
  addItem(item: FakeFabricItem): void;
  /** The next `count` requests answer 429 RequestBlocked, with `Retry-After: <seconds>` (none when undefined). */
  throttleNext(count: number, retryAfterSeconds?: number): void;
  /** The next `count` requests answer `status` (a 5xx), with Retry-After when given. */
  failNext(count: number, status: number, retryAfterSeconds?: number | string): void;
  /** The next `count` requests are read and never answered. */
  hangNext(count: number): void;
  close(): Promise<void>;
}

export interface FakeFabricApiOptions {
  /** The PEM certificate and key to serve: the development TLS (dev/devTls.ts). */
  tls: { cert: string; key: string };
  items?: FakeFabricItem[];
}

interface Planned {
  status: number | 'hang';
  retryAfter?: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startFakeFabricApi(options: FakeFabricApiOptions): Promise<FakeFabricApi> {
  assertOutsideAzure();
  const items = new Map<string, FakeFabricItem>();
  const keyOf = (workspaceId: string, itemId: string) => `${workspaceId}/${itemId}`.toLowerCase();
  const addItem = (item: FakeFabricItem) => items.set(keyOf(item.workspaceId, item.id), { ...item });
  for (const item of options.items ?? []) addItem(item);
  const requests: FabricApiRequest[] = [];
  const planned: Planned[] = [];

  const answer = (res: ServerResponse, record: FabricApiRequest, status: number, body?: unknown, headers = {}) => {
    record.status = status;
    const requestId = (body as { requestId?: string } | undefined)?.requestId ?? randomUUID();
    const text = body === undefined ? '' : JSON.stringify(body);
    res
      .writeHead(status, {
        requestid: requestId,
        ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
        ...headers,
      })
      .end(text);
  };
  const error = (res: ServerResponse, record: FabricApiRequest, status: number, errorCode: string, message: string) =>
    answer(res, record, status, { requestId: randomUUID(), errorCode, message });

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const record: FabricApiRequest = { method: req.method ?? '', path: req.url ?? '' };
    requests.push(record);
    const claims = bearerClaims(req.headers.authorization);
    if (typeof claims?.oid === 'string') record.oid = claims.oid;
    const plan = planned.shift();
    if (plan?.status === 'hang') return;
    if (plan) {
      const headers = plan.retryAfter === undefined ? {} : { 'retry-after': plan.retryAfter };
      if (plan.status === 429) {
        const until = new Date(Date.now() + Number(plan.retryAfter ?? 0) * 1000).toISOString();
        return answer(
          res,
          record,
          429,
          {
            requestId: randomUUID(),
            errorCode: 'RequestBlocked',
            message: `Request is blocked by the upstream service until: ${until}`,
          },
          headers,
        );
      }
      return answer(
        res,
        record,
        plan.status,
        {
          requestId: randomUUID(),
          errorCode: 'ServiceUnavailable',
          message: 'The service is temporarily unavailable.',
        },
        headers,
      );
    }
    if (!claims) return error(res, record, 401, 'Unauthorized', 'The request has no valid bearer token.');
    if (claims.aud !== FABRIC_API_AUDIENCE)
      return error(res, record, 401, 'Unauthorized', 'The token is not for the Fabric API.');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now())
      return error(res, record, 401, 'TokenExpired', 'Access token has expired, resubmit with a new access token.');

    const url = new URL(record.path, 'https://127.0.0.1');
    const match = /^\/v1\/workspaces\/([^/]+)\/items(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match || !isGuid(match[1]) || (match[2] !== undefined && !isGuid(match[2]))) {
      return error(res, record, 404, 'EntityNotFound', 'The requested resource could not be found.');
    }
    const [, workspaceId, itemId] = match;
    if (itemId === undefined && req.method === 'POST') {
      let input: { displayName?: unknown; type?: unknown; description?: unknown };
      try {
        input = JSON.parse(body) as typeof input;
      } catch {
        return error(res, record, 400, 'InvalidRequest', 'The request body is not JSON.');
      }
      if (typeof input?.displayName !== 'string' || typeof input.type !== 'string')
        return error(res, record, 400, 'InvalidRequest', 'displayName and type are required.');
      const item: FakeFabricItem = {
        id: randomUUID(),
        workspaceId: workspaceId.toLowerCase(),
        type: input.type,
        displayName: input.displayName,
        ...(typeof input.description === 'string' ? { description: input.description } : {}),
      };
      addItem(item);
      return answer(res, record, 201, item);
    }
    if (itemId === undefined || (req.method !== 'GET' && req.method !== 'DELETE')) {
      return error(res, record, 405, 'MethodNotAllowed', 'The method is not allowed on this resource.');
    }
    const item = items.get(keyOf(workspaceId, itemId));
    if (!item) return error(res, record, 404, 'ItemNotFound', 'The requested item was not found.');
    if (req.method === 'DELETE') {
      items.delete(keyOf(workspaceId, itemId));
      return answer(res, record, 200);
    }
    return answer(res, record, 200, item);
  };

  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const plan = (count: number, entry: Planned) => {
    for (let i = 0; i < count; i++) planned.push(entry);
  };
  return {
    baseUrl: `https://127.0.0.1:${port}/v1`,
    requests,
    addItem,
    throttleNext: (count, retryAfterSeconds) =>
      plan(count, { status: 429, retryAfter: retryAfterSeconds === undefined ? undefined : String(retryAfterSeconds) }),
    failNext: (count, status, retryAfterSeconds) =>
      plan(count, { status, retryAfter: retryAfterSeconds === undefined ? undefined : String(retryAfterSeconds) }),
    hangNext: (count) => plan(count, { status: 'hang' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The payload of `Bearer <JWT>`, decoded without a signature check; undefined for anything else. */
function bearerClaims(header: string | undefined): Record<string, unknown> | undefined {
  const token = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]*)$/.exec(header ?? '');
  if (!token) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(token[2], 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
