/**
 * Table storage faults, end to end through the local host: Azurite stopped
 * and restarted under traffic, throttling, a read that hangs, and clients
 * that give up. "Bounded time" is each test's timeout; the measured times are
 * printed as figures (no timing assertions here).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { toJobEntity } from '../../src/jobs/jobRow';
import { DEFAULT_READ_DEADLINE_MS } from '../../src/jobs/jobStateStore';
import { createTableClient, TABLE_RETRY_OPTIONS } from '../../src/storage/tableClient';
import { abandon, expectUnavailable, figure, heapAfterGc, mib, timed, type Timed } from '../fixtures/faultRun';
import type { HttpAnswer } from '../fixtures/http';
import { jobPath, SEED, SEED_RECORD, startStack, type TestStack } from '../fixtures/stack';
import { startStorageProxy, tablePortOf, type StorageProxy } from '../fixtures/storageProxy';
import { azuriteConnectionString } from '../fixtures/tables';

const SEED_ANSWER = '{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}';

let stack: TestStack | undefined;
let proxy: StorageProxy | undefined;
let azurite: RunningAzurite | undefined;
afterEach(async () => {
  await stack?.close();
  await proxy?.close();
  await azurite?.stop();
  stack = proxy = azurite = undefined;
});

function expectSeedAnswer(answer: HttpAnswer): void {
  expect(answer.status, answer.text).toBe(200);
  expect(answer.text).toBe(SEED_ANSWER);
}

/** `loops` clients each sending one request after another until `until()` says stop. */
async function traffic(
  s: TestStack,
  loops: number,
  until: (answers: Timed<HttpAnswer>[]) => boolean,
): Promise<Timed<HttpAnswer>[]> {
  const answers: Timed<HttpAnswer>[] = [];
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (!until(answers)) answers.push(await timed(() => s.get(jobPath(SEED), s.headers())));
    }),
  );
  return answers;
}

/** A stack whose storage is its own Azurite (not the shared one), with the seed row in it. */
async function stackOnOwnAzurite(): Promise<{ s: TestStack; seedOwnAzurite: () => Promise<void> }> {
  azurite = await startAzurite();
  const s = (stack = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: azurite.connectionString }));
  const table = createTableClient(
    { kind: 'connectionString', connectionString: azurite.connectionString },
    s.table.tableName,
  );
  const seedOwnAzurite = async () => {
    await table.createTable();
    await table.upsertEntity(toJobEntity(SEED_RECORD), 'Replace');
  };
  await seedOwnAzurite();
  return { s, seedOwnAzurite };
}

describe('Azurite stopped under traffic and started again', () => {
  it(
    'answers 503 StorageUnavailable while it is down, and correctly again once it is back, without a restart',
    { timeout: 90_000 },
    async () => {
      const { s, seedOwnAzurite } = await stackOnOwnAzurite();
      expectSeedAnswer(await s.get(jobPath(SEED), s.headers()));

      // Eight clients keep polling while Azurite stops.
      let stoppedAt = Infinity;
      const afterStop = (answers: Timed<HttpAnswer>[]) => answers.filter((a) => a.startedAt > stoppedAt);
      const during = traffic(s, 8, (answers) => afterStop(answers).length >= 40);
      await sleep(300);
      await azurite!.stop();
      stoppedAt = performance.now();
      const answers = await during;
      expect(answers.length).toBeGreaterThan(40);
      for (const { value } of answers) {
        if (value.status === 200) expect(value.text).toBe(SEED_ANSWER);
        else expectUnavailable(value, 'StorageUnavailable');
      }
      const down = afterStop(answers);
      for (const { value } of down) expectUnavailable(value, 'StorageUnavailable');
      figure(
        `Azurite stopped: ${answers.length - down.length} answers (200, or 503 once it was gone) before and while it stopped, then ${down.length} of 503 StorageUnavailable, slowest ${Math.max(...down.map((a) => a.ms)).toFixed(0)} ms`,
      );

      // Back on the same port with fresh (empty) data: the table is missing, still 503, not "no such job".
      azurite = await startAzurite({ port: azurite!.port });
      expectUnavailable(await s.get(jobPath(SEED), s.headers()), 'StorageUnavailable');
      await seedOwnAzurite();
      const back = await traffic(s, 8, (answers) => answers.length >= 40);
      for (const { value } of back) expectSeedAnswer(value);
      figure(`Azurite restarted on the same port: the same host answered the next ${back.length} requests correctly`);
    },
  );
});

