import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConflictError,
  ItemConflictError,
  ItemDeletedError,
  StorageUnavailableError,
} from '../../../src/fabric/errors';
import { JobInstances, type JobEnqueuer, type JobGate } from '../../../src/jobs/jobInstances';
import { toJobEntity, type JobKey, type JobRecord } from '../../../src/jobs/jobRow';
import { JobStateStore } from '../../../src/jobs/jobStateStore';
import { JobStateWriter } from '../../../src/jobs/jobStateWriter';
import { JOB_NOT_FOUND_STATE, type PollingUser } from '../../../src/jobs/lifecycle';
import { collectingLog, FORECAST_FAILED, HEARTBEAT_SECONDS, jobRecord, newJob, T0 } from '../../fixtures/jobs';
import { MemoryTable } from '../../fixtures/memoryTable';

const NOW = new Date(T0.getTime() + 3_600_000);
const LOST_AFTER_MS = 4 * HEARTBEAT_SECONDS * 1000;

let table: MemoryTable;
let enqueue: ReturnType<typeof vi.fn<(job: JobKey) => Promise<void>>>;
let jobs: JobInstances;
/** What the item's row says when a Create reads it after its insert. */
let gate: JobGate;

beforeEach(() => {
  gate = 'allowed';
  table = new MemoryTable();
  enqueue = vi.fn(async () => {});
  const queue: JobEnqueuer = { enqueue };
  const writer = new JobStateWriter(table.client, { now: () => NOW, deadlineMs: 10_000 });
  jobs = new JobInstances(new JobStateStore(table.client), writer, queue, HEARTBEAT_SECONDS, async () => gate);
});

/** A row already in the table, of the caller's unless the test changes its owner. */
function stored(change: Partial<JobRecord> = {}): JobRecord {
  const record = jobRecord(change);
  table.put(toJobEntity(record));
  return record;
}

/**
 * A row the storage service last wrote more than four beats before the reads
 * that follow: written, then the service's clock (which the memory table
 * stamps rows and answers with) moved on.
 */
function storedThenSilent(change: Partial<JobRecord>): JobRecord {
  vi.useFakeTimers({ toFake: ['Date'] });
  const record = stored(change);
  vi.setSystemTime(Date.now() + LOST_AFTER_MS + 2000);
  return record;
}

afterEach(() => {
  vi.useRealTimers();
});

const rowOf = (job: JobKey) => table.row(job.itemId, job.jobInstanceId);
const enqueuedKeys = () => enqueue.mock.calls.map(([job]) => `${job.itemId}/${job.jobInstanceId}`);

describe('create', () => {
  it('inserts the job NotStarted and enqueues it once', async () => {
    const job = newJob({ creationPayload: '{"horizon":12}', invokeType: 'Manual' });
    const log = collectingLog();
    await jobs.create(job, log);
    expect(rowOf(job)).toMatchObject({ Status: 'NotStarted', CreationPayload: '{"horizon":12}', InvokeType: 'Manual' });
    expect(enqueuedKeys()).toEqual([`${job.itemId}/${job.jobInstanceId}`]);
    expect(log.transitions).toEqual([
      expect.objectContaining({ previousStatus: 'None', jobStatus: 'NotStarted', jobInstanceId: job.jobInstanceId }),
    ]);
  });

  it('a retry by the same owner while the job has not started is accepted and enqueues again', async () => {
    const job = newJob();
    await jobs.create(job, collectingLog());
    const row = rowOf(job);
    const log = collectingLog();
    await jobs.create(job, log);
    expect(enqueue).toHaveBeenCalledTimes(2);
    expect(rowOf(job)).toEqual(row);
    expect(log.transitions).toEqual([]);
    expect(log.text()).toContain('already exists (NotStarted); a retry of the same Create');
  });

  it.each(['InProgress', 'Completed', 'Cancelled'] as const)(
    'a retry by the same owner once the job is %s is accepted and enqueues nothing',
    async (status) => {
      const record = stored({ status, startTimeUtc: status === 'Cancelled' ? undefined : T0 });
      await jobs.create({ ...record, status: 'NotStarted' }, collectingLog());
      expect(enqueue).not.toHaveBeenCalled();
      expect(rowOf(record)?.Status).toBe(status);
    },
  );

  it.each([
    ['another tenant', { tenantId: randomUUID() }],
    ['another workspace', { workspaceId: randomUUID() }],
    ['another item type', { itemType: 'Contoso.Report' }],
    ['another job type', { jobType: 'render' }],
  ])('the same ids under %s: 409 JobInstanceConflict, nothing enqueued or changed', async (_name, change) => {
    const record = stored();
    const row = rowOf(record);
    const attempt = jobs.create({ ...record, ...change, status: 'NotStarted' }, collectingLog());
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toMatchObject({ status: 409, errorCode: 'JobInstanceConflict' });
    expect(enqueue).not.toHaveBeenCalled();
    expect(rowOf(record)).toEqual(row);
  });

  it('keeps the row when the enqueue fails, so that a retry of the Create sends the message', async () => {
    const job = newJob();
    enqueue.mockRejectedValueOnce(new StorageUnavailableError('queue down'));
    await expect(jobs.create(job, collectingLog())).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(rowOf(job)?.Status).toBe('NotStarted');
    await jobs.create(job, collectingLog());
    expect(enqueue).toHaveBeenCalledTimes(2);
  });

  it('a storage outage is a StorageUnavailableError and enqueues nothing', async () => {
    table.failNext('createEntity');
    await expect(jobs.create(newJob(), collectingLog())).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(enqueue).not.toHaveBeenCalled();
  });
});

