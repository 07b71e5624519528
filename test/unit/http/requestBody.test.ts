import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { InvalidRequestBodyError } from '../../../src/fabric/errors';
import { MAX_BODY_BYTES, MAX_JSON_DEPTH, readJsonBody } from '../../../src/http/requestBody';

const request = (body?: string | Uint8Array, headers: Record<string, string> = {}) =>
  new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/x',
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? { string: body } : { bytes: body },
  });

/** The reason of the InvalidRequestBodyError readJsonBody rejects with. */
async function refusal(reading: Promise<unknown>): Promise<string> {
  const error = await reading.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidRequestBodyError);
  return (error as Error).message;
}

/** `{"a":{"a":…{}…}}`, `depth` objects deep. */
const nested = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
/** A JSON object of exactly `bytes` bytes. */
const objectOfBytes = (bytes: number) => `{"p":"${'x'.repeat(bytes - '{"p":""}'.length)}"}`;

describe('readJsonBody', () => {
  it('returns the JSON object sent', async () => {
    expect(await readJsonBody(request('{"invokeType":"Manual","n":[1,{"b":null}]}'))).toEqual({
      invokeType: 'Manual',
      n: [1, { b: null }],
    });
  });

  it.each([
    ['no body at all', undefined, /it is empty/],
    ['an empty body', '', /it is empty/],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), /it is not UTF-8 text/],
    ['text that is not JSON', '{"a":', /it is not JSON/],
    ['a JSON array', '[{}]', /it is not a JSON object/],
    ['JSON null', 'null', /it is not a JSON object/],
    ['a JSON string', '"{}"', /it is not a JSON object/],
    ['a JSON number', '1', /it is not a JSON object/],
  ])('refuses %s', async (_name, body, reason) => {
    expect(await refusal(readJsonBody(request(body)))).toMatch(reason);
  });

  it(`takes JSON nested ${MAX_JSON_DEPTH} levels deep and refuses one level more`, async () => {
    expect(await readJsonBody(request(nested(MAX_JSON_DEPTH)))).toBeTypeOf('object');
    expect(await refusal(readJsonBody(request(nested(MAX_JSON_DEPTH + 1))))).toMatch(
      `it is nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  });

  it('counts depth through arrays too', async () => {
    const deepArray = '{"a":' + '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH) + '}';
    expect(await refusal(readJsonBody(request(deepArray)))).toMatch(/nested deeper/);
  });

  it(`takes a body of exactly ${MAX_BODY_BYTES} bytes and refuses one byte more`, async () => {
    expect(await readJsonBody(request(objectOfBytes(MAX_BODY_BYTES)))).toHaveProperty('p');
    expect(await refusal(readJsonBody(request(objectOfBytes(MAX_BODY_BYTES + 1))))).toMatch(
      `it is larger than ${MAX_BODY_BYTES / 1024} KiB`,
    );
  });

  it('counts bytes, not characters', async () => {
    const multiByte = `{"p":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`; // fewer characters than the bound, twice the bytes
    expect(multiByte.length).toBeLessThan(MAX_BODY_BYTES);
    expect(await refusal(readJsonBody(request(multiByte)))).toMatch(/larger than/);
  });

  it('refuses a declared Content-Length over the bound without reading the body', async () => {
    const small = request('{}', { 'content-length': String(MAX_BODY_BYTES + 1) });
    expect(await refusal(readJsonBody(small))).toMatch(/larger than/);
    expect(small.bodyUsed).toBe(false);
  });

  it('reads the body when the declared length is within the bound or not a number, and goes by the bytes', async () => {
    expect(await readJsonBody(request('{}', { 'content-length': '2' }))).toEqual({});
    expect(await readJsonBody(request('{}', { 'content-length': 'many' }))).toEqual({});
  });

  it('takes a lower bound when given one', async () => {
    expect(await refusal(readJsonBody(request(objectOfBytes(2049)), 2048))).toMatch('larger than 2 KiB');
  });
});
