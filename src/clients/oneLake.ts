import type { ContainerClient } from '@azure/storage-blob';
import { isGuid } from '../ids';
import { forLog } from '../logValue';
import { checkOneLakeEndpoint, checkOneLakePath } from './oneLakePaths';
import { secretFree } from './secretFree';

/** An access token for these scopes: the user's, on behalf of the user (the token broker's `forUser`). */
export type TokenSource = (scopes: readonly string[]) => Promise<string>;

/** What OneLake's Blob API takes: Azure Storage's delegated scope. */
export const ONELAKE_SCOPE = 'https://storage.azure.com/user_impersonation';
export const DEFAULT_ONELAKE_ENDPOINT = 'https://onelake.blob.fabric.microsoft.com';

/** One item's folder in OneLake, `{endpoint}/{workspaceId}/{itemId}`; paths are relative to it (`Files/…`, `Tables/…`). */
export interface OneLakeFolder {
  /** {endpoint}/{workspaceId}/{itemId} */
  readonly url: string;
  /** Creates or replaces the file; `contentType` default `text/plain; charset=utf-8`. */
  writeText(path: string, text: string, contentType?: string): Promise<void>;
  /** The value as JSON text, `application/json`. */
  writeJson(path: string, value: unknown): Promise<void>;
  /** The file as UTF-8 text; undefined when there is no such file. */
  readText(path: string): Promise<string | undefined>;
  /** The file parsed as JSON (a SyntaxError when it is not); undefined when there is no such file. */
  readJson(path: string): Promise<unknown | undefined>;
  /** Paths of the files under `prefix` (default: the whole folder), relative to the folder, e.g. 'Files/forecasts/x.json'. */
  list(prefix?: string): Promise<string[]>;
  /** True when the file was there. */
  delete(path: string): Promise<boolean>;
  /** The Blob SDK's ContainerClient of the workspace (blob names are `{itemId}/…`), for anything else. */
  container(): ContainerClient;
}

export interface OneLakeFolderOptions {
  /** https; DEFAULT_ONELAKE_ENDPOINT in Azure, the stand-in's https://127.0.0.1:{port}/onelake locally. */
  endpoint: string;
  workspaceId: string;
  itemId: string;
  token: TokenSource;
  /** Aborts every call in flight and refuses new ones (the job's cancellation). */
  signal?: AbortSignal;
}

type Operation = 'write' | 'read' | 'list' | 'delete';

/**
 * A call to OneLake that failed. `status` is the HTTP status (undefined
 * when no answer came), `code` the storage error code (`AuthorizationPermissionMismatch`,
 * `AuthenticationFailed`, …). The message quotes the service's own text with
 * anything token-like removed, never a request header.
 */
export class OneLakeError extends Error {
  constructor(
    readonly operation: Operation,
    /** The path relative to the item folder (or the listing's prefix). */
    readonly path: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly requestId: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'OneLakeError';
  }
}

/** What the SDK throws for a failed call (RestError), as far as we read it. */
interface StorageFailure {
  name?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string; authenticationErrorDetail?: string; 'x-ms-request-id'?: string };
}

type BlobSdk = typeof import('@azure/storage-blob');

/**
 * The item's folder in OneLake, through the Blob API with the user's storage
 * token (OneLake: the workspace is the container, the item the first path
 * segment). Paths are checked before any call: a bad one is a TypeError.
 * @azure/storage-blob is loaded on the first call, not at start.
 */
