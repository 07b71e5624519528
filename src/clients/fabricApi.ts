import { forLog } from '../logValue';
import { tryParseUrl } from '../url';
import { backoffMs, parseRetryAfter } from './retryAfter';
import { secretFree } from './secretFree';

/** The delegated scope the Fabric REST API's item calls take. */
export const FABRIC_API_SCOPE = 'https://api.fabric.microsoft.com/Item.ReadWrite.All';
export const DEFAULT_FABRIC_API_URL = 'https://api.fabric.microsoft.com/v1';

/**
 * Fabric's REST API, relative to its base URL (`/workspaces/{id}/items`). A
 * JSON body in and out; an empty answer (204, or 200/202 without a body) is
 * undefined. Throws FabricApiError for an answer that is not 2xx.
 */
export interface FabricApi {
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
  put<T = unknown>(path: string, body?: unknown): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown): Promise<T>;
  delete(path: string): Promise<void>;
}

export interface FabricApiOptions {
  /** https, e.g. DEFAULT_FABRIC_API_URL. */
  baseUrl: string;
  /** The user's token for FABRIC_API_SCOPE (asked before every attempt). */
  token: () => Promise<string>;
  /** Stops waits and calls; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Calls per request at most, the first included; default 4. */
  maxAttempts?: number;
  /** A Retry-After above this many seconds fails the request at once; default 60. */
  maxRetryAfterSeconds?: number;
  /** Waits `ms` or rejects when `signal` aborts; tests pass one that records. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * An answer from Fabric that is not 2xx, or no answer. `errorCode`,
 * `requestId` and Fabric's message come from its JSON error body when it
 * has one. Never holds the token or a request header.
 */
export class FabricApiError extends Error {
  constructor(
    readonly method: Method,
    readonly path: string,
    /** Undefined when no answer came (the connection failed). */
    readonly status: number | undefined,
    readonly errorCode: string | undefined,
    readonly requestId: string | undefined,
    message: string,
    /** The last answer's Retry-After, in seconds, when it had one. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'FabricApiError';
  }
}

const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_MAX_RETRY_AFTER_SECONDS = 60;
const MAX_ERROR_BODY_CHARS = 64 * 1024;
/** Safe to send twice when the first answer never came. */
const IDEMPOTENT = new Set<Method>(['GET', 'PUT', 'DELETE']);

/**
 * The client over global fetch. Retries: 429 and 503 honouring Retry-After
 * (seconds or an HTTP date; absent, backoff from 1 s with jitter), one above
 * `maxRetryAfterSeconds` failing at once; another 5xx, or a connection that
 * failed before an answer (idempotent methods only), once; a 4xx never; at
 * most `maxAttempts` calls in all.
 */
export function fabricApi(options: FabricApiOptions): FabricApi {
  const base = checkBaseUrl(options.baseUrl);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const maxRetryAfterMs = (options.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS) * 1000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError('maxAttempts must be a whole number ≥ 1.');
  if (!(maxRetryAfterMs >= 0)) throw new TypeError('maxRetryAfterSeconds must be ≥ 0.');
  const sleep = options.sleep ?? abortableSleep;
  const { signal } = options;

  const request = async (method: Method, path: string, body?: unknown): Promise<unknown> => {
    const url = resolvePath(base, path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let onceRetried = false;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const token = await options.token();
      if (typeof token !== 'string' || token === '') throw new TypeError('The token source answered no token.');
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
          },
          body: payload,
          signal,
          redirect: 'error', // a redirect would carry the token elsewhere
        });
      } catch (error) {
        signal?.throwIfAborted();
        if (IDEMPOTENT.has(method) && !onceRetried && attempt < maxAttempts) {
          onceRetried = true;
          await sleep(backoffMs(1, maxRetryAfterMs), signal);
          continue;
        }
        throw new FabricApiError(
          method,
          path,
          undefined,
          undefined,
          undefined,
          `Fabric API ${method} ${forLog(path, 200)} got no answer: ${secretFree(describeFetchFailure(error))}`,
        );
      }
      if (response.ok) return readBody(response, method, path);

