import type { ErrorDetails, ItemJobInstanceState } from '../fabric/contract';
import { ConflictError } from '../fabric/errors';
import type { RequestLog } from '../http/requestLog';
import { JOB_NOT_FOUND_STATE, toItemJobInstanceState, type JobCoordinates, type JobRecord } from './jobRow';
import type { JobQueue } from './jobQueue';
import type { JobStateStore } from './jobStateStore';
import { applyTransition, isTerminal } from './jobTransitions';
import type { JobDecision, JobStateWriter, JobUpdate, NewJobInstance, VersionedJob } from './jobStateWriter';
import { JobAlreadyExistsError } from './writerErrors';
import { forLog } from '../logValue';
import { jobFields, transitionFields } from '../telemetry/jobSummary';

/** A runner that missed this many heartbeats in a row is gone. */
export const LOST_AFTER_HEARTBEATS = 4;

export const RUNNER_LOST_DETAILS: ErrorDetails = Object.freeze({
  errorCode: 'JobRunnerLost',
  message: 'The job stopped while it was running (its runner was stopped, restarted or timed out). Run it again.',
  source: 'System',
  isPermanent: false,
});

/** One job instance as Fabric's path and the authenticated tenant name it. */
export interface JobAddress extends JobCoordinates {
  itemId: string;
  jobInstanceId: string;
}

/**
 * Whether the runner of an InProgress job has stopped heartbeating. A row
 * without a heartbeat was written by a runner that does not heartbeat (the
 * writer, the jobstate CLI) and is never judged lost.
 */
export function isRunnerLost(record: JobRecord, now: Date, heartbeatSeconds: number): boolean {
  if (record.status !== 'InProgress' || !record.heartbeatUtc) return false;
  return now.getTime() - record.heartbeatUtc.getTime() > LOST_AFTER_HEARTBEATS * heartbeatSeconds * 1000;
}

/** Records a lost runner as `Failed JobRunnerLost`; leaves every other row as it is. */
export function markLostRunner(heartbeatSeconds: number): JobDecision {
  return (current, now) =>
    isRunnerLost(current, now, heartbeatSeconds)
      ? applyTransition(current, 'Failed', now, RUNNER_LOST_DETAILS)
      : undefined;
}

/** Cancel, and DeleteItem before it deletes a job: NotStarted and InProgress become Cancelled; terminal states stay. */
export const cancelUnlessTerminal: JobDecision = (current, now) =>
  isTerminal(current.status) ? undefined : applyTransition(current, 'Cancelled', now);

/**
 * The job instances as Fabric's three Jobs operations see them: ownership
 * checked on every read, a lost runner recorded by whoever notices it first,
 * every write through the writer's ETag-conditional loop.
 */
export class JobInstances {
  constructor(
    private readonly store: JobStateStore,
    private readonly writer: JobStateWriter,
    private readonly queue: JobQueue,
    private readonly heartbeatSeconds: number,
  ) {}

  /** Jobs_GetItemJobInstanceState. */
  async state(job: JobAddress, log: RequestLog): Promise<ItemJobInstanceState> {
    const found = await this.readOwned(job, log);
    if (!found) return JOB_NOT_FOUND_STATE;
    const update = await this.writer.update(
      job.itemId,
      job.jobInstanceId,
      markLostRunner(this.heartbeatSeconds),
      found,
    );
    const { record } = update;
    log.info(`job ${job.itemId}/${job.jobInstanceId}: ${describe(record)}`);
    recordTransition(update, log);
    return toItemJobInstanceState(record);
  }

  /**
   * Jobs_CreateItemJobInstance: an insert that never overwrites, then one
   * message. A retry of the same job by the same owner is accepted again and
   * enqueues again while the job has not started (the runner claims a job
   * once, so a second message is harmless); it repairs a row whose message
   * was never sent.
   */
  async create(job: NewJobInstance & JobAddress, log: RequestLog): Promise<void> {
    let status = 'NotStarted';
    try {
      const created = await this.writer.create({ ...job, status: 'NotStarted' });
      log.info(`job ${job.itemId}/${job.jobInstanceId}: created`);
      log.transition({ ...jobFields(created), previousStatus: 'None' });
    } catch (error) {
      if (!(error instanceof JobAlreadyExistsError)) throw error;
      const lookup = await this.store.readFor(job.itemId, job.jobInstanceId, job);
      if (lookup.found !== 'record') {
        throw new ConflictError(
          'JobInstanceConflict',
          'A job instance with this id already exists for another item, job type or tenant.',
          `job ${job.itemId}/${job.jobInstanceId} exists under another owner`,
        );
      }
      status = lookup.record.status;
      log.info(`job ${job.itemId}/${job.jobInstanceId}: already exists (${status}); a retry of the same Create`);
    }
    if (status === 'NotStarted') await this.queue.enqueue(job);
  }

  /** Jobs_CancelItemJobInstance: NotStarted and InProgress become Cancelled; terminal states stay. */
  async cancel(job: JobAddress, log: RequestLog): Promise<ItemJobInstanceState> {
    const found = await this.readOwned(job, log);
    if (!found) return JOB_NOT_FOUND_STATE;
    const lost = markLostRunner(this.heartbeatSeconds);
    const update = await this.writer.update(
      job.itemId,
      job.jobInstanceId,
      (current, now) => lost(current, now) ?? cancelUnlessTerminal(current, now),
      found,
    );
    const { record, changed } = update;
    recordTransition(update, log);
    log.info(
      `job ${job.itemId}/${job.jobInstanceId}: ${changed && record.status === 'Cancelled' ? 'cancelled' : `not cancelled, ${describe(record)}`}`,
    );
    return toItemJobInstanceState(record);
  }

  /** The caller's row with its ETag, or undefined (missing and foreign alike, logged apart). */
  private async readOwned(job: JobAddress, log: RequestLog): Promise<VersionedJob | undefined> {
    const lookup = await this.store.readFor(job.itemId, job.jobInstanceId, job);
    if (lookup.found === 'record') return { record: lookup.record, etag: lookup.etag };
    if (lookup.found === 'foreign' && lookup.unreadableOwner) {
      log.error(
        `job ${job.itemId}/${job.jobInstanceId}: the row's TenantId, WorkspaceId, ItemType or JobType is missing or malformed; answering JobInstanceNotFound`,
      );
    } else {
      const why =
        lookup.found === 'none' ? 'no row' : 'the row is not of this tenant, workspace, item type and job type';
      log.info(`job ${job.itemId}/${job.jobInstanceId}: ${why}; answering JobInstanceNotFound`);
    }
    return undefined;
  }
}

/** The job's status in the request's summary, and a JobTransition line when this request changed it. */
function recordTransition(update: JobUpdate, log: RequestLog): void {
  log.annotate({ jobStatus: update.record.status });
  const transition = transitionFields(update);
  if (transition) log.transition(transition);
}

function describe(record: JobRecord): string {
  return record.errorDetails ? `${record.status} (${forLog(record.errorDetails.errorCode)})` : record.status;
}
