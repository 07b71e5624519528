/**
 * Jobs_CreateItemJobInstance and Jobs_CancelItemJobInstance over real HTTP
 * through the local host, with real Azurite tables and queues, and the job
 * runner running on the queue as the Functions host runs it.
 */
import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import fc from 'fast-check';
import { until } from '../fixtures/until';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandlerRegistry } from '../../src/handlers/registry';
import { JobFailure, type Job } from '../../src/handlers/jobHandler';
import { calculateForecast, FORECAST_SCOPES } from '../../src/handlers/forecast';
import { toJobEntity } from '../../src/jobs/jobRow';
import { REJECTED, type AuthContext } from '../fixtures/authCases';
import { createAuthContext } from '../fixtures/authContext';
import { contractValidator } from '../fixtures/contractSchema';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

const isState = contractValidator('ItemJobInstanceState');
const isErrorResponse = contractValidator('ErrorResponse');
const ITEM_TYPE = SEED.itemType;

/** Handlers the tests steer: counted runs, a signal they can watch, a throw. */
const runs = new Map<string, number>();
const aborted = new Set<string>();
const handlers = new HandlerRegistry()
  .job(ITEM_TYPE, SEED.jobType, calculateForecast, { scopes: FORECAST_SCOPES })
  .job(ITEM_TYPE, 'counted', async (job: Job, { signal }) => {
    runs.set(job.jobInstanceId, (runs.get(job.jobInstanceId) ?? 0) + 1);
    const seconds = Number(job.creationPayload.seconds ?? 0);
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 20));
    if (signal.aborted) aborted.add(job.jobInstanceId);
  })
  .job(ITEM_TYPE, 'throws', async () => {
    throw new TypeError('secret internal detail');
  })
  .job(ITEM_TYPE, 'fails', async () => {
    throw new JobFailure({ errorCode: 'QuotaExceeded', message: 'Out of quota.', isPermanent: false });
  })
  .job(ITEM_TYPE, 'failsAtLength', async () => {
    throw new JobFailure({ errorCode: 'TooMuch', message: 'm'.repeat(40_000) });
  });

let stack: TestStack;
let queue: QueueClient;
beforeAll(async () => {
  stack = await startStack({ JOB_HEARTBEAT_SECONDS: '1' }, { handlers });
  queue = new QueueClient(stack.settings.JobQueue, stack.settings.JOB_QUEUE_NAME);
}, 30_000);
afterAll(() => stack?.close());

function job(jobType: string, jobInstanceId = randomUUID()) {
  return { ...SEED, jobType, jobInstanceId };
}

const create = (path: string, body: unknown = { invokeType: 'Manual' }, headers = stack.headers()) =>
  stack.send('POST', path, body, headers);
const state = async (path: string) => (await stack.get(path, stack.headers())).json;

/** Half of a surrogate pair without the other half: text no JSON reader or log viewer can show. */
function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

async function rowOf(j: { itemId: string; jobInstanceId: string }): Promise<Record<string, unknown> | undefined> {
  return stack.table.getEntity(j.itemId, j.jobInstanceId).catch(() => undefined);
}

