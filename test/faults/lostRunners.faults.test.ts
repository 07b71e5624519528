/**
 * Lost runners, with local host processes on one table and one queue and
 * real heartbeats of 1 s and more:
 *
 * - judged by the storage service's clock and by the heartbeat interval the
 *   runner wrote on the row, not by the reader's clock or setting (the
 *   runner's clock shifted by a preloaded module, test/fixtures/shiftClock.cjs);
 * - recorded by the queue alone, once a runner is killed (SIGKILL) with a
 *   lease shorter than the lost-runner threshold, as the local host's 60 s
 *   is against 4 × 30 s.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { afterEach, describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { encodeJobMessage } from '../../src/execution/jobQueue';
import { toJobEntity } from '../../src/jobs/jobRow';
import { startHostProcess, type HostProcess } from '../fixtures/hostProcess';
import { get } from '../fixtures/http';
import { jobPath, SEED, startBackends, TEST_ASSERTION_KEY, USER_TENANT, type Backends } from '../fixtures/stack';
import { AssertionKeys } from '../../src/auth/assertionKeys';
import { tokenFactory } from '../fixtures/tokens';
import { until } from '../fixtures/until';

const SHIFT_CLOCK = join(__dirname, '..', 'fixtures', 'shiftClock.cjs');
const HOUR_MS = 3600_000;

let backends: Backends | undefined;
let hosts: HostProcess[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  await backends?.jwks.close();
  backends = undefined;
  hosts = [];
});

/** A host process with its own JOB_HEARTBEAT_SECONDS and, when `shiftMs` is given, a clock that far off. */
async function host(
  heartbeatSeconds: number,
  shiftMs?: number,
  more: Record<string, string> = {},
): Promise<HostProcess> {
  const clock: Record<string, string> =
    shiftMs === undefined ? {} : { NODE_OPTIONS: `--require ${SHIFT_CLOCK}`, CLOCK_SHIFT_MS: String(shiftMs) };
  const started = await startHostProcess({
    ...backends!.settings,
    JOB_HEARTBEAT_SECONDS: String(heartbeatSeconds),
    ...clock,
    ...more,
  });
  hosts.push(started);
  return started;
}

/**
 * A demo job of `durationSeconds` as Create leaves it: a NotStarted row (with its user's token sealed, for the
 * demo's OneLake write) and its message (Create's own token would meet a shifted clock).
 */
async function seedJob(durationSeconds: number) {
  const j = { ...SEED, itemId: randomUUID(), jobInstanceId: randomUUID() };
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const subjectToken = tokenFactory(backends!.issuer).subjectToken({ exp });
  await backends!.table.createEntity(
    toJobEntity({
      ...j,
      tenantId: USER_TENANT,
      status: 'NotStarted',
      invokeType: 'Manual',
      creationPayload: JSON.stringify({ durationSeconds }),
      userAssertion: new AssertionKeys(TEST_ASSERTION_KEY).seal(subjectToken, j),
      userAssertionExpiresUtc: new Date(exp * 1000),
    }),
  );
  await (await jobQueue()).sendMessage(encodeJobMessage(j));
  return j;
}

async function jobQueue(): Promise<QueueClient> {
  const queue = new QueueClient(backends!.settings.JobQueue, backends!.settings.JOB_QUEUE_NAME);
  await queue.createIfNotExists();
  return queue;
}

async function statusOf(j: { itemId: string; jobInstanceId: string }): Promise<unknown> {
  return (await backends!.table.getEntity(j.itemId, j.jobInstanceId)).Status;
}

function getThrough(reader: HostProcess, j: Parameters<typeof jobPath>[0]) {
  const tokens = tokenFactory(backends!.issuer);
  return async () =>
    (
      await get(`${reader.baseUrl}${jobPath(j)}`, {
        authorization: subjectAndAppHeader(tokens.subjectToken(), tokens.appToken()),
        'x-ms-client-tenant-id': USER_TENANT,
      })
    ).json as { status: string; errorDetails?: { errorCode: string } };
}

/** Gets the job through `reader` until it is terminal; every answer seen. */
async function watchThrough(reader: HostProcess, j: Parameters<typeof jobPath>[0]) {
  const seen: { status: string; errorDetails?: { errorCode: string } }[] = [];
  const read = getThrough(reader, j);
  await until(
    async () => {
      const state = await read();
      seen.push(state);
      return state;
    },
    (state) => state.status !== 'InProgress',
    'the end of the job',
  );
  return seen;
}

