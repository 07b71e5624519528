import type { ItemJobInstanceState } from '../fabric/contract';
import { ConflictError, describeError, ItemConflictError, ItemDeletedError } from '../fabric/errors';
import type { RequestLog } from '../telemetry/log';
import { toItemJobInstanceState, type JobCoordinates, type JobKey, type JobRecord } from './jobRow';
import type { JobStateStore } from './jobStateStore';
import { cancelJob, JOB_NOT_FOUND_STATE, markLostRunner, pollJob, type PollingUser } from './lifecycle';
import type { JobDecision, JobStateWriter, JobUpdate, NewJobInstance, VersionedJob } from './jobStateWriter';
import { JobAlreadyExistsError, JobNotFoundError } from './writerErrors';
import { forLog } from '../logValue';
import { jobFields, transitionFields } from './jobSummary';

/** Puts a job on the queue its runner reads (src/execution/jobQueue.ts); throws StorageUnavailableError. */
export interface JobEnqueuer {
  enqueue(job: JobKey): Promise<void>;
}

/**
 * What a job Create may do once its row is in, from the item row (read after
 * the insert): `foreign` when the id is another owner's item, `deleted` when
 * the item is deleted or being deleted (src/items/itemDeletion.ts).
 */
export type JobGate = 'allowed' | 'foreign' | 'deleted';

