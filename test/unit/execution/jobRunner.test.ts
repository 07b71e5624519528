import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StorageUnavailableError } from '../../../src/fabric/errors';
import { JobRunner, OUTCOME_WRITE_ATTEMPTS } from '../../../src/execution/jobRunner';
import { JobFailure, type JobHandler } from '../../../src/handlers/jobHandler';
import { HandlerRegistry } from '../../../src/handlers/registry';
import { toJobEntity, type JobKey } from '../../../src/jobs/jobRow';
import { JobStateWriter } from '../../../src/jobs/jobStateWriter';
import { cancelUnlessTerminal, JOB_HANDLER_ERROR } from '../../../src/jobs/lifecycle';
import {
  collectingLog,
  FORECAST_FAILED,
  HEARTBEAT_SECONDS,
  ITEM_TYPE,
  JOB_TYPE,
  jobRecord,
  newJob,
  T0,
  untilAborted,
} from '../../fixtures/jobs';
import { MemoryTable } from '../../fixtures/memoryTable';

const RETRY_DELAY_MS = 50;
const BEAT_MS = HEARTBEAT_SECONDS * 1000;

let table: MemoryTable;
let writer: JobStateWriter;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  table = new MemoryTable();
  // As the app builds it: with a deadline, a storage failure is a StorageUnavailableError.
  writer = new JobStateWriter(table.client, { deadlineMs: 10_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function runnerWith(handler: JobHandler | undefined) {
  const handlers = new HandlerRegistry();
  if (handler) handlers.job(ITEM_TYPE, JOB_TYPE, handler);
  return new JobRunner(writer, handlers, HEARTBEAT_SECONDS, { outcomeRetryDelayMs: RETRY_DELAY_MS });
}

/** A NotStarted job in the table, and the message that names it. */
async function queuedJob(creationPayload?: string): Promise<JobKey> {
  const { itemId, jobInstanceId } = await writer.create(newJob({ creationPayload }));
  return { itemId, jobInstanceId };
}

const rowOf = async (job: JobKey) => (await writer.read(job.itemId, job.jobInstanceId)).record;

/** Advances the fake clock in small steps until `promise` settles (retry pauses are timers). */
async function settle<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let step = 0; step < 1000 && !settled; step++) await vi.advanceTimersByTimeAsync(10);
  return promise;
}

describe('a claimed job', () => {
  it('runs its handler once, with the job, and completes', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const job = await queuedJob('{"horizon":12}');
    const log = collectingLog();
    await settle(runnerWith(handler).run(job, log));

    expect(handler).toHaveBeenCalledTimes(1);
    const [given, context] = handler.mock.calls[0];
    expect(given).toMatchObject({ ...job, itemType: ITEM_TYPE, jobType: JOB_TYPE, creationPayload: { horizon: 12 } });
    expect(context.signal.aborted).toBe(false);
    expect(await rowOf(job)).toMatchObject({ status: 'Completed', startTimeUtc: T0, endTimeUtc: T0 });
    expect(log.transitions.map((t) => `${t.previousStatus} -> ${t.jobStatus}`)).toEqual([
      'NotStarted -> InProgress',
      'InProgress -> Completed',
    ]);
  });

  it('a second message for the same job runs nothing and writes nothing', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const job = await queuedJob();
    const runner = runnerWith(handler);
    await settle(runner.run(job, collectingLog()));
    const completed = table.row(job.itemId, job.jobInstanceId);

    const log = collectingLog();
    await settle(runner.run(job, log));
    expect(handler).toHaveBeenCalledTimes(1);
    expect(table.row(job.itemId, job.jobInstanceId)).toEqual(completed);
    expect(log.transitions).toEqual([]);
    expect(log.text()).toContain('not run: it is Completed');
  });

  it('two messages at once: one claim wins, the handler runs once', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const job = await queuedJob();
    const runner = runnerWith(handler);
    await settle(Promise.all([runner.run(job, collectingLog()), runner.run(job, collectingLog())]));
    expect(handler).toHaveBeenCalledTimes(1);
    expect((await rowOf(job)).status).toBe('Completed');
  });

  it('beats while the handler runs, and stops beating once the outcome is written', async () => {
    let finish!: () => void;
    const handler = () => new Promise<void>((resolve) => (finish = resolve));
    const job = await queuedJob();
    const running = runnerWith(handler).run(job, collectingLog());
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect((await rowOf(job)).heartbeatUtc).toEqual(new Date(T0.getTime() + BEAT_MS));
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect((await rowOf(job)).heartbeatUtc).toEqual(new Date(T0.getTime() + 2 * BEAT_MS));

    finish();
    await running;
    expect((await rowOf(job)).status).toBe('Completed');
    const calls = table.calls.length;
    await vi.advanceTimersByTimeAsync(BEAT_MS * 10);
    expect(table.calls.slice(calls), 'no storage call after the run').toEqual([]);
  });
});

