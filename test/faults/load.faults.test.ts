/**
 * Load: 3000 requests over 32 keep-alive connections against the shared
 * Azurite. Through the local host serving the bundle (a process of its own,
 * so its memory is its own), every request carries a token pair of its own,
 * so both RS256 verifications run every time and the validated-token cache
 * fills as it would with many users. In process, one pair is reused, as
 * Fabric does between polls: the leak check of the cached path.
 */
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toJobEntity, type JobRecord } from '../../src/jobs/jobRow';
import { figure, heapAfterGc, mib } from '../fixtures/faultRun';
import { tokenSegments } from '../fixtures/hostileInput';
import { startHostProcess } from '../fixtures/hostProcess';
import { jobPath, SEED_RECORD, startBackends, startStack, USER_TENANT, type Backends } from '../fixtures/stack';
import { tokenFactory } from '../fixtures/tokens';

type LoadResult = autocannon.Result;

const CONNECTIONS = 32;
const WARM_UP = 500;
const REQUESTS = 3000;
// Resident memory also grows while V8 sizes its heap to the load (20–40 MiB seen): generous, and the heap check below is the sharp one.
const MAX_RSS_GROWTH = 96 * 1024 * 1024;
const MAX_HEAP_GROWTH = 8 * 1024 * 1024;

const NOT_FOUND = {
  status: 'Failed',
  errorDetails: {
    errorCode: 'JobInstanceNotFound',
    message: 'The job instance was not found.',
    source: 'System',
    isPermanent: true,
  },
};
const instance = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Rows of every kind, and what each must answer; requests cycle through them on every connection. */
const JOBS: { record: JobRecord; stored: boolean; answer: unknown }[] = [
  { record: SEED_RECORD, stored: true, answer: { status: 'InProgress', startTimeUtc: '2023-12-10T14:41:39.412Z' } },
  {
    record: {
      ...SEED_RECORD,
      jobInstanceId: instance(1),
      status: 'Completed',
      endTimeUtc: new Date('2023-12-10T15:00:00.000Z'),
    },
    stored: true,
    answer: { status: 'Completed', startTimeUtc: '2023-12-10T14:41:39.412Z', endTimeUtc: '2023-12-10T15:00:00.000Z' },
  },
  {
    record: {
      ...SEED_RECORD,
      jobInstanceId: instance(2),
      status: 'Failed',
      endTimeUtc: new Date('2023-12-10T14:50:00.000Z'),
      errorDetails: { errorCode: 'QuotaExceeded', message: 'Out of quota', source: 'User', isPermanent: true },
    },
    stored: true,
    answer: {
      status: 'Failed',
      startTimeUtc: '2023-12-10T14:41:39.412Z',
      endTimeUtc: '2023-12-10T14:50:00.000Z',
      errorDetails: { errorCode: 'QuotaExceeded', message: 'Out of quota', source: 'User', isPermanent: true },
    },
  },
  {
    record: { ...SEED_RECORD, jobInstanceId: instance(3), status: 'NotStarted', startTimeUtc: undefined },
    stored: true,
    answer: { status: 'NotStarted' },
  },
  {
    record: { ...SEED_RECORD, jobInstanceId: instance(4), tenantId: '77777777-7777-4777-8777-777777777777' },
    stored: true,
    answer: NOT_FOUND,
  },
  { record: { ...SEED_RECORD, jobInstanceId: instance(5) }, stored: false, answer: NOT_FOUND },
];

/** Resident set size of a process, from ps (Linux and macOS). */
function rssOf(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}

/** autocannon requests cycling through JOBS, each answer checked; `wrong` collects what was not right. */
function checkedLoad(port: number, headers: () => Record<string, string>) {
  const tally = { answered: 0, wrong: [] as string[], lastAnswerAt: 0 };
  const requests: autocannon.Request[] = JOBS.map((job) => ({
    method: 'GET',
    path: `/api${jobPath(job.record)}`,
    headers: {},
    setupRequest: (request) => ({ ...request, headers: headers() }),
    onResponse: (status, body) => {
      tally.answered++;
      tally.lastAnswerAt = performance.now();
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      if (status !== 200 || !isDeepStrictEqual(json, job.answer))
        tally.wrong.push(`${job.record.jobInstanceId}: ${status} ${body}`);
    },
  }));
  // autocannon's promise is a thenable without finally(): await it, nothing else.
  const run = (amount: number) =>
    autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, amount, timeout: 30, requests });
  return { tally, run };
}

