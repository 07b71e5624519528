/** Waits between attempts of a call to a service: its Retry-After, else exponential backoff. */

/**
 * A Retry-After header's wait in milliseconds: delay-seconds (digits only) or
 * an HTTP date (less `now`, at least 0); undefined when absent or neither.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names a weekday or month; Date.parse alone also takes "1" or "2024".
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before retry number `retry` (1 for the first) without a
 * Retry-After: 1 s, 2 s, 4 s … each spread by ±25 % so that clients throttled
 * together do not come back together; never above `capMs`.
 */
export function backoffMs(retry: number, capMs: number, random: () => number = Math.random): number {
  const base = 1000 * 2 ** Math.max(0, retry - 1);
  return Math.min(capMs, Math.round(base * (0.75 + 0.5 * random())));
}