describe('a job whose row changes while the handler runs', () => {
  it('is aborted at the next beat when it was cancelled, and stays Cancelled', async () => {
    const { handler, started, signals } = untilAborted();
    const job = await queuedJob();
    const log = collectingLog();
    const running = runnerWith(handler).run(job, log);
    await started;
    await writer.update(job.itemId, job.jobInstanceId, cancelUnlessTerminal);
    expect(signals[0].aborted, 'not before the next beat').toBe(false);

    await vi.advanceTimersByTimeAsync(BEAT_MS);
    await running;
    expect(signals[0].aborted).toBe(true);
    expect((await rowOf(job)).status).toBe('Cancelled');
    expect(log.text()).toContain('the job stays Cancelled');
    expect(log.transitions.map((t) => t.jobStatus)).toEqual(['InProgress']);
  });

  it('is aborted at the next beat when its row was deleted, and nothing is written again', async () => {
    const { handler, started, signals } = untilAborted();
    const job = await queuedJob();
    const log = collectingLog();
    const running = runnerWith(handler).run(job, log);
    await started;
    await table.deleteEntity(job.itemId, job.jobInstanceId);

    await vi.advanceTimersByTimeAsync(BEAT_MS);
    await running;
    expect(signals[0].aborted).toBe(true);
    expect(table.row(job.itemId, job.jobInstanceId)).toBeUndefined();
    expect(log.text()).toContain('the row was deleted while the handler ran');
  });
});

describe('writing the outcome', () => {
  it(`is tried again on StorageUnavailableError, up to ${OUTCOME_WRITE_ATTEMPTS} times`, async () => {
    const job = await queuedJob();
    const log = collectingLog();
    // The claim has been written when the handler runs: only the outcome's writes fail.
    const handler = async () => void table.failNext('updateEntity', OUTCOME_WRITE_ATTEMPTS - 1);
    await settle(runnerWith(handler).run(job, log));
    expect((await rowOf(job)).status).toBe('Completed');
    const warnings = log.lines.filter((line) => line.level === 'warn').map((line) => line.message);
    expect(warnings).toHaveLength(OUTCOME_WRITE_ATTEMPTS - 1);
    expect(warnings[0]).toMatch(`writing the outcome failed (attempt 1 of ${OUTCOME_WRITE_ATTEMPTS})`);
  });

  it('lets the StorageUnavailableError through after the last attempt, so the message is retried', async () => {
    const job = await queuedJob();
    const handler = async () => void table.failNext('updateEntity', OUTCOME_WRITE_ATTEMPTS);
    const run = settle(runnerWith(handler).run(job, collectingLog()));
    await expect(run).rejects.toBeInstanceOf(StorageUnavailableError);
    expect((await rowOf(job)).status).toBe('InProgress');
    expect(table.callsOf('updateEntity')).toHaveLength(1 + OUTCOME_WRITE_ATTEMPTS);
  });

  it('waits between two attempts', async () => {
    const job = await queuedJob();
    const handler = async () => void table.failNext('updateEntity', 1);
    const running = runnerWith(handler).run(job, collectingLog());
    await vi.advanceTimersByTimeAsync(RETRY_DELAY_MS - 1);
    expect((await rowOf(job)).status).toBe('InProgress');
    await vi.advanceTimersByTimeAsync(1);
    await running;
    expect((await rowOf(job)).status).toBe('Completed');
  });
});