describe('Jobs_CreateItemJobInstance', () => {
  it('answers 202 with no body, writes one NotStarted row with what came, and the runner completes the job', async () => {
    const j = job(SEED.jobType);
    const answer = await create(jobPath(j), {
      invokeType: 'Scheduled',
      creationPayload: { durationSeconds: 0.2 },
      unknown: 'ignored',
    });
    expect(answer.status).toBe(202);
    expect(answer.text).toBe('');
    const row = await rowOf(j);
    expect(row).toMatchObject({
      TenantId: USER_TENANT,
      WorkspaceId: SEED.workspaceId,
      ItemType: ITEM_TYPE,
      JobType: SEED.jobType,
      InvokeType: 'Scheduled',
    });
    expect(JSON.parse(String(row!.CreationPayload))).toEqual({ durationSeconds: 0.2 });
    expect(typeof row!.UserObjectId).toBe('string');
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Completed',
      'Completed',
    );
    expect(isState(done)).toBe(true);
    expect(done).toEqual({ status: 'Completed', startTimeUtc: expect.any(String), endTimeUtc: expect.any(String) });
  });

  it('is idempotent: a retried Create answers 202 again, keeps one row, and the handler runs once', async () => {
    const j = job('counted');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => create(jobPath(j), { invokeType: 'Manual', creationPayload: { seconds: 0.3 } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Completed',
      'Completed',
    );
    expect((await create(jobPath(j))).status).toBe(202);
    // Messages of the retries reach the runner too: give them time, then count.
    await until(
      async () => (await queue.getProperties()).approximateMessagesCount ?? 0,
      (n) => n === 0,
      'an empty queue',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runs.get(j.jobInstanceId)).toBe(1);
  });

  it('answers 409 JobInstanceConflict for the same id under another job type, workspace or tenant, and changes nothing', async () => {
    const j = job('counted');
    await stack.seed({ ...j, status: 'Completed', startTimeUtc: new Date(), endTimeUtc: new Date() });
    for (const other of [
      { ...j, jobType: 'fails' },
      { ...j, workspaceId: randomUUID() },
    ]) {
      const answer = await create(jobPath(other));
      expect(answer.status).toBe(409);
      expect(answer.json).toMatchObject({ errorCode: 'JobInstanceConflict', source: 'User' });
      expect(isErrorResponse(answer.json)).toBe(true);
    }
    expect((await rowOf(j))!.Status).toBe('Completed');
  });

  it('answers 400 UnknownJobType for a pair without a handler, before writing anything', async () => {
    const j = job('notRegistered');
    const answer = await create(jobPath(j));
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ errorCode: 'UnknownJobType', source: 'User', isPermanent: true });
    expect(await rowOf(j)).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"invokeType":'],
    ['not an object', '["Manual"]'],
    ['empty', ''],
    ['invokeType missing', { creationPayload: {} }],
    ['invokeType not a string', { invokeType: 7 }],
    ['invokeType not a word', { invokeType: 'Manual\r\nX' }],
    ['creationPayload not an object', { invokeType: 'Manual', creationPayload: 'x' }],
    ['creationPayload an array', { invokeType: 'Manual', creationPayload: [1] }],
    [
      'a payload longer than a Table property holds',
      { invokeType: 'Manual', creationPayload: { text: 'x'.repeat(32_768) } },
    ],
    ['nested too deeply', `{"invokeType":"Manual","creationPayload":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`],
    ['larger than 64 KiB', { invokeType: 'Manual', creationPayload: { text: 'x'.repeat(64 * 1024) } }],
  ])('answers 400 InvalidRequestBody (%s) and writes nothing', async (_name, body) => {
    const j = job(SEED.jobType);
    const answer = await create(jobPath(j), body);
    expect(answer.status).toBe(400);
    expect(answer.json.errorCode).toBe('InvalidRequestBody');
    expect(isErrorResponse(answer.json)).toBe(true);
    expect(await rowOf(j)).toBeUndefined();
  });

  it('takes a body of exactly 64 KiB and refuses one byte more (unknown properties are ignored, so padding fills it)', async () => {
    const framing = JSON.stringify({ invokeType: 'Manual', padding: '' }).length;
    const body = (extra: number) =>
      JSON.stringify({ invokeType: 'Manual', padding: ' '.repeat(64 * 1024 - framing + extra) });
    expect(Buffer.byteLength(body(0))).toBe(64 * 1024);
    expect((await create(jobPath(job(SEED.jobType)), body(0))).status).toBe(202);
    const over = await create(jobPath(job(SEED.jobType)), body(1));
    expect(over.status).toBe(400);
    expect(over.json.message).toMatch(/larger than 64 KiB/);
  });

  it('checks the path before authentication and authentication before the body', async () => {
    const badPath = await create(jobPath(job(SEED.jobType)).replace(SEED.workspaceId, 'nope'), 'not json', {});
    expect(badPath.json.errorCode).toBe('InvalidParameter');
    const unauthenticated = await create(jobPath(job(SEED.jobType)), 'not json', {});
    expect(unauthenticated.status).toBe(401);
  });
});