export function oneLakeFolder(options: OneLakeFolderOptions): OneLakeFolder {
  const endpoint = checkOneLakeEndpoint(options.endpoint);
  for (const [name, value] of [
    ['workspaceId', options.workspaceId],
    ['itemId', options.itemId],
  ] as const) {
    if (!isGuid(value)) throw new TypeError(`The OneLake folder's ${name} ${forLog(value)} is not a GUID.`);
  }
  // Lower case: what Fabric sends, and what Azure's container naming rules allow (the stand-in enforces them).
  const workspaceId = options.workspaceId.toLowerCase();
  const itemId = options.itemId.toLowerCase();
  const { token, signal } = options;
  let client: ContainerClient | undefined;

  const container = (): ContainerClient => {
    if (client) return client;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sdk = require('@azure/storage-blob') as BlobSdk;
    client = new sdk.ContainerClient(`${endpoint}/${workspaceId}`, tokenCredential(token));
    return client;
  };

  const blobName = (path: string) => `${itemId}/${path}`;

  /** Runs one call; a storage failure becomes a OneLakeError, anything else (the token source's errors, an abort) passes. */
  const call = async <T>(operation: Operation, path: string, run: (abortSignal?: AbortSignal) => Promise<T>) => {
    signal?.throwIfAborted();
    try {
      return await run(signal);
    } catch (error) {
      throw asOneLakeError(error, operation, path) ?? error;
    }
  };

  const writeText = async (path: string, text: string, contentType = 'text/plain; charset=utf-8') => {
    checkOneLakePath(path);
    if (typeof text !== 'string') throw new TypeError('OneLake writeText takes a string.');
    const body = Buffer.from(text, 'utf8');
    await call('write', path, (abortSignal) =>
      container()
        .getBlockBlobClient(blobName(path))
        .upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType }, abortSignal }),
    );
  };

  const readText = async (path: string) => {
    checkOneLakePath(path);
    return call('read', path, async (abortSignal) => {
      try {
        const answer = await container().getBlobClient(blobName(path)).download(0, undefined, { abortSignal });
        return (await readAll(answer.readableStreamBody)).toString('utf8');
      } catch (error) {
        if (isMissingFile(error)) return undefined;
        throw error;
      }
    });
  };

  return {
    url: `${endpoint}/${workspaceId}/${itemId}`,
    writeText,
    async writeJson(path, value) {
      checkOneLakePath(path);
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`OneLake writeJson: ${typeof value} is not JSON.`);
      await writeText(path, text, 'application/json');
    },
    readText,
    async readJson(path) {
      const text = await readText(path);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new SyntaxError(`OneLake file ${forLog(path, 200)} is not JSON: ${(error as Error).message}`);
      }
    },
    async list(prefix) {
      if (prefix !== undefined) checkOneLakePath(prefix, true);
      const from = `${itemId}/`;
      return call('list', prefix ?? '', async (abortSignal) => {
        const paths: string[] = [];
        // includeMetadata: OneLake (hierarchical) lists its folders as empty blobs marked hdi_isfolder.
        const listing = container().listBlobsFlat({
          prefix: `${from}${prefix ?? ''}`,
          includeMetadata: true,
          abortSignal,
        });
        for await (const blob of listing) {
          if (blob.metadata?.hdi_isfolder === 'true' || !blob.name.startsWith(from)) continue;
          paths.push(blob.name.slice(from.length));
        }
        return paths;
      });
    },
    async delete(path) {
      checkOneLakePath(path);
      return call('delete', path, async (abortSignal) => {
        const answer = await container().getBlobClient(blobName(path)).deleteIfExists({ abortSignal });
        return answer.succeeded;
      });
    },
    container,
  };
}

/**
 * The SDK's TokenCredential over the token source: whatever scope the SDK
 * asks (`https://storage.azure.com/.default`), the source is asked for
 * ONELAKE_SCOPE. The token is reported as expiring at once, so the SDK asks
 * the source (the broker, whose MSAL cache answers) before each request and
 * never refreshes in the background: core-rest-pipeline's background
 * refresh rethrows a failure nobody awaits (an unhandled rejection), and a
 * source's failure (consent, an expired user assertion) must reach the
 * handler's call instead.
 */
function tokenCredential(token: TokenSource) {
  return {
    async getToken(): Promise<{ token: string; expiresOnTimestamp: number }> {
      const value = await token([ONELAKE_SCOPE]);
      if (typeof value !== 'string' || value === '') throw new TypeError('The token source answered no token.');
      return { token: value, expiresOnTimestamp: Date.now() };
    },
  };
}

/** A 404 of a blob (not of the workspace's container): there is no such file. */
function isMissingFile(error: unknown): boolean {
  const failure = error as StorageFailure;
  return failure?.name === 'RestError' && failure.statusCode === 404 && code(failure) !== 'ContainerNotFound';
}

function code(failure: StorageFailure): string | undefined {
  return failure.details?.errorCode ?? failure.code;
}

/** A OneLakeError for the SDK's RestError; undefined for anything else (an abort, the token source's own error). */
function asOneLakeError(error: unknown, operation: Operation, path: string): OneLakeError | undefined {
  const failure = error as StorageFailure;
  if (failure?.name !== 'RestError') return undefined;
  const status = failure.statusCode;
  const errorCode = code(failure);
  const serviceText = (failure.message ?? '').split('\n')[0];
  const detail = failure.details?.authenticationErrorDetail;
  const said = [serviceText, detail].filter(Boolean).join(' ');
  const message =
    `OneLake ${operation} of ${forLog(path, 200)} failed: ` +
    `${status === undefined ? 'no answer' : status}${errorCode ? ` ${errorCode}` : ''}` +
    (said ? `: ${secretFree(said)}` : '');
  return new OneLakeError(operation, path, status, errorCode, failure.details?.['x-ms-request-id'], message);
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
