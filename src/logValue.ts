/**
 * A short, single-line rendering of an untrusted value for a log line: strings
 * are quoted and cut, arrays shown one level deep, anything else by its type.
 * Never recursive, so a deeply nested claim cannot make logging throw.
 */
export function forLog(value: unknown, maxLength = 64): string {
  if (typeof value === 'string') {
    const cut = value.length > maxLength ? `${value.slice(0, maxLength)}…` : value;
    return JSON.stringify(cut);
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const shown = value.slice(0, 5).map((item) => (typeof item === 'object' && item !== null ? typeof item : forLog(item, maxLength)));
    return `[${shown.join(', ')}${value.length > 5 ? ', …' : ''}]`;
  }
  return typeof value;
}
