/**
 * Jobs under faults and load, end to end: the job queue stopped and back,
 * a host process killed (SIGKILL) in the middle of a job, and 200 jobs at
 * once. Times are printed as figures, never asserted.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@azure/storage-queue';
import { until } from '../fixtures/until';
import { afterEach, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { calculateForecast, FORECAST_SCOPES } from '../../src/handlers/forecast';
import type { Job } from '../../src/handlers/jobHandler';
import { HandlerRegistry } from '../../src/handlers/registry';
import { encodeJobMessage } from '../../src/execution/jobQueue';
import { expectUnavailable, figure } from '../fixtures/faultRun';
import { startHostProcess, type HostProcess } from '../fixtures/hostProcess';
import { get } from '../fixtures/http';
import {
  jobPath,
  SEED,
  startBackends,
  startStack,
  USER_TENANT,
  type Backends,
  type TestStack,
} from '../fixtures/stack';
import { startStorageProxy, tablePortOf, type StorageProxy } from '../fixtures/storageProxy';
import { azuriteConnectionString } from '../fixtures/tables';
import { tokenFactory } from '../fixtures/tokens';

let stack: TestStack | undefined;
let azurite: RunningAzurite | undefined;
let hosts: HostProcess[] = [];
let backends: Backends | undefined;
let proxy: StorageProxy | undefined;
afterEach(async () => {
  await stack?.close();
  await proxy?.close();
  await Promise.all(hosts.map((host) => host.stop()));
  await backends?.jwks.close();
  await azurite?.stop();
  stack = azurite = backends = proxy = undefined;
  hosts = [];
});

const job = (jobType = SEED.jobType) => ({ ...SEED, jobType, jobInstanceId: randomUUID() });

describe('the job queue stops and comes back', () => {
  it('answers Create 503 with Retry-After while the queue is down, keeps the row NotStarted, and a retried Create enqueues and runs the job', async () => {
    azurite = await startAzurite();
    const s = (stack = await startStack({ JobQueue: azurite.connectionString }));
    const queue = () => new QueueClient(azurite!.connectionString, s.settings.JOB_QUEUE_NAME);
    const j = job();
    const body = { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } };

    const { port, queuePort } = azurite;
    await azurite.stop();
    const started = Date.now();
    const down = await s.send('POST', jobPath(j), body, s.headers());
    figure(`job queue stopped: Create answered ${down.status} in ${Date.now() - started} ms`);
    expectUnavailable(down, 'StorageUnavailable');
    expect((await s.table.getEntity(j.itemId, j.jobInstanceId)).Status).toBe('NotStarted');

    // The queue comes back as the deployment has it: the service and its queue.
    azurite = await startAzurite({ port, queuePort });
    await queue().createIfNotExists();
    const retried = await s.send('POST', jobPath(j), body, s.headers());
    expect(retried.status).toBe(202);
    const done = await until(
      async () => (await s.get(jobPath(j), s.headers())).json,
      (state) => state.status === 'Completed',
      'Completed',
    );
    expect(done.status).toBe('Completed');
  }, 60_000);
});

describe('a host process killed in the middle of a job', () => {
  it('ends the job Failed JobRunnerLost, never Completed, once a fresh host looks at it', async () => {
    backends = await startBackends();
    const settings = { ...backends.settings, JOB_HEARTBEAT_SECONDS: '1' };
    const tokens = tokenFactory(backends.issuer);
    const headers = () => ({
      authorization: subjectAndAppHeader(tokens.subjectToken(), tokens.appToken()),
      'x-ms-client-tenant-id': USER_TENANT,
    });
    const first = await startHostProcess(settings);
    hosts.push(first);
    const j = job();
    const created = await get(
      `${first.baseUrl}${jobPath(j)}`,
      { ...headers(), 'content-type': 'application/json' },
      'POST',
      undefined,
      JSON.stringify({ invokeType: 'Manual', creationPayload: { durationSeconds: 20 } }),
    );
    expect(created.status).toBe(202);
    await until(
      async () => (await get(`${first.baseUrl}${jobPath(j)}`, headers())).json,
      (state) => state.status === 'InProgress',
      'InProgress',
    );

    first.child.kill('SIGKILL');
    await first.stop();
    const killedAt = Date.now();
    const second = await startHostProcess(settings);
    hosts.push(second);
    const lost = await until(
      async () => (await get(`${second.baseUrl}${jobPath(j)}`, headers())).json,
      (state) => state.status !== 'InProgress',
      'the end of InProgress',
    );
    figure(
      `host killed mid-job: JobRunnerLost recorded ${Date.now() - killedAt} ms after the kill (4 heartbeats of 1 s)`,
    );
    expect(lost).toMatchObject({
      status: 'Failed',
      errorDetails: { errorCode: 'JobRunnerLost', source: 'System', isPermanent: false },
    });
    await sleep(2000);
    expect((await get(`${second.baseUrl}${jobPath(j)}`, headers())).json.status).toBe('Failed');
  }, 60_000);
});

describe('table storage refuses while a job runs', () => {
  it('retries the message, never runs the handler twice, and ends the job in a terminal state', async () => {
    const runs = new Map<string, number>();
    const handlers = new HandlerRegistry().job(SEED.itemType, 'slow', async (j: Job) => {
      runs.set(j.jobInstanceId, (runs.get(j.jobInstanceId) ?? 0) + 1);
      await sleep(1500);
    });
    proxy = await startStorageProxy(tablePortOf(azuriteConnectionString()));
    const s = (stack = await startStack(
      { JOB_STATE_TABLE_CONNECTION_STRING: proxy.connectionString, JOB_HEARTBEAT_SECONDS: '1' },
      { handlers },
    ));
    const j = job('slow');
    expect((await s.send('POST', jobPath(j), { invokeType: 'Manual' }, s.headers())).status).toBe(202);
    await until(
      async () => (await s.table.getEntity(j.itemId, j.jobInstanceId)).Status,
      (status) => status === 'InProgress',
      'InProgress',
    );
    // Storage busy from now until well past the runner's last try at writing the outcome.
    proxy.mode = { kind: 'throttle', status: 503 };
    await sleep(12_000);
    proxy.mode = { kind: 'pass' };
    const end = await until(
      async () => (await s.table.getEntity(j.itemId, j.jobInstanceId)).Status,
      (status) => status !== 'InProgress',
      'a terminal state',
    );
    const retried = s.logs.some(
      ({ line }) => line.startsWith('local queue host: JobRunner') && line.includes(' failed: '),
    );
    figure(`storage refused during a job: it ended ${String(end)}`);
    expect(retried).toBe(true);
    expect(['Completed', 'Failed']).toContain(end);
    await sleep(1000);
    expect(runs.get(j.jobInstanceId)).toBe(1);
  }, 90_000);
});

describe('a message that always fails', () => {
  it('lands in the poison queue after maxDequeueCount tries, and its job ends Failed JobCouldNotStart', async () => {
    proxy = await startStorageProxy(tablePortOf(azuriteConnectionString()));
    // Retried at once instead of after host.json's 10 s, so five tries take seconds.
    const s = (stack = await startStack(
      { JOB_STATE_TABLE_CONNECTION_STRING: proxy.connectionString },
      { queueHostSettings: { visibilityTimeoutMs: 200, maxPollingIntervalMs: 200 } },
    ));
    const j = job();
    proxy.mode = { kind: 'throttle', status: 503 }; // the runner can never read the row
    await s.seed({ ...j, status: 'NotStarted', startTimeUtc: undefined }); // straight to Azurite, past the proxy
    await new QueueClient(s.settings.JobQueue, s.settings.JOB_QUEUE_NAME).sendMessage(encodeJobMessage(j));
    const poison = new QueueClient(s.settings.JobQueue, `${s.settings.JOB_QUEUE_NAME}-poison`);
    await until(
      () =>
        Promise.resolve(
          s.logs.some(({ line }) => line.includes(`moved to ${s.settings.JOB_QUEUE_NAME}-poison after 5 attempts`)),
        ),
      Boolean,
      'the move to the poison queue',
      600,
    );
    proxy.mode = { kind: 'pass' }; // storage back: the poison-queue function can record why
    const done = await until(
      async () => (await s.table.getEntity(j.itemId, j.jobInstanceId)).Status,
      (status) => status === 'Failed',
      'Failed',
    );
    expect(done).toBe('Failed');
    expect(JSON.parse(String((await s.table.getEntity(j.itemId, j.jobInstanceId)).ErrorDetails)).errorCode).toBe(
      'JobCouldNotStart',
    );
    await until(
      async () => (await poison.getProperties()).approximateMessagesCount ?? 0,
      (n) => n === 0,
      'an empty poison queue',
    );
  }, 90_000);
});

describe('load', () => {
  it('runs 200 jobs of 0.2 s created over 16 connections, each exactly once, and leaves no message on either queue', async () => {
    const runs = new Map<string, number>();
    const handlers = new HandlerRegistry().job(
      SEED.itemType,
      SEED.jobType,
      async (j: Job, context) => {
        runs.set(j.jobInstanceId, (runs.get(j.jobInstanceId) ?? 0) + 1);
        await calculateForecast(j, context);
      },
      { scopes: FORECAST_SCOPES },
    );
    const s = (stack = await startStack({}, { handlers }));
    const jobs = Array.from({ length: 200 }, () => job());
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) {
          const j = jobs[next++];
          const answer = await s.send(
            'POST',
            jobPath(j),
            { invokeType: 'Manual', creationPayload: { durationSeconds: 0.2 } },
            s.headers(),
          );
          expect(answer.status).toBe(202);
        }
      }),
    );
    const createdIn = Date.now() - started;
    for (const j of jobs) {
      await until(
        async () => (await s.table.getEntity(j.itemId, j.jobInstanceId)).Status,
        (status) => status === 'Completed',
        `job ${j.jobInstanceId}`,
      );
    }
    figure(
      `load: 200 Creates over 16 connections in ${createdIn} ms; all 200 Completed ${Date.now() - started} ms after the first`,
    );
    expect(jobs.map((j) => runs.get(j.jobInstanceId))).toEqual(Array(200).fill(1));
    const count = async (name: string) =>
      (await new QueueClient(s.settings.JobQueue, name).getProperties().catch(() => ({ approximateMessagesCount: 0 })))
        .approximateMessagesCount ?? 0;
    await until(
      () => count(s.settings.JOB_QUEUE_NAME),
      (n) => n === 0,
      'an empty job queue',
    );
    expect(await count(`${s.settings.JOB_QUEUE_NAME}-poison`)).toBe(0);
  }, 120_000);
});