describe('hostile Create bodies (property-based)', () => {
  const hostileBody = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    fc.json({ depthSize: 'medium' }),
    fc.string({ unit: 'binary', maxLength: 512 }),
    fc
      .record({ invokeType: fc.anything(), creationPayload: fc.anything() }, { requiredKeys: [] })
      .map((value) => JSON.stringify(value) ?? 'null'),
    fc
      .record({
        invokeType: fc.constant('Manual'),
        creationPayload: fc.string({ maxLength: 40_000 }).map((text) => ({ text })),
      })
      .map((value) => JSON.stringify(value)),
  );

  it('always answers 202 or a well-formed 400, never a 500, and a 400 writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody, async (body) => {
        // A job type that ends at once: the demo's would run 20 s each and fill the runner for the tests after this one.
        const j = job('counted');
        const answer = await create(jobPath(j), body);
        if (answer.status === 202) return;
        expect(answer.status).toBe(400);
        expect(isErrorResponse(answer.json)).toBe(true);
        expect(['InvalidRequestBody']).toContain(answer.json.errorCode);
        expect(await rowOf(j)).toBeUndefined();
      }),
      { numRuns: 120 },
    );
  });
});

describe('authentication of Create and Cancel', () => {
  // A stack without a runner, so that whatever reached its queue stays there to be counted.
  let quiet: TestStack;
  // One context for every case: it generates a dozen RSA keys (a second or more of CPU each time).
  let ctx: AuthContext;
  beforeAll(async () => {
    quiet = await startStack({}, { handlers, queues: false });
    ctx = createAuthContext(quiet.issuer);
  });
  afterAll(async () => {
    const queued = await new QueueClient(quiet.settings.JobQueue, quiet.settings.JOB_QUEUE_NAME)
      .getProperties()
      .catch(() => undefined);
    await quiet?.close();
    expect(queued?.approximateMessagesCount ?? 0).toBe(0);
  });

  it.each(REJECTED.map((c) => [c.name, c] as const))(
    '%s: 401, nothing written, nothing enqueued',
    async (_name, authCase) => {
      const request = authCase.request(ctx);
      const headers: Record<string, string | string[]> = {};
      if (request.authorization !== undefined) headers.authorization = request.authorization;
      if (request.tenant !== undefined) headers['x-ms-client-tenant-id'] = request.tenant;
      const j = job(SEED.jobType);
      const created = await quiet.send('POST', jobPath(j), { invokeType: 'Manual' }, headers);
      const cancelled = await quiet.send('POST', `${jobPath(j)}/cancel`, undefined, headers);
      expect([created.status, cancelled.status]).toEqual([401, 401]);
      expect(created.headers['www-authenticate']).toBe('SubjectAndAppToken1.0');
      expect(await quiet.table.getEntity(j.itemId, j.jobInstanceId).catch(() => undefined)).toBeUndefined();
    },
  );
});

