/**
 * The local host's header intake, with raw bytes on the wire: repeated lines
 * reach the app joined as the Functions host joins them, and a request with
 * more header lines or bytes than Kestrel allows is refused with 431, never
 * cut short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_HEADER_BYTES, MAX_REQUEST_HEADERS } from '../../dev/requestHeaders';
import { getRaw } from '../fixtures/http';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
  await stack.seed();
});
afterAll(() => stack?.close());

const url = () => `${stack.host.baseUrl}${jobPath(SEED)}`;
/** Valid Fabric credentials as header lines. */
const credentials = (): [string, string][] => {
  const { authorization, 'x-ms-client-tenant-id': tenant } = stack.headers();
  return [
    ['Authorization', authorization],
    ['x-ms-client-tenant-id', tenant],
  ];
};
const fillers = (count: number): [string, string][] => Array.from({ length: count }, (_, i) => [`x-f${i}`, '1']);
/** Host and Connection are the two lines getRaw adds. */
const ADDED_LINES = 2;

describe('header count', () => {
  it('serves a request of exactly the bound in header lines', async () => {
    const answer = await getRaw(url(), [...credentials(), ...fillers(MAX_REQUEST_HEADERS - ADDED_LINES - 2)]);
    expect(answer.status).toBe(200);
  });

  it('refuses one line more with 431 and an ErrorResponse', async () => {
    const answer = await getRaw(url(), [...credentials(), ...fillers(MAX_REQUEST_HEADERS - ADDED_LINES - 1)]);
    expect(answer.status).toBe(431);
    expect(answer.text).toContain('"errorCode":"RequestHeaderFieldsTooLarge"');
  });

  it.each([
    ['Authorization', 'appToken="eyJhbGciOiJub25lIn0.e30."'],
    ['x-ms-client-tenant-id', USER_TENANT],
  ])('refuses, not truncates, a request whose second %s line comes after 2000 others', async (name, value) => {
    // Node keeps only the first 1000 or so header lines of a request for req.headers and
    // req.headersDistinct: a second line past them used to vanish, and the first one was served.
    const answer = await getRaw(url(), [...credentials(), ...fillers(2000), [name, value]]);
    expect(answer.status).toBe(431);
  });
});

describe('header size', () => {
  it('serves headers just under the byte bound', async () => {
    const answer = await getRaw(url(), [...credentials(), ['x-filler', 'a'.repeat(MAX_REQUEST_HEADER_BYTES - 4096)]]);
    expect(answer.status).toBe(200);
  });

  it('refuses headers over the byte bound with 431', async () => {
    const answer = await getRaw(url(), [...credentials(), ['x-filler', 'a'.repeat(MAX_REQUEST_HEADER_BYTES)]]);
    expect(answer.status).toBe(431);
  });
});

describe('repeated header lines, joined as the Functions host joins them', () => {
  it('drops an empty repeated Authorization line: the host drops it too, and the one value left is unambiguous', async () => {
    const [authorization, tenant] = credentials();
    const answer = await getRaw(url(), [authorization, ['Authorization', ''], tenant]);
    expect(answer.status).toBe(200);
  });

  it('joins non-empty lines with a bare comma, so a split Authorization never looks like one', async () => {
    const [[, value], tenant] = credentials();
    const split = value.indexOf(', appToken=');
    const answer = await getRaw(url(), [
      ['Authorization', value.slice(0, split)],
      ['Authorization', value.slice(split + 2)],
      tenant,
    ]);
    expect(answer.status).toBe(401);
  });
});
