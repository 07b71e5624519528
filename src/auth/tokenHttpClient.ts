import { request } from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

export interface TokenHttpClientOptions {
  /** A whole request, connect to last byte, fails after this long; default 10 s. */
  deadlineMs?: number;
  /**
   * Certificates (PEM) to trust instead of the system's: the development
   * token endpoint's self-signed one. Given to this client's requests alone;
   * nothing process-wide (no NODE_EXTRA_CA_CERTS, no global agent) changes.
   */
  trustedCertificates?: string;
}

export const DEFAULT_TOKEN_DEADLINE_MS = 10_000;
/** An Entra token response is a few KiB; anything far larger is not one. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * MSAL's network module: node:https with a total deadline (MSAL's own fetch
 * client has none for POST, so a token endpoint that never answers would hold
 * a request for ever) and a bounded body. A failure is an MSAL AuthError
 * `network_error` whose message says why (never a body or a header, which
 * carry tokens), so that the broker answers 503 and logs the cause.
 */
export class TokenHttpClient implements INetworkModule {
  private readonly deadlineMs: number;

  constructor(private readonly options: TokenHttpClientOptions = {}) {
    this.deadlineMs = options.deadlineMs ?? DEFAULT_TOKEN_DEADLINE_MS;
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private send<T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    const target = new URL(url);
    const where = `${method} ${target.origin}${target.pathname}`;
    return new Promise((resolve, reject) => {
      const fail = (reason: string) => {
        clearTimeout(timer);
        req.destroy();
        reject(networkError(`${where}: ${reason}`));
      };
      const req = request(
        target,
        {
          method,
          headers: options?.headers,
          ca: this.options.trustedCertificates,
          // A fresh connection per request: no pooled socket outlives the deadline or the test.
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) fail(`answer over ${MAX_RESPONSE_BYTES} bytes`);
            else chunks.push(chunk);
          });
          res.on('error', (error) => fail(error.message));
          res.on('end', () => {
            clearTimeout(timer);
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            let body: T;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
            } catch {
              reject(networkError(`${where}: HTTP ${res.statusCode}, the answer is not JSON`));
              return;
            }
            resolve({ status: res.statusCode ?? 0, headers, body });
          });
        },
      );
      const timer = setTimeout(() => fail(`no answer within ${this.deadlineMs} ms`), this.deadlineMs);
      req.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
      req.end(method === 'POST' ? (options?.body ?? '') : undefined);
    });
  }
}

/** Loaded here only once MSAL is calling (the broker loaded it already). */
function networkError(message: string): Error {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { AuthError } = require('@azure/msal-node') as typeof import('@azure/msal-node');
  return new AuthError('network_error', '', message);
}
