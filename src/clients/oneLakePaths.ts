import { forLog } from '../logValue';
import { isLoopbackHost, tryParseUrl } from '../url';

/** Azure Blob Storage's limit on a blob name, which the path must fit in (the service counts the item folder too). */
export const MAX_ONELAKE_PATH_LENGTH = 1024;
/** The item's folders a workload may write in: its files, and Delta tables. */
export const ONELAKE_ROOT_FOLDERS = ['Files', 'Tables'] as const;

// C0 controls and DEL: not in a URL, and an XML listing (List Blobs) cannot carry most of them.
const CONTROL = /[\u0000-\u001f\u007f]/; // eslint-disable-line no-control-regex
// A UTF-16 surrogate without its other half: not encodable as UTF-8, so not in a URL either.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The reason `path` is not a path inside an item's folder, or undefined when it
 * is one: relative, `Files/…` or `Tables/…`, at most 1024 characters, no empty,
 * `.` or `..` segment, no backslash, no control character. With
 * `allowTrailingSlash` (a listing's prefix), a final `/` is allowed, and the
 * root folder alone (`Files/`).
 */
export function oneLakePathProblem(path: unknown, allowTrailingSlash = false): string | undefined {
  if (typeof path !== 'string') return 'is not a string';
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_ONELAKE_PATH_LENGTH) return `is longer than ${MAX_ONELAKE_PATH_LENGTH} characters`;
  if (path.includes('\\')) return 'contains a backslash';
  if (CONTROL.test(path)) return 'contains a control character';
  if (LONE_SURROGATE.test(path)) return 'contains a lone UTF-16 surrogate';
  if (path.startsWith('/')) return 'is not relative';
  const segments = (allowTrailingSlash && path.endsWith('/') ? path.slice(0, -1) : path).split('/');
  if (!(ONELAKE_ROOT_FOLDERS as readonly string[]).includes(segments[0]))
    return 'does not start with Files/ or Tables/';
  if (segments.length < 2 && !(allowTrailingSlash && path.endsWith('/'))) return 'names a root folder, not a file';
  if (segments.some((segment) => segment === '')) return 'has an empty segment';
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'has a . or .. segment';
  return undefined;
}

/** `path` itself, or a TypeError saying what is wrong with it (never a call to OneLake). */
export function checkOneLakePath(path: unknown, allowTrailingSlash = false): string {
  const problem = oneLakePathProblem(path, allowTrailingSlash);
  if (problem) throw new TypeError(`The OneLake path ${forLog(path, 80)} ${problem}.`);
  return path as string;
}

/**
 * The endpoint without a trailing slash, or a TypeError: https, no query,
 * fragment or credentials; a path only on loopback, where Azurite's
 * path-style account stands in (https://127.0.0.1:{port}/onelake).
 */
export function checkOneLakeEndpoint(endpoint: string): string {
  const url = tryParseUrl(endpoint);
  const problem = !url
    ? 'is not a URL'
    : url.protocol !== 'https:'
      ? 'is not https'
      : url.username || url.password || url.search || url.hash || endpoint.includes('?') || endpoint.includes('#')
        ? 'has credentials, a query or a fragment'
        : url.pathname !== '/' && !isLoopbackHost(url.hostname)
          ? 'has a path (only a loopback stand-in may)'
          : undefined;
  if (problem) throw new TypeError(`The OneLake endpoint ${forLog(endpoint, 80)} ${problem}.`);
  return `${url!.origin}${url!.pathname.replace(/\/+$/, '')}`;
}
