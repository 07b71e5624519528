/**
 * Hostile input over real HTTP through the local host: what the handler-level
 * properties (test/unit/hostileInput.test.ts) check, once more with the bytes
 * on the wire, and the suite's one timing check.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AUTHORIZATION_LENGTH, SCHEME } from '../../src/auth/subjectAndAppHeader';
import { jobInstancePath, type JobPath } from '../../src/http/jobPath';
import {
  authorizationHeader,
  expectRejected,
  hostilePath,
  tenantHeader,
  tokenSegments,
} from '../fixtures/hostileInput';
import { startHostProcess } from '../fixtures/hostProcess';
import { get, type HttpAnswer } from '../fixtures/http';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
  await stack.seed();
});
afterAll(() => stack?.close());

/** Sends with a fresh RequestId and returns the answer with that request's log lines. */
async function send(path: string, headers: Record<string, string>) {
  const requestId = randomUUID();
  const answer: HttpAnswer = await stack.get(path, { ...headers, requestid: requestId });
  const logs = stack.logs.filter((l) => l.line.includes(requestId)).map((l) => l.line);
  return { status: answer.status, body: answer.json, headers: answer.headers, logs };
}

/** Every byte of the UTF-8 form percent-encoded, as a hostile client may send it. */
const percentEncoded = (value: string) =>
  Array.from(Buffer.from(value, 'utf8'), (b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const encodedPath = (path: JobPath) =>
  jobInstancePath(
    Object.fromEntries(
      Object.entries(path).map(([name, value]) => [name, percentEncoded(value)]),
    ) as unknown as JobPath,
  );

describe('hostile requests over HTTP', () => {
  it('answers 400 naming the first bad value to any percent-encoded path', async () => {
    // An empty segment, "." and ".." (dot segments the URL parser removes) leave a path that matches no route: 404, tested in routing.
    const path = hostilePath(SEED).filter(({ path }) => !Object.values(path).some((v) => ['', '.', '..'].includes(v)));
    await fc.assert(
      fc.asyncProperty(path, async ({ path, firstBad }) => {
        const answer = await send(encodedPath(path), {});
        expectRejected(answer, 400);
        expect(answer.body.messageParameters).toEqual([firstBad]);
      }),
      { numRuns: 60 },
    );
  });

  it('answers 401 to any Authorization or tenant header bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(authorizationHeader), fc.option(tenantHeader), async (authorization, tenant) => {
        const headers: Record<string, string> = { 'x-ms-client-tenant-id': tenant ?? USER_TENANT };
        if (authorization !== null) headers.authorization = authorization;
        expectRejected(await send(jobPath(SEED), headers), 401, tokenSegments(authorization ?? ''));
      }),
      { numRuns: 60 },
    );
  });

  it('answers a 16 KiB adversarial Authorization header well under a second', async () => {
    // In a host process of its own: a matcher that backtracks catastrophically blocks the process it runs
    // in, and would stall this test runner's timers too instead of failing the test.
    const host = await startHostProcess(stack.settings);
    try {
      const fill = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
      const prefix = `${SCHEME} subjectToken="`;
      const shapes = {
        'JWS-like pieces that never close': prefix + fill('eyJ.', MAX_AUTHORIZATION_LENGTH - prefix.length),
        'repeated separators': prefix + fill('", appToken="', MAX_AUTHORIZATION_LENGTH - prefix.length),
        'escaped quotes': prefix + fill('\\"', MAX_AUTHORIZATION_LENGTH - prefix.length),
        'one base64url run, closed but never followed by the app token': `${prefix}eyJ${fill('A', MAX_AUTHORIZATION_LENGTH - prefix.length - 4)}"`,
        'just over the bound': prefix + fill('eyJ.', MAX_AUTHORIZATION_LENGTH + 1 - prefix.length),
      };
      for (const [shape, authorization] of Object.entries(shapes)) {
        expect(authorization.length, shape).toBeGreaterThanOrEqual(MAX_AUTHORIZATION_LENGTH);
        const started = performance.now();
        const answer = await get(
          `${host.baseUrl}${jobPath(SEED)}`,
          { 'x-ms-client-tenant-id': USER_TENANT, authorization },
          'GET',
          5000,
        );
        const elapsedMs = performance.now() - started;
        expectRejected({ status: answer.status, body: answer.json, headers: answer.headers, logs: [] }, 401);
        // The suite's one timing assertion, generous on purpose: catastrophic backtracking takes seconds to hours.
        expect(elapsedMs, shape).toBeLessThan(1000);
      }
    } finally {
      await host.stop();
    }
  });
});