describe('state', () => {
  it("answers the caller's job as the contract's state, and notes its status on the request", async () => {
    const record = stored({ status: 'Failed', startTimeUtc: T0, endTimeUtc: NOW, errorDetails: FORECAST_FAILED });
    const log = collectingLog();
    expect(await jobs.state(record, log)).toEqual({
      status: 'Failed',
      startTimeUtc: T0.toISOString(),
      endTimeUtc: NOW.toISOString(),
      errorDetails: FORECAST_FAILED,
    });
    expect(log.annotations).toEqual([{ jobStatus: 'Failed' }]);
    expect(log.transitions).toEqual([]);
  });

  it('answers a missing job JobInstanceNotFound', async () => {
    const log = collectingLog();
    expect(await jobs.state(newJob(), log)).toEqual(JOB_NOT_FOUND_STATE);
    expect(log.text()).toContain('no row; answering JobInstanceNotFound');
  });

  it("answers another owner's job exactly like a missing one", async () => {
    const record = stored();
    const log = collectingLog();
    expect(await jobs.state({ ...record, tenantId: randomUUID() }, log)).toEqual(JOB_NOT_FOUND_STATE);
    expect(log.text()).toContain('the row is not of this tenant');
  });

  it('answers a row whose owner columns are unreadable like a missing one, with an error line', async () => {
    const record = stored();
    table.put({ ...rowOf(record)!, TenantId: 'not-a-guid' });
    const log = collectingLog();
    expect(await jobs.state(record, log)).toEqual(JOB_NOT_FOUND_STATE);
    expect(log.lines.filter((line) => line.level === 'error')).toHaveLength(1);
  });

  it('records a lost runner as Failed JobRunnerLost, and says so on the request', async () => {
    const record = storedThenSilent({ status: 'InProgress', startTimeUtc: T0, heartbeatUtc: T0 });
    const log = collectingLog();
    const state = await jobs.state(record, log);
    expect(state).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobRunnerLost' } });
    expect(rowOf(record)?.Status).toBe('Failed');
    expect(log.annotations).toEqual([{ jobStatus: 'Failed' }]);
    expect(log.transitions).toEqual([expect.objectContaining({ previousStatus: 'InProgress', jobStatus: 'Failed' })]);
  });

  it('leaves a running job with a recent heartbeat as it is', async () => {
    const record = stored({
      status: 'InProgress',
      startTimeUtc: T0,
      heartbeatUtc: new Date(NOW.getTime() - LOST_AFTER_MS),
    });
    const row = rowOf(record);
    expect((await jobs.state(record, collectingLog())).status).toBe('InProgress');
    expect(rowOf(record)).toEqual(row);
  });

  describe("a poll by the job's own user whose token would refresh the stored one", () => {
    const OID = 'a1a1a1a1-0000-4000-8000-00000000a001';
    const USER_TENANT = '3c9e4a1b-2222-4222-8222-00000000cccc';
    const pollOf = (): PollingUser => ({
      tenantId: USER_TENANT,
      userObjectId: OID,
      expiresOn: new Date(NOW.getTime() + 3_600_000),
      seal: () => 'a1.sealed-by-the-poll',
    });
    const running = () =>
      stored({
        tenantId: USER_TENANT,
        status: 'InProgress',
        startTimeUtc: T0,
        heartbeatUtc: NOW,
        userObjectId: OID,
        userAssertion: 'a1.sealed-at-create',
        userAssertionExpiresUtc: new Date(NOW.getTime() + 60_000),
      });

    it('refreshes it', async () => {
      const record = running();
      const log = collectingLog();
      expect((await jobs.state(record, log, pollOf())).status).toBe('InProgress');
      expect(rowOf(record)?.UserAssertion).toBe('a1.sealed-by-the-poll');
      expect(log.annotations).toContainEqual({ userToken: 'refreshed' });
    });

    // A poll must always answer 200 with the job's state (OBO.md): the refresh is a favour, not the answer.
    it.each([
      ['storage fails the write', () => table.failNext('updateEntity', 5)],
      [
        'every write loses an ETag race',
        () => table.beforeWrite((write) => void table.put({ ...table.row(write.partitionKey, write.rowKeys[0]!)! }), 5),
      ],
    ])('answers the state it read when %s, with a warning, the stored token left', async (_name, breakWrites) => {
      const record = running();
      breakWrites();
      const log = collectingLog();
      expect(await jobs.state(record, log, pollOf())).toMatchObject({ status: 'InProgress' });
      expect(rowOf(record)?.UserAssertion).toBe('a1.sealed-at-create');
      expect(log.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
        expect.stringContaining("the user's token was not refreshed from this poll"),
      ]);
      expect(log.annotations).not.toContainEqual({ userToken: 'refreshed' });
    });

    it('still fails when the write it could not make was a lost runner', async () => {
      const record = storedThenSilent({
        tenantId: USER_TENANT,
        status: 'InProgress',
        startTimeUtc: T0,
        heartbeatUtc: T0,
        userObjectId: OID,
        userAssertion: 'a1.sealed-at-create',
        userAssertionExpiresUtc: new Date(NOW.getTime() + 60_000),
      });
      table.failNext('updateEntity', 5);
      await expect(jobs.state(record, collectingLog(), pollOf())).rejects.toBeInstanceOf(StorageUnavailableError);
    });
  });
});