      const text = await readText(response);
      const retryAfterHeader = response.headers.get('retry-after');
      const retryAfterMs = parseRetryAfter(retryAfterHeader);
      const fail = (why = '') => failure(method, path, response, text, retryAfterMs, why);
      const throttled = response.status === 429 || response.status === 503;
      if (throttled) {
        if (attempt >= maxAttempts) throw fail(` (after ${attempt} attempts)`);
        if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
          throw fail(
            ` (Retry-After ${forLog(retryAfterHeader)} is over the ${maxRetryAfterMs / 1000} s this client waits)`,
          );
        }
        await sleep(retryAfterMs ?? backoffMs(attempt, maxRetryAfterMs), signal);
        continue;
      }
      if (response.status >= 500 && !onceRetried && attempt < maxAttempts) {
        onceRetried = true;
        await sleep(
          retryAfterMs !== undefined && retryAfterMs <= maxRetryAfterMs ? retryAfterMs : backoffMs(1, maxRetryAfterMs),
          signal,
        );
        continue;
      }
      throw fail(attempt > 1 ? ` (after ${attempt} attempts)` : '');
    }
  };

  return {
    get: (path) => request('GET', path) as Promise<never>,
    post: (path, body) => request('POST', path, body) as Promise<never>,
    put: (path, body) => request('PUT', path, body) as Promise<never>,
    patch: (path, body) => request('PATCH', path, body) as Promise<never>,
    delete: async (path) => void (await request('DELETE', path)),
  };
}

/** The base URL without a trailing slash, or a TypeError: https, no query, fragment or credentials. */
function checkBaseUrl(baseUrl: string): URL {
  const url = tryParseUrl(baseUrl);
  if (!url || url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) {
    throw new TypeError(
      `The Fabric API base URL ${forLog(baseUrl, 80)} is not an https URL without query or credentials.`,
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** The reason `path` is not a path relative to the base URL, or undefined when it is one. */
export function fabricPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return 'is not a string';
  if (!path.startsWith('/')) return 'does not start with /';
  if (path.startsWith('//')) return 'names a host';
  if (/[\\#\s\u0000-\u001f\u007f]/.test(path)) return 'contains a backslash, #, a space or a control character'; // eslint-disable-line no-control-regex
  const pathname = path.split('?')[0];
  const segments = pathname.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
  if (segments.some((segment) => segment === '..' || segment === '.')) return 'has a . or .. segment';
  return undefined;
}

/** base + path, checked to stay under the base (a TypeError otherwise). */
export function resolvePath(base: URL, path: string): string {
  const problem = fabricPathProblem(path);
  if (problem) throw new TypeError(`The Fabric API path ${forLog(path, 200)} ${problem}.`);
  const url = new URL(`${base.origin}${base.pathname}${path}`);
  if (url.origin !== base.origin || !url.pathname.startsWith(`${base.pathname}/`)) {
    throw new TypeError(`The Fabric API path ${forLog(path, 200)} leaves the base URL.`);
  }
  return url.href;
}

async function readText(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.length > MAX_ERROR_BODY_CHARS ? text.slice(0, MAX_ERROR_BODY_CHARS) : text;
  } catch {
    return '';
  }
}

async function readBody(response: Response, method: Method, path: string): Promise<unknown> {
  const text = response.status === 204 ? '' : await response.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FabricApiError(
      method,
      path,
      response.status,
      undefined,
      response.headers.get('requestid') ?? undefined,
      `Fabric API ${method} ${forLog(path, 200)} answered ${response.status} with a body that is not JSON.`,
    );
  }
}

/** Fabric's error body: { requestId, errorCode, message, moreDetails, relatedResource }. */
function failure(
  method: Method,
  path: string,
  response: Response,
  text: string,
  retryAfterMs: number | undefined,
  why: string,
): FabricApiError {
  let body: { errorCode?: unknown; message?: unknown; requestId?: unknown } = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as typeof body;
  } catch {
    // not JSON: the status alone
  }
  const errorCode = typeof body.errorCode === 'string' ? secretFree(body.errorCode, 100) : undefined;
  const requestId =
    typeof body.requestId === 'string'
      ? secretFree(body.requestId, 100)
      : (response.headers.get('requestid') ?? response.headers.get('x-ms-request-id') ?? undefined);
  const said = typeof body.message === 'string' ? `: ${secretFree(body.message)}` : '';
  return new FabricApiError(
    method,
    path,
    response.status,
    errorCode,
    requestId,
    `Fabric API ${method} ${forLog(path, 200)} answered ${response.status}${errorCode ? ` ${errorCode}` : ''}${said}${why}`,
    retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
  );
}

function describeFetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** setTimeout as a promise that rejects with the signal's reason when it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