describe('Jobs_CancelItemJobInstance', () => {
  const cancel = (path: string) => stack.send('POST', `${path}/cancel`, undefined, stack.headers());

  it('answers the JobInstanceNotFound state for a missing or foreign job, writing nothing', async () => {
    const missing = await cancel(jobPath(job(SEED.jobType)));
    expect(missing.status).toBe(200);
    expect(missing.json).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobInstanceNotFound' } });
    const foreign = job(SEED.jobType);
    await stack.seed({ ...foreign, status: 'NotStarted', tenantId: randomUUID() });
    expect((await cancel(jobPath(foreign))).json.errorDetails.errorCode).toBe('JobInstanceNotFound');
    expect((await rowOf(foreign))!.Status).toBe('NotStarted');
  });

  it('cancels a NotStarted job with EndTimeUtc, and leaves a terminal job as it is', async () => {
    const j = job(SEED.jobType);
    await stack.seed({ ...j, status: 'NotStarted', startTimeUtc: undefined });
    const answer = await cancel(jobPath(j));
    expect(answer.status).toBe(200);
    expect(isState(answer.json)).toBe(true);
    expect(answer.json).toEqual({ status: 'Cancelled', endTimeUtc: expect.any(String) });
    const again = await cancel(jobPath(j));
    expect(again.json).toEqual(answer.json);
    const failed = job(SEED.jobType);
    const details = { errorCode: 'X', message: 'y', source: 'User' as const };
    await stack.seed({ ...failed, status: 'Failed', endTimeUtc: new Date(), errorDetails: details });
    expect((await cancel(jobPath(failed))).json).toMatchObject({ status: 'Failed', errorDetails: details });
  });

  it('reaches running code: the handler sees its signal aborted within a heartbeat, and the job stays Cancelled', async () => {
    const j = job('counted');
    await create(jobPath(j), { invokeType: 'Manual', creationPayload: { seconds: 20 } });
    await until(
      () => state(jobPath(j)),
      (s) => s.status === 'InProgress',
      'InProgress',
    );
    expect((await cancel(jobPath(j))).json.status).toBe('Cancelled');
    await until(async () => aborted.has(j.jobInstanceId), Boolean, 'the handler to see the abort');
    expect(await state(jobPath(j))).toMatchObject({ status: 'Cancelled' });
  });
});

describe("Cancel racing the job's completion", () => {
  it("leaves exactly one terminal state, and Cancel's answer is what is stored", async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const j = job('counted');
      await create(jobPath(j), { invokeType: 'Manual', creationPayload: { seconds: 0.2 } });
      await until(
        () => state(jobPath(j)),
        (s) => s.status === 'InProgress',
        'InProgress',
      );
      // Around the moment the handler returns: sometimes before, sometimes after.
      await new Promise((resolve) => setTimeout(resolve, 120 + 20 * i));
      const answer = (await stack.send('POST', `${jobPath(j)}/cancel`, undefined, stack.headers())).json;
      const stored = await until(
        () => state(jobPath(j)),
        (s) => s.status !== 'InProgress',
        'a terminal state',
      );
      expect(['Cancelled', 'Completed']).toContain(answer.status);
      expect(stored).toEqual(answer);
      outcomes.push(answer.status);
    }
    console.log(`[figure] Cancel racing completion, 8 tries: ${outcomes.join(', ')}`);
  }, 90_000);
});