describe('cancel', () => {
  it.each([
    ['NotStarted', {}],
    ['InProgress', { status: 'InProgress', startTimeUtc: T0, heartbeatUtc: NOW }],
  ] as [string, Partial<JobRecord>][])('cancels a %s job', async (previousStatus, change) => {
    const record = stored(change);
    const log = collectingLog();
    expect(await jobs.cancel(record, log)).toMatchObject({ status: 'Cancelled', endTimeUtc: NOW.toISOString() });
    expect(rowOf(record)?.Status).toBe('Cancelled');
    expect(log.annotations).toEqual([{ jobStatus: 'Cancelled' }]);
    expect(log.transitions).toEqual([expect.objectContaining({ previousStatus, jobStatus: 'Cancelled' })]);
    expect(log.text()).toContain(': cancelled');
  });

  it.each([
    ['Completed', { status: 'Completed', startTimeUtc: T0, endTimeUtc: T0 }],
    ['Failed', { status: 'Failed', startTimeUtc: T0, endTimeUtc: T0, errorDetails: FORECAST_FAILED }],
    ['Cancelled', { status: 'Cancelled', endTimeUtc: T0 }],
  ] as [string, Partial<JobRecord>][])('leaves a %s job as it is and answers its state', async (status, change) => {
    const record = stored(change);
    const row = rowOf(record);
    const log = collectingLog();
    expect((await jobs.cancel(record, log)).status).toBe(status);
    expect(rowOf(record)).toEqual(row);
    expect(log.transitions).toEqual([]);
    expect(log.annotations).toEqual([{ jobStatus: status }]);
    expect(log.text()).toContain(`not cancelled, ${status}`);
  });

  it('records a lost runner instead of cancelling it', async () => {
    const record = storedThenSilent({ status: 'InProgress', startTimeUtc: T0, heartbeatUtc: T0 });
    expect(await jobs.cancel(record, collectingLog())).toMatchObject({
      status: 'Failed',
      errorDetails: { errorCode: 'JobRunnerLost' },
    });
  });

  it("answers a missing or another owner's job JobInstanceNotFound and writes nothing", async () => {
    const record = stored();
    const row = rowOf(record);
    expect(await jobs.cancel(newJob(), collectingLog())).toEqual(JOB_NOT_FOUND_STATE);
    expect(await jobs.cancel({ ...record, jobType: 'render' }, collectingLog())).toEqual(JOB_NOT_FOUND_STATE);
    expect(rowOf(record)).toEqual(row);
    expect(table.callsOf('updateEntity')).toEqual([]);
  });

  it('a Cancel that loses a race to the runner finishing answers the finished state', async () => {
    const record = stored({ status: 'InProgress', startTimeUtc: T0, heartbeatUtc: NOW });
    table.beforeWrite(() => {
      table.put({ ...rowOf(record)!, Status: 'Completed', EndTimeUtc: NOW });
    });
    const log = collectingLog();
    expect((await jobs.cancel(record, log)).status).toBe('Completed');
    expect(log.transitions).toEqual([]);
  });
});

