import type { HttpRequest } from '@azure/functions';
import { InvalidRequestBodyError } from '../fabric/errors';

/** Every request body the workload API sends is a small JSON object. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deeper JSON than this is refused before anything walks it recursively (JSON.stringify, the schema checks). */
export const MAX_JSON_DEPTH = 64;

/**
 * Reads the body as JSON with a bound: a declared Content-Length over the
 * limit is refused unread, and a body that grows past it while streaming is
 * refused as soon as it does, never buffered whole.
 */
export async function readJsonBody(
  request: HttpRequest,
  maxBytes = MAX_BODY_BYTES,
  optional = false,
): Promise<unknown> {
  const tooLarge = () => new InvalidRequestBodyError(`it is larger than ${describeBytes(maxBytes)}`);
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) throw tooLarge();
  const bytes = await readBounded(request, maxBytes, tooLarge);
  if (bytes.length === 0) {
    if (optional) return {};
    throw new InvalidRequestBodyError('it is empty; a JSON object is required');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidRequestBodyError('it is not UTF-8 text');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestBodyError('it is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidRequestBodyError('it is not a JSON object');
  if (depthExceeds(value, MAX_JSON_DEPTH))
    throw new InvalidRequestBodyError(`it is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

async function readBounded(request: HttpRequest, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const stream = request.body;
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Iterative, so a hostile nesting depth cannot overflow the stack here. */
function depthExceeds(root: object, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(value)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** 65536 → "64 KiB", 4194304 → "4 MiB". */
function describeBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}