function expectAllAnsweredRight(result: LoadResult, tally: { answered: number; wrong: string[] }): void {
  expect(tally.wrong.slice(0, 5)).toEqual([]);
  expect(tally.answered).toBe(WARM_UP + REQUESTS);
  expect(result.requests.total).toBe(REQUESTS);
  expect(result['2xx']).toBe(REQUESTS);
  expect(result.non2xx + result.errors + result.timeouts).toBe(0);
}

/** autocannon counts whole seconds, and its run ends on a 1 s tick: the rate runs to the last answer, by the test's own clock. */
const rate = (result: LoadResult, seconds: number) =>
  `${(result.requests.total / seconds).toFixed(0)} requests/s; latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`;

let backends: Backends;
beforeAll(async () => {
  backends = await startBackends();
  for (const job of JOBS) if (job.stored) await backends.table.createEntity(toJobEntity(job.record));
});
afterAll(async () => {
  await backends?.jwks.close();
  await backends?.table.deleteTable();
});

describe(`${REQUESTS} requests over ${CONNECTIONS} connections`, () => {
  it(
    'through the compiled host process: all 200 and correct, bounded resident memory, one JWKS download, no token in the log',
    { timeout: 120_000 },
    async () => {
      // Signed before the host starts: signing thousands of tokens blocks this process, which also serves
      // the JWKS, and on a busy machine that held the host's start-up download past its 5 s deadline.
      const tokens = tokenFactory(backends.issuer);
      const pairs = Array.from({ length: WARM_UP + REQUESTS }, () => ({
        authorization: tokens.header(),
        'x-ms-client-tenant-id': USER_TENANT,
      }));
      const host = await startHostProcess(backends.settings);
      try {
        let sent = 0;
        const { tally, run } = checkedLoad(host.port, () => pairs[sent++ % pairs.length]);
        await run(WARM_UP); // compiles the hot paths, fills the connection pools, fetches the keys
        const rssStart = rssOf(host.child.pid!);
        let rssPeak = rssStart;
        const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(host.child.pid!))), 250);
        let result: LoadResult;
        const started = performance.now();
        let seconds: number;
        try {
          result = await run(REQUESTS);
          seconds = (tally.lastAnswerAt - started) / 1000;
        } finally {
          clearInterval(sampler);
        }
        const rssEnd = rssOf(host.child.pid!);

        expectAllAnsweredRight(result, tally);
        expect(backends.jwks.requests).toBe(1);
        const growth = rssEnd - rssStart;
        expect(growth).toBeLessThan(MAX_RSS_GROWTH);
        // It logged every request (one outcome line each), and nothing of the token.
        const output = host.output();
        expect(output.split('\n').filter((line) => line.includes(`job ${SEED_RECORD.itemId}/`)).length).toBe(
          WARM_UP + REQUESTS,
        );
        for (const { authorization } of pairs.filter((_, i) => i % 100 === 0))
          for (const segment of tokenSegments(authorization)) expect(output).not.toContain(segment);

        figure(
          `load, host process, a token pair per request: ${REQUESTS} requests over ${CONNECTIONS} connections in ${seconds.toFixed(1)} s, ${rate(result, seconds)}; all 200 and correct; 1 JWKS download; ` +
            `RSS ${mib(rssStart)} after ${WARM_UP} warm-up requests, peak ${mib(rssPeak)}, ${mib(rssEnd)} after (growth ${mib(growth)})`,
        );
      } finally {
        await host.stop();
      }
    },
  );

  it('in this process: the heap after a full collection is back where it was', { timeout: 120_000 }, async () => {
    const stack = await startStack({ JOB_STATE_TABLE_NAME: backends.table.tableName });
    try {
      const headers = stack.headers();
      const { tally, run } = checkedLoad(Number(new URL(stack.host.baseUrl).port), () => headers);
      await run(WARM_UP);
      stack.logs.length = 0;
      const heapStart = heapAfterGc();
      const started = performance.now();
      const result = await run(REQUESTS);
      const seconds = (tally.lastAnswerAt - started) / 1000;
      stack.logs.length = 0; // the test's own record of the log is not the app's memory
      const heapEnd = heapAfterGc();
      expectAllAnsweredRight(result, tally);
      expect(stack.jwks.requests).toBe(1);
      figure(
        `load, in process: ${rate(result, seconds)}; heap after GC ${mib(heapStart)} before, ${mib(heapEnd)} after (growth ${mib(heapEnd - heapStart)})`,
      );
      expect(heapEnd - heapStart).toBeLessThan(MAX_HEAP_GROWTH);
    } finally {
      await stack.close();
    }
  });
});
