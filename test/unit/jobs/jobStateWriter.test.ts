/**
 * The writer's ETag loop and storage failures, which need a table that can be
 * made to race or fail on cue. What a real table answers (create, setStatus,
 * the transition table, two writers racing) is in
 * test/integration/jobStateWriter.test.ts and is not repeated here.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { StorageUnavailableError } from '../../../src/fabric/errors';
import { toJobEntity, type JobRecord } from '../../../src/jobs/jobRow';
import { JobStateWriter, type VersionedJob } from '../../../src/jobs/jobStateWriter';
import { cancelUnlessTerminal, heartbeatJob, type JobDecision } from '../../../src/jobs/lifecycle';
import { ConcurrentUpdateError, JobAlreadyExistsError, JobNotFoundError } from '../../../src/jobs/writerErrors';
import { jobRecord, newJob, T0 } from '../../fixtures/jobs';
import { MemoryTable, serviceError, transportError } from '../../fixtures/memoryTable';

let table: MemoryTable;
let writer: JobStateWriter;
let job: JobRecord;

beforeEach(async () => {
  table = new MemoryTable();
  writer = new JobStateWriter(table.client, { now: () => T0, deadlineMs: 10_000 });
  job = await writer.create(newJob());
});

/** Another writer changes the row's InvokeType (and so its ETag) just before each of the next `times` writes. */
function anotherWriterBeforeEachWrite(times: number) {
  let n = 0;
  table.beforeWrite(() => {
    table.put({ ...table.row(job.itemId, job.jobInstanceId)!, InvokeType: `other-${++n}` });
  }, times);
}

const decideSpy = (decide: JobDecision) => vi.fn<JobDecision>(decide);

describe('update', () => {
  it('writes the decision on the ETag it read and answers the new ETag', async () => {
    const update = await writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal);
    expect(update).toMatchObject({ changed: true, previousStatus: 'NotStarted', record: { status: 'Cancelled' } });
    expect(update.etag).toBe(table.row(job.itemId, job.jobInstanceId)?.etag);
    const [, , options] = table.callsOf('updateEntity')[0].args as [unknown, string, { etag: string }];
    expect(options.etag).not.toBe(update.etag);
  });

  it('writes nothing when the decision leaves the row as it is', async () => {
    const update = await writer.update(job.itemId, job.jobInstanceId, heartbeatJob);
    expect(update).toMatchObject({ changed: false, record: job });
    expect(update.previousStatus).toBeUndefined();
    expect(table.callsOf('updateEntity')).toEqual([]);
  });

  it('decides again on the fresh row after losing the ETag race, and keeps what the other writer wrote', async () => {
    anotherWriterBeforeEachWrite(1);
    const decide = decideSpy(cancelUnlessTerminal);
    const update = await writer.update(job.itemId, job.jobInstanceId, decide);
    expect(decide).toHaveBeenCalledTimes(2);
    expect(decide.mock.calls[1][0].invokeType).toBe('other-1');
    expect(update.record).toMatchObject({ status: 'Cancelled', invokeType: 'other-1' });
    expect(table.row(job.itemId, job.jobInstanceId)).toMatchObject({ Status: 'Cancelled', InvokeType: 'other-1' });
  });

  it('starts from a known row without reading it', async () => {
    const known: VersionedJob = await writer.read(job.itemId, job.jobInstanceId);
    const reads = table.callsOf('getEntity').length;
    await writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal, known);
    expect(table.callsOf('getEntity')).toHaveLength(reads);
  });

  it('a decision that no longer applies after the race leaves the row alone', async () => {
    // The other writer finished the job; a heartbeat decided on the old row must not resurrect it.
    table.beforeWrite(() => {
      table.put(toJobEntity({ ...job, status: 'Completed', startTimeUtc: T0, endTimeUtc: T0 }));
    });
    const running = { ...job, status: 'InProgress' as const, heartbeatUtc: T0 };
    const known = { record: running, etag: table.row(job.itemId, job.jobInstanceId)!.etag };
    const update = await writer.update(job.itemId, job.jobInstanceId, heartbeatJob, known);
    expect(update).toMatchObject({ changed: false, record: { status: 'Completed' } });
    expect(table.row(job.itemId, job.jobInstanceId)?.Status).toBe('Completed');
  });

  it('gives up with ConcurrentUpdateError after maxAttempts races lost, having written nothing', async () => {
    const limited = new JobStateWriter(table.client, { now: () => T0, deadlineMs: 10_000, maxAttempts: 3 });
    anotherWriterBeforeEachWrite(100);
    const decide = decideSpy(cancelUnlessTerminal);
    await expect(limited.update(job.itemId, job.jobInstanceId, decide)).rejects.toThrow(ConcurrentUpdateError);
    expect(decide).toHaveBeenCalledTimes(3);
    expect(table.callsOf('updateEntity')).toHaveLength(3);
    expect(table.row(job.itemId, job.jobInstanceId)?.Status).toBe('NotStarted');
  });

  it('tries 5 times by default', async () => {
    anotherWriterBeforeEachWrite(100);
    await expect(writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal)).rejects.toThrow(
      /changed on every one of 5 attempts/,
    );
  });

  it('answers JobNotFoundError for a row deleted since it was read', async () => {
    table.beforeWrite(() => table.remove(job.itemId, job.jobInstanceId));
    await expect(writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal)).rejects.toThrow(JobNotFoundError);
  });

  it('answers JobNotFoundError for a row that is not there', async () => {
    const missing = jobRecord();
    await expect(writer.update(missing.itemId, missing.jobInstanceId, cancelUnlessTerminal)).rejects.toThrow(
      JobNotFoundError,
    );
  });
});

describe('storage failures', () => {
  it.each([
    ['a transport error on the read', 'getEntity', transportError()],
    ['a transport error on the write', 'updateEntity', transportError()],
    ['a missing table (404 TableNotFound is not a missing job)', 'getEntity', serviceError(404, 'TableNotFound')],
    ['a 503 from the service', 'updateEntity', serviceError(503, 'ServerBusy')],
  ] as const)('with a deadline, %s is a StorageUnavailableError naming the call', async (_name, method, error) => {
    table.failNext(method, 1, () => error);
    const attempt = writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal);
    await expect(attempt).rejects.toBeInstanceOf(StorageUnavailableError);
    const what = method === 'getEntity' ? 'point read' : 'update';
    await expect(attempt).rejects.toMatchObject({
      logDetail: expect.stringContaining(`${what} of job ${job.itemId}/${job.jobInstanceId} in MemoryJobs failed`),
    });
  });

  it('with a deadline, an insert of an existing row is still JobAlreadyExists', async () => {
    await expect(writer.create(job)).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it("without a deadline (a runner's own writer), the SDK's error comes through as it is", async () => {
    const plain = new JobStateWriter(table.client);
    const error = transportError();
    table.failNext('updateEntity', 1, () => error);
    await expect(plain.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal)).rejects.toBe(error);
  });

  it('gives each call its deadline', async () => {
    await writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal);
    const [, , options] = table.callsOf('updateEntity')[0].args as [unknown, string, { abortSignal?: AbortSignal }];
    expect(options.abortSignal).toBeInstanceOf(AbortSignal);
    expect((table.callsOf('getEntity')[0].args[2] as { abortSignal?: AbortSignal }).abortSignal).toBeInstanceOf(
      AbortSignal,
    );
  });
});
