import { cutText } from './text';

// JSON.stringify escapes C0 controls (CR and LF among them) but leaves these
// as they are: DEL, the C1 controls (NEL is a line break to some log viewers,
// CSI a command to some terminals) and the Unicode line and paragraph separators.
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029]/g;

/** JSON text with what JSON.stringify leaves unescaped escaped as well, so it stays on one line everywhere. */
export function escapeUnescapedByJson(json: string): string {
  return json.replace(UNESCAPED_BY_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A short, single-line rendering of an untrusted value for a log line: strings
 * are quoted, cut and every control or line-breaking character escaped, arrays
 * shown one level deep, anything else by its type.
 * Never recursive, so a deeply nested claim cannot make logging throw.
 */
export function forLog(value: unknown, maxLength = 64): string {
  if (typeof value === 'string') {
    const cut = value.length > maxLength ? `${cutText(value, maxLength)}…` : value;
    return escapeUnescapedByJson(JSON.stringify(cut));
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  if (Array.isArray(value)) {
    const shown = value
      .slice(0, 5)
      .map((item) => (typeof item === 'object' && item !== null ? typeof item : forLog(item, maxLength)));
    return `[${shown.join(', ')}${value.length > 5 ? ', …' : ''}]`;
  }
  return typeof value;
}

/**
 * An unexpected error for the log: its stack (or message) on one line, escaped
 * and cut, because a stack or a library's message may quote input values,
 * line breaks included.
 */
export function describeUnexpected(error: unknown, maxLength = 4000): string {
  return cutText(JSON.stringify(error instanceof Error ? (error.stack ?? error.message) : String(error)), maxLength);
}
