import type { ItemJobInstanceState } from '../fabric/contract';
import { ConflictError } from '../fabric/errors';
import type { RequestLog } from '../telemetry/log';
import { toItemJobInstanceState, type JobCoordinates, type JobKey, type JobRecord } from './jobRow';
import type { JobStateStore } from './jobStateStore';
import { cancelJob, JOB_NOT_FOUND_STATE, markLostRunner } from './lifecycle';
import type { JobStateWriter, JobUpdate, NewJobInstance, VersionedJob } from './jobStateWriter';
import { JobAlreadyExistsError } from './writerErrors';
import { forLog } from '../logValue';
import { jobFields, transitionFields } from './jobSummary';

/** Puts a job on the queue its runner reads (src/execution/jobQueue.ts); throws StorageUnavailableError. */
export interface JobEnqueuer {
  enqueue(job: JobKey): Promise<void>;
}

/** One job instance as Fabric's path and the authenticated tenant name it. */
export interface JobAddress extends JobCoordinates {
  itemId: string;
  jobInstanceId: string;
}

/**
 * The job instances as Fabric's three Jobs operations see them: ownership
 * checked on every read, a lost runner recorded by whoever notices it first,
 * every write through the writer's ETag-conditional loop.
 */
export class JobInstances {
  constructor(
    private readonly store: JobStateStore,
    private readonly writer: JobStateWriter,
    private readonly queue: JobEnqueuer,
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
    const update = await this.writer.update(job.itemId, job.jobInstanceId, cancelJob(this.heartbeatSeconds), found);
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
    if (lookup.found === 'record') return { record: lookup.record, etag: lookup.etag, clock: lookup.clock };
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