describe('how a handler ends', () => {
  it('a valid JobFailure fails the job with its details', async () => {
    const job = await queuedJob();
    const handler = async () => {
      throw new JobFailure({ errorCode: FORECAST_FAILED.errorCode, message: FORECAST_FAILED.message });
    };
    await settle(runnerWith(handler).run(job, collectingLog()));
    expect(await rowOf(job)).toMatchObject({ status: 'Failed', errorDetails: FORECAST_FAILED });
  });

  it.each([
    [
      'a JobFailure whose errorCode is not a word',
      () => new JobFailure({ errorCode: 'not a code', message: 'm' }),
      /JobFailure whose details are not a contract ErrorDetails: "not a code"/,
    ],
    [
      'any other throw',
      () => new TypeError('model is undefined'),
      /the handler threw: .*TypeError: model is undefined/,
    ],
    ['a throw of something that is not an Error', () => 'a string', /the handler threw: .*a string/],
  ])('%s fails the job with JobHandlerError, the why in the log only', async (_name, thrown, logged) => {
    const job = await queuedJob();
    const log = collectingLog();
    const handler = async function failingHandler() {
      throw thrown();
    };
    await settle(runnerWith(handler).run(job, log));
    const row = await rowOf(job);
    expect(row).toMatchObject({ status: 'Failed' });
    expect(row.errorDetails).toEqual(JOB_HANDLER_ERROR);
    expect(log.lines.filter((line) => line.level === 'error').map((line) => line.message)).toEqual([
      expect.stringMatching(logged),
    ]);
  });

  it("keeps an Error's stack in the log and out of the row", async () => {
    const job = await queuedJob();
    const log = collectingLog();
    const handler = async () => {
      throw new Error('boom');
    };
    await settle(runnerWith(handler).run(job, log));
    expect(log.text()).toMatch(/Error: boom\\n\s+at /);
    expect(JSON.stringify(table.row(job.itemId, job.jobInstanceId))).not.toMatch(/boom|\bat /);
  });

  it('a row whose job type has no handler fails UnknownJobType, as System', async () => {
    const job = await queuedJob();
    await settle(runnerWith(undefined).run(job, collectingLog()));
    expect((await rowOf(job)).errorDetails).toMatchObject({ errorCode: 'UnknownJobType', source: 'System' });
  });
});

describe('rows the runner does not run', () => {
  it('a claim that finds a lost runner records JobRunnerLost and runs nothing', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const lost = jobRecord({ status: 'InProgress', startTimeUtc: T0, heartbeatUtc: T0 });
    table.put(toJobEntity(lost));
    // The service's clock: the row was last written over four beats before this read.
    vi.setSystemTime(Date.now() + 4 * BEAT_MS + 2000);
    const log = collectingLog();
    await settle(runnerWith(handler).run(lost, log));
    expect(handler).not.toHaveBeenCalled();
    expect((await rowOf(lost)).errorDetails?.errorCode).toBe('JobRunnerLost');
    expect(log.text()).toContain('its runner was lost');
  });

  it('a claim that finds a running job with a fresh heartbeat runs nothing and writes nothing', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const running = jobRecord({ status: 'InProgress', startTimeUtc: T0, heartbeatUtc: T0 });
    table.put(toJobEntity(running));
    await settle(runnerWith(handler).run(running, collectingLog()));
    expect(handler).not.toHaveBeenCalled();
    expect(table.callsOf('updateEntity')).toEqual([]);
  });

  it('a message whose row is gone is dropped quietly', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const log = collectingLog();
    await settle(runnerWith(handler).run({ itemId: jobRecord().itemId, jobInstanceId: jobRecord().itemId }, log));
    expect(handler).not.toHaveBeenCalled();
    expect(log.lines).toEqual([]);
  });

  it('a corrupt row drops the message with an error line instead of retrying it', async () => {
    const job = await queuedJob();
    table.put({ ...table.row(job.itemId, job.jobInstanceId)!, Status: 'Running' });
    const log = collectingLog();
    await settle(runnerWith(async () => {}).run(job, log));
    expect(log.text()).toMatch(/error: the message is dropped, retrying it cannot help: .*"Running"/);
  });

  it('a storage outage during the claim is thrown, so the message is retried', async () => {
    const handler = vi.fn<JobHandler>(async () => {});
    const job = await queuedJob();
    table.failNext('getEntity');
    await expect(settle(runnerWith(handler).run(job, collectingLog()))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(handler).not.toHaveBeenCalled();
  });
});

describe('giveUp (the poison queue)', () => {
  it('marks a NotStarted job Failed JobCouldNotStart', async () => {
    const job = await queuedJob();
    const log = collectingLog();
    await settle(runnerWith(undefined).giveUp(job, log));
    expect(await rowOf(job)).toMatchObject({ status: 'Failed', endTimeUtc: T0 });
    expect((await rowOf(job)).errorDetails).toMatchObject({ errorCode: 'JobCouldNotStart', isPermanent: false });
    expect(log.transitions).toEqual([expect.objectContaining({ previousStatus: 'NotStarted', jobStatus: 'Failed' })]);
  });

  it('leaves a job that has ended as it is', async () => {
    const job = await queuedJob();
    const runner = runnerWith(async () => {});
    await settle(runner.run(job, collectingLog()));
    const log = collectingLog();
    await settle(runner.giveUp(job, log));
    expect((await rowOf(job)).status).toBe('Completed');
    expect(log.text()).toContain('left Completed');
  });
});