/** Inserts of one Create before it gives up on a row that keeps vanishing (deletes racing it). */
const MAX_CREATE_ATTEMPTS = 3;

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
    /** Reads the item's row after a Create's insert (ItemDeletion.jobGate). */
    private readonly gate: (job: JobAddress) => Promise<JobGate>,
  ) {}

  /**
   * Jobs_GetItemJobInstanceState (and the toolkit's status call). `poll`: the
   * polling user, whose token may replace the job's stored one when that is
   * about to expire (lifecycle.ts, refreshUserAssertion).
   */
  async state(job: JobAddress, log: RequestLog, poll?: PollingUser): Promise<ItemJobInstanceState> {
    const found = await this.readOwned(job, log);
    if (!found) return JOB_NOT_FOUND_STATE;
    const update = await this.pollUpdate(job, found, log, poll);
    if (!update) return JOB_NOT_FOUND_STATE;
    const { record } = update;
    log.info(`job ${job.itemId}/${job.jobInstanceId}: ${describe(record)}`);
    if (update.changed && update.previousStatus === record.status && record.userAssertion !== undefined) {
      log.info(`job ${job.itemId}/${job.jobInstanceId}: the user's token refreshed from this poll`);
      log.annotate({ userToken: 'refreshed' });
    }
    recordTransition(update, log);
    return toItemJobInstanceState(record);
  }

  /**
   * Jobs_CreateItemJobInstance (and the toolkit's onCreateJobInstance): an
   * insert that never overwrites, then the item's deletion mark read, then one
   * message. A retry of the same job by the same owner is accepted again and
   * enqueues again while the job has not started (the runner claims a job
   * once, so a second message is harmless); it repairs a row whose message was
   * never sent. Returns the job as it now is.
   *
   * The mark is read after the insert (see ItemDeletion): a Create that finds
   * its item deleted, or the id another owner's item, removes the row it
   * inserted and refuses, so no job of a deleted item is left or run.
   */
  async create(job: NewJobInstance & JobAddress, log: RequestLog): Promise<JobRecord> {
    const { record, inserted } = await this.insertOrFind(job, log);
    const gate = await this.gate(job);
    // Another owner's item refuses every Create; a deleted one only a Create that inserted (a retry answers the job).
    if (gate === 'foreign' || (gate === 'deleted' && inserted)) {
      if (inserted) await this.writer.remove(job.itemId, job.jobInstanceId);
      log.info(
        `job ${job.itemId}/${job.jobInstanceId}: refused, the item is ${gate === 'foreign' ? "another owner's" : 'deleted'}`,
      );
      throw gate === 'foreign' ? new ItemConflictError(job.itemId) : new ItemDeletedError(job.itemId);
    }
    if (inserted) log.transition({ ...jobFields(record), previousStatus: 'None' });
    // A retry answers the job as it is; it is enqueued again only while it may still run.
    if (record.status === 'NotStarted' && gate === 'allowed') await this.queue.enqueue(job);
    return record;
  }

  /** The new row, or the same owner's existing one (a retry); a row that vanishes between (a delete) is inserted again. */
  private async insertOrFind(
    job: NewJobInstance & JobAddress,
    log: RequestLog,
  ): Promise<{ record: JobRecord; inserted: boolean }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.writer.create({ ...job, status: 'NotStarted' });
        log.info(`job ${job.itemId}/${job.jobInstanceId}: created`);
        return { record: created, inserted: true };
      } catch (error) {
        if (!(error instanceof JobAlreadyExistsError)) throw error;
      }
      const lookup = await this.store.readFor(job.itemId, job.jobInstanceId, job);
      if (lookup.found === 'record') {
        log.info(
          `job ${job.itemId}/${job.jobInstanceId}: already exists (${lookup.record.status}); a retry of the same Create`,
        );
        return { record: lookup.record, inserted: false };
      }
      // Deleted between the insert and the read (DeleteItem): not another owner's; try the insert again.
      if (lookup.found === 'foreign' || attempt >= MAX_CREATE_ATTEMPTS) {
        throw new ConflictError(
          'JobInstanceConflict',
          'A job instance with this id already exists for another item, job type or tenant.',
          `job ${job.itemId}/${job.jobInstanceId} exists under another owner`,
        );
      }
    }
  }

  /** Jobs_CancelItemJobInstance: NotStarted and InProgress become Cancelled; terminal states stay. */
  async cancel(job: JobAddress, log: RequestLog): Promise<ItemJobInstanceState> {
    const found = await this.readOwned(job, log);
    if (!found) return JOB_NOT_FOUND_STATE;
    const update = await this.updateUnlessGone(job, cancelJob(this.heartbeatSeconds), found, log);
    if (!update) return JOB_NOT_FOUND_STATE;
    const { record, changed } = update;
    recordTransition(update, log);
    log.info(
      `job ${job.itemId}/${job.jobInstanceId}: ${changed && record.status === 'Cancelled' ? 'cancelled' : `not cancelled, ${describe(record)}`}`,
    );
    return toItemJobInstanceState(record);
  }

  /**
   * A poll's write: a lost runner recorded, else the job's stored user token
   * refreshed from the poll's. The refresh is a favour, not the poll's answer:
   * when only a refresh was due and its write fails (storage, a run of lost
   * ETag races with the runner), the poll answers the state it read, with a
   * warning. A poll must always answer 200 with the job's state (OBO.md).
   */
  private async pollUpdate(
    job: JobAddress,
    found: VersionedJob,
    log: RequestLog,
    poll: PollingUser | undefined,
  ): Promise<JobUpdate | undefined> {
    try {
      return await this.updateUnlessGone(job, pollJob(this.heartbeatSeconds, poll), found, log);
    } catch (error) {
      const lostRunnerDue = markLostRunner(this.heartbeatSeconds)(found.record, new Date(), found.clock) !== undefined;
      if (!poll || lostRunnerDue) throw error;
      log.warn(
        `job ${job.itemId}/${job.jobInstanceId}: the user's token was not refreshed from this poll (${describeError(error)}); answering the state read`,
      );
      return { ...found, changed: false };
    }
  }

  /** The writer's update; undefined when the row was deleted since it was read (a DeleteItem racing this request). */
  private async updateUnlessGone(
    job: JobAddress,
    decide: JobDecision,
    found: VersionedJob,
    log: RequestLog,
  ): Promise<JobUpdate | undefined> {
    try {
      return await this.writer.update(job.itemId, job.jobInstanceId, decide, found);
    } catch (error) {
      if (!(error instanceof JobNotFoundError)) throw error;
      log.info(`job ${job.itemId}/${job.jobInstanceId}: deleted during the request; answering JobInstanceNotFound`);
      return undefined;
    }
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