describe('the job runner', () => {
  it('fails a job with the details of the JobFailure its handler throws', async () => {
    const j = job('fails');
    await create(jobPath(j));
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails).toEqual({
      errorCode: 'QuotaExceeded',
      message: 'Out of quota.',
      source: 'User',
      isPermanent: false,
    });
  });

  it('fails a job whose handler throws anything else with JobHandlerError; the stack goes to the log only', async () => {
    const j = job('throws');
    await create(jobPath(j));
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails).toMatchObject({ errorCode: 'JobHandlerError', source: 'System' });
    expect(JSON.stringify(done)).not.toContain('secret internal detail');
    expect(
      stack.logs.some(({ line }) => line.includes('secret internal detail') && line.includes(j.jobInstanceId)),
    ).toBe(true);
  });

  it('runs the demo handler: failWith fails the job with those details', async () => {
    const j = job(SEED.jobType);
    await create(jobPath(j), {
      invokeType: 'Manual',
      creationPayload: { durationSeconds: 0, failWith: { errorCode: 'NoData', message: 'No data.' } },
    });
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails).toEqual({ errorCode: 'NoData', message: 'No data.', source: 'User', isPermanent: true });
  });

  it('cuts a JobFailure message of emoji on a character boundary: the stored text and the answer are well-formed', async () => {
    const j = job(SEED.jobType);
    // 'a' first, so that the 4096-unit cut falls between the two halves of an emoji.
    const message = `a${'😀'.repeat(3000)}`;
    await create(jobPath(j), {
      invokeType: 'Manual',
      creationPayload: { durationSeconds: 0, failWith: { errorCode: 'Emoji', message } },
    });
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    const stored = JSON.parse(String((await rowOf(j))!.ErrorDetails)).message as string;
    for (const text of [done.errorDetails.message as string, stored]) {
      expect(hasLoneSurrogate(text)).toBe(false);
      expect(message.startsWith(text)).toBe(true);
      expect(text.length).toBe(4095);
    }
  });

  it('keeps a JobFailure whose message is too long to store, cut to 4096 characters, instead of losing the outcome', async () => {
    const j = job('failsAtLength');
    await create(jobPath(j));
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails).toEqual({
      errorCode: 'TooMuch',
      message: 'm'.repeat(4096),
      source: 'User',
      isPermanent: true,
    });
  });

  it('never lets a caller-chosen errorCode shape a log line: one with a line break fails the job with JobHandlerError', async () => {
    const j = job(SEED.jobType);
    const forged = 'Boom)\n2099 error forged line';
    await create(jobPath(j), {
      invokeType: 'Manual',
      creationPayload: { durationSeconds: 0, failWith: { errorCode: forged, message: 'x' } },
    });
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails.errorCode).toBe('JobHandlerError');
    await state(jobPath(j));
    expect(stack.logs.filter(({ line }) => line.includes('forged line') && line.includes('\n'))).toEqual([]);
  });

  it('runs a job once when its message is duplicated', async () => {
    const j = job('counted');
    await create(jobPath(j), { invokeType: 'Manual', creationPayload: { seconds: 0.2 } });
    const text = Buffer.from(JSON.stringify({ itemId: j.itemId, jobInstanceId: j.jobInstanceId })).toString('base64');
    await Promise.all([queue.sendMessage(text), queue.sendMessage(text)]);
    await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Completed',
      'Completed',
    );
    await until(
      async () => (await queue.getProperties()).approximateMessagesCount ?? 0,
      (n) => n === 0,
      'an empty queue',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runs.get(j.jobInstanceId)).toBe(1);
  });

  it('records a lost runner (no write for four beats, by the storage clock) as Failed JobRunnerLost on Get, through the writer', async () => {
    const j = job('counted');
    const record = {
      ...j,
      tenantId: USER_TENANT,
      status: 'InProgress' as const,
      startTimeUtc: new Date(Date.now() - 60_000),
      heartbeatUtc: new Date(Date.now() - 5_000),
      // The runner's own interval: four beats of 1 s by the service's clock, whatever the reader's setting.
      heartbeatSeconds: 1,
    };
    await stack.table.upsertEntity(toJobEntity(record), 'Replace');
    const answer = await until(
      () => state(jobPath(j)),
      (s) => s.status !== 'InProgress',
      'the lost runner recorded',
    );
    expect(answer).toMatchObject({
      status: 'Failed',
      errorDetails: { errorCode: 'JobRunnerLost', source: 'System', isPermanent: false },
    });
    expect((await rowOf(j))!.Status).toBe('Failed');
    // A row without a heartbeat (a runner of the vendor's own) is never judged lost.
    const own = job('counted');
    await stack.table.upsertEntity(toJobEntity({ ...record, ...own, heartbeatUtc: undefined }), 'Replace');
    expect((await state(jobPath(own))).status).toBe('InProgress');
  });

  it('marks the job of a message in the poison queue Failed JobCouldNotStart', async () => {
    const j = job('counted');
    await stack.seed({ ...j, status: 'NotStarted', startTimeUtc: undefined });
    const poison = new QueueClient(stack.settings.JobQueue, `${stack.settings.JOB_QUEUE_NAME}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage(
      Buffer.from(JSON.stringify({ itemId: j.itemId, jobInstanceId: j.jobInstanceId })).toString('base64'),
    );
    const done = await until(
      () => state(jobPath(j)),
      (s) => s.status === 'Failed',
      'Failed',
    );
    expect(done.errorDetails).toMatchObject({ errorCode: 'JobCouldNotStart', source: 'System' });
  });
});