describe('create, and the item row read after the insert', () => {
  it("refuses a job of another owner's item with 409 ItemConflict and removes the row it inserted", async () => {
    const job = newJob();
    gate = 'foreign';
    await expect(jobs.create(job, collectingLog())).rejects.toBeInstanceOf(ItemConflictError);
    expect(rowOf(job)).toBeUndefined();
    expect(enqueue).not.toHaveBeenCalled();
  });

  it('refuses a job of a deleted item with 409 ItemDeleted and removes the row it inserted', async () => {
    const job = newJob();
    gate = 'deleted';
    await expect(jobs.create(job, collectingLog())).rejects.toBeInstanceOf(ItemDeletedError);
    expect(rowOf(job)).toBeUndefined();
    expect(enqueue).not.toHaveBeenCalled();
  });

  it('answers a retry after the item was deleted with the job as it is, neither refused nor enqueued again (the delete owns its row)', async () => {
    const job = newJob();
    await jobs.create(job, collectingLog());
    gate = 'deleted';
    const record = await jobs.create(job, collectingLog());
    expect(record.status).toBe('NotStarted');
    expect(rowOf(job)).toBeDefined();
    expect(enqueue).toHaveBeenCalledTimes(1);
  });

  it('a same-owner retry whose row a delete removes between its insert and its read inserts again, never 409 JobInstanceConflict', async () => {
    const job = newJob();
    await jobs.create(job, collectingLog());
    // The retry's insert meets the row; a DeleteItem removes it before the retry reads it.
    const original = table.client.getEntity.bind(table.client);
    let removed = false;
    table.client.getEntity = (async (...args: Parameters<typeof original>) => {
      if (!removed) {
        removed = true;
        table.remove(job.itemId, job.jobInstanceId);
      }
      return original(...args);
    }) as typeof original;
    const record = await jobs.create(job, collectingLog());
    expect(record.status).toBe('NotStarted');
    expect(rowOf(job)).toBeDefined();
  });
});

describe('requests racing a delete', () => {
  it('Cancel whose row is deleted between its read and its write answers the JobInstanceNotFound state, not 500', async () => {
    const record = stored({ status: 'InProgress', heartbeatUtc: NOW });
    table.beforeWrite(() => table.remove(record.itemId, record.jobInstanceId), 1);
    expect(await jobs.cancel(record, collectingLog())).toEqual(JOB_NOT_FOUND_STATE);
  });
});
