/**
 * The local host's intake of request headers, made to hand the app what the
 * Functions host hands it in Azure.
 *
 * Repeated lines. Kestrel keeps every line of a repeated header as one more
 * value of a StringValues; the Functions host gives the worker
 * `StringValues.ToString()`, which joins the non-empty values with "," (no
 * space) and drops the empty ones (`ToRpcHttp` in Azure/azure-functions-host;
 * the HTTP-stream path's trigger metadata is built the same way). Sources:
 * docs/decisions.md, "Repeated headers".
 *
 * Limits. Kestrel answers 431 to more than 100 header lines or more than
 * 32 KiB of headers (its defaults, which the Functions host keeps). Node
 * instead keeps only about the first 1000 lines in req.headers and
 * req.headersDistinct and drops the rest without a word, so a second
 * Authorization line far enough down would vanish. Here such a request is
 * refused with 431 too, never cut short.
 */
import type { IncomingMessage } from 'node:http';

/** Kestrel's default MaxRequestHeaderCount. */
export const MAX_REQUEST_HEADERS = 100;
/** Kestrel's default MaxRequestHeadersTotalSize, as Node's maxHeaderSize (which counts the request line too). */
export const MAX_REQUEST_HEADER_BYTES = 32 * 1024;

/** The values of one header's lines as the Functions host joins them: the non-empty ones, with ",". */
export function joinFieldValues(values: readonly string[]): string {
  return values.filter((value) => value !== '').join(',');
}

/**
 * Every header of the request, names in lower case, the lines of a repeated
 * one joined by joinFieldValues; undefined when the request has more than
 * MAX_REQUEST_HEADERS lines. Read from rawHeaders, which Node fills up to
 * its own limit (about 1000 lines, far above ours) before it drops any, so a
 * request over our bound is always seen to be.
 */
export function readRequestHeaders(req: IncomingMessage): Record<string, string> | undefined {
  const raw = req.rawHeaders;
  if (raw.length / 2 > MAX_REQUEST_HEADERS) return undefined;
  const lines = new Map<string, string[]>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    lines.set(name, [...(lines.get(name) ?? []), raw[i + 1]]);
  }
  return Object.fromEntries(Array.from(lines, ([name, values]) => [name, joinFieldValues(values)]));
}