describe('storage throttling', () => {
  it.concurrent.each([429, 503] as const)(
    'answers 503 StorageUnavailable to a throttling %i after at most two quick retries, and recovers',
    async (status) => {
      const p = await startStorageProxy(tablePortOf(azuriteConnectionString()));
      const s = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: p.connectionString });
      try {
        await s.seed();
        expectSeedAnswer(await s.get(jobPath(SEED), s.headers()));

        p.mode = { kind: 'throttle', status };
        const before = p.requests;
        const throttled = await timed(() => s.get(jobPath(SEED), s.headers()));
        expectUnavailable(throttled.value, 'StorageUnavailable');
        const attempts = p.requests - before;
        expect(attempts).toBeGreaterThanOrEqual(1);
        expect(attempts).toBeLessThanOrEqual(1 + TABLE_RETRY_OPTIONS.maxRetries);
        expect(
          s.logs.some(
            (l) => l.level === 'error' && l.line.includes(`StorageUnavailable`) && l.line.includes(`HTTP ${status}`),
          ),
        ).toBe(true);

        // Storage asks for two minutes: the SDK would wait that long; the read deadline does not.
        p.mode = { kind: 'throttle', status, retryAfterSeconds: 120 };
        const patient = await timed(() => s.get(jobPath(SEED), s.headers()));
        expectUnavailable(patient.value, 'StorageUnavailable');
        figure(
          `storage throttling ${status}: 503 after ${throttled.ms.toFixed(0)} ms (${attempts} attempt(s)); with Retry-After: 120, 503 after ${patient.ms.toFixed(0)} ms (read deadline ${DEFAULT_READ_DEADLINE_MS} ms)`,
        );

        p.mode = { kind: 'pass' };
        expectSeedAnswer(await s.get(jobPath(SEED), s.headers()));
      } finally {
        await s.close();
        await p.close();
      }
    },
  );
});

describe('a storage read that never ends', () => {
  it(
    'is cut at the read deadline with 503, and the requests whose clients gave up end too, leaving no read open',
    { timeout: 45_000 },
    async () => {
      proxy = await startStorageProxy(tablePortOf(azuriteConnectionString()));
      const s = (stack = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: proxy.connectionString }));
      await s.seed();
      expectSeedAnswer(await s.get(jobPath(SEED), s.headers()));

      proxy.mode = { kind: 'hang' };
      const requestIds = Array.from({ length: 30 }, () => randomUUID());
      const url = `${s.host.baseUrl}${jobPath(SEED)}`;
      const [waited] = await Promise.all([
        timed(() => s.get(jobPath(SEED), s.headers())),
        ...requestIds.map((requestid) => abandon(url, { ...s.headers(), requestid }, 200)),
      ]);
      expectUnavailable(waited.value, 'StorageUnavailable');
      // Every abandoned request still ran to its end (a 503 in its log), and no read is left open at storage.
      await vi.waitFor(
        () => {
          for (const id of requestIds)
            expect(s.logs.some((l) => l.line.includes(id) && l.line.includes('503 StorageUnavailable'))).toBe(true);
          expect(proxy!.pending).toBe(0);
        },
        { timeout: DEFAULT_READ_DEADLINE_MS + 5000, interval: 200 },
      );
      figure(
        `storage hanging: 503 StorageUnavailable after ${waited.ms.toFixed(0)} ms; ${requestIds.length} requests abandoned by their clients all ended, 0 reads left open`,
      );
    },
  );

  it(
    'leaves no memory or sockets behind for requests their clients abandon while storage is slow',
    { timeout: 60_000 },
    async () => {
      proxy = await startStorageProxy(tablePortOf(azuriteConnectionString()));
      const s = (stack = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: proxy.connectionString }));
      await s.seed();
      proxy.mode = { kind: 'delay', ms: 300 };
      const url = `${s.host.baseUrl}${jobPath(SEED)}`;
      const headers = s.headers();
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

      const ROUNDS = 8;
      const PER_ROUND = 150;
      const heap: number[] = [];
      const open: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const ids = Array.from({ length: PER_ROUND }, () => randomUUID());
        await Promise.all(ids.map((requestid) => abandon(url, { ...headers, requestid }, 50)));
        // Each handler finishes its read and its answer, to a client that is gone.
        await vi.waitFor(
          () => {
            const done = new Set(
              s.logs
                .filter((l) => l.line.includes(': InProgress [ActivityId='))
                .map((l) => /RequestId=([^\]]+)]/.exec(l.line)?.[1]),
            );
            expect(ids.every((id) => done.has(id))).toBe(true);
            expect(proxy!.pending).toBe(0);
          },
          { timeout: 15_000, interval: 100 },
        );
        s.logs.length = 0; // the test's own record of the log must not be what grows
        heap.push(heapAfterGc());
        open.push(sockets());
      }
      // Round 1 warms up the pools; from then on nothing may accumulate.
      const growth = heap[ROUNDS - 1] - heap[1];
      figure(
        `clients abandoning requests: ${ROUNDS * PER_ROUND} abandoned while storage took 300 ms; heap after GC per round ${heap.map(mib).join(', ')} (growth after warm-up ${mib(growth)}); open sockets per round ${open.join(', ')}`,
      );
      expect(growth).toBeLessThan(4 * 1024 * 1024);
      expect(Math.max(...open.slice(1))).toBeLessThanOrEqual(open[1] + 10);
    },
  );
});