describe('a healthy runner is judged by the storage clock and its own heartbeat interval', () => {
  /** A job run by a runner of this heartbeat and clock shift, watched by a reader of 1 s until it ends: never Failed. */
  async function healthyJobWatched(runnerHeartbeatSeconds: number, runnerShiftMs: number, jobSeconds: number) {
    backends = await startBackends();
    await host(runnerHeartbeatSeconds, runnerShiftMs);
    const j = await seedJob(jobSeconds);
    await until(
      () => statusOf(j),
      (status) => status === 'InProgress',
      'the runner’s claim',
    );
    const seen = await watchThrough(await host(1), j);
    expect(seen.filter((state) => state.status === 'Failed')).toEqual([]);
    expect(seen.at(-1)!.status).toBe('Completed');
  }

  it('a runner whose clock is an hour behind the reader’s is never recorded JobRunnerLost', async () => {
    await healthyJobWatched(1, -HOUR_MS, 6);
  }, 60_000);

  it('a reader whose JOB_HEARTBEAT_SECONDS is smaller than the runner’s never records JobRunnerLost', async () => {
    await healthyJobWatched(5, 0, 14);
  }, 60_000);

  it('a dead runner whose clock was an hour ahead is still found lost', async () => {
    backends = await startBackends();
    const runner = await host(1, HOUR_MS);
    const j = await seedJob(60);
    await until(
      () => statusOf(j),
      (status) => status === 'InProgress',
      'the runner’s claim',
    );
    const reader = await host(1);
    runner.child.kill('SIGKILL');
    await runner.stop();
    // Four heartbeats of 1 s by the service's clock; by the dead runner's own stamp it would take an hour.
    const seen = await watchThrough(reader, j);
    expect(seen.at(-1)).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobRunnerLost' } });
  }, 60_000);
});

/** The default ratio: a 60 s lease against a lost-runner threshold of 4 × 30 s; here 2 s against 4 × 1 s. */
const SHORT_LEASE = { LOCAL_HOST_QUEUE_LEASE_SECONDS: '2' };

describe('a redelivered message keeps watch over a running job', () => {
  it('records a runner killed mid-job Failed JobRunnerLost by the queue alone, with no Get', async () => {
    backends = await startBackends();
    const runner = await host(1, undefined, SHORT_LEASE);
    const j = await seedJob(60);
    await until(
      () => statusOf(j),
      (status) => status === 'InProgress',
      'the runner’s claim',
    );
    const other = await host(1, undefined, SHORT_LEASE);
    runner.child.kill('SIGKILL');
    await runner.stop();
    // The message comes back within a lease (2 s) while the heartbeat is still fresh; only a watch sees the loss.
    await until(
      () => statusOf(j),
      (status) => status !== 'InProgress',
      'the lost runner recorded',
      200,
    );
    const row = await backends.table.getEntity(j.itemId, j.jobInstanceId);
    expect(row.Status).toBe('Failed');
    expect(JSON.parse(String(row.ErrorDetails))).toMatchObject({ errorCode: 'JobRunnerLost' });
    expect(other.output()).toContain('keeping watch');
  }, 60_000);

  it('leaves a healthy long job alone: it completes, and the watch ends with it', async () => {
    backends = await startBackends();
    const j = await seedJob(8);
    // A second message for the job, dequeued once by no host (as if its host had died): it comes back redelivered.
    const queue = await jobQueue();
    await queue.sendMessage(encodeJobMessage(j));
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 2, visibilityTimeout: 1 });
    expect(receivedMessageItems).toHaveLength(2);
    const runner = await host(1, undefined, SHORT_LEASE);
    await until(
      () => statusOf(j),
      (status) => status !== 'NotStarted' && status !== 'InProgress',
      'the end',
      200,
    );
    expect(await statusOf(j)).toBe('Completed');
    expect(runner.output()).toContain('keeping watch');
    await until(
      async () => (await queue.getProperties()).approximateMessagesCount ?? 0,
      (n) => n === 0,
      'the watch to end',
      200,
    );
  }, 60_000);
});
