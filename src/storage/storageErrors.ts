/** Reading the errors of @azure/data-tables (RestError) without depending on their classes. */
import { cutText } from '../text';

export interface RestErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

/** The storage service's error code (e.g. TableNotFound), else the transport's (e.g. ECONNREFUSED). */
export function errorCodeOf(error: RestErrorLike | undefined): string | undefined {
  return error?.details?.errorCode ?? error?.code;
}

/** A 404 for the entity. A 404 for the table (TableNotFound) is a deployment fault, not a missing job. */
export function isEntityNotFound(error: unknown): boolean {
  const e = error as RestErrorLike;
  return e?.statusCode === 404 && errorCodeOf(e) !== 'TableNotFound';
}

export function describeStorageError(error: unknown): string {
  const e = error as RestErrorLike;
  if (e?.name === 'AbortError') return 'timed out';
  const parts = [e?.name ?? 'Error'];
  if (e?.statusCode !== undefined) parts.push(`HTTP ${e.statusCode}`);
  const code = errorCodeOf(e);
  if (code) parts.push(code);
  // A service error's message is an XML or JSON document; a transport error's is one useful line.
  if (e?.statusCode === undefined && e?.message) parts.push(`(${cutText(e.message.split('\n', 1)[0], 200)})`);
  return parts.join(' ');
}

export function statusCodeOf(error: unknown): number | undefined {
  return (error as RestErrorLike | undefined)?.statusCode;
}
