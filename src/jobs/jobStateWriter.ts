import type { TableClient } from '@azure/data-tables';
import type { ErrorDetails, JobInstanceStatus } from '../fabric/contract';
import { forLog } from '../logValue';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';
import { parseJobRow, toJobEntity, type JobRecord } from './jobRow';
import { describeStorageError, isEntityNotFound, statusCodeOf } from '../storage/storageErrors';
import { getEntityWithClock, type StorageClock } from '../storage/serviceClock';
import { StorageUnavailableError } from '../fabric/errors';
import { applyTransition, checkTarget, INITIAL_STATUSES, type JobDecision } from './lifecycle';

export type { JobDecision };
import {
  ConcurrentUpdateError,
  IllegalTransitionError,
  InvalidJobInputError,
  JobAlreadyExistsError,
  JobNotFoundError,
} from './writerErrors';

export type NewJobInstance = Pick<
  JobRecord,
  'itemId' | 'jobInstanceId' | 'tenantId' | 'workspaceId' | 'itemType' | 'jobType'
> &
  Partial<
    Pick<
      JobRecord,
      | 'invokeType'
      | 'creationPayload'
      | 'userObjectId'
      | 'contract'
      | 'definition'
      | 'userAssertion'
      | 'userAssertionExpiresUtc'
    >
  > & {
    /** NotStarted (default) or InProgress. */
    status?: JobInstanceStatus;
  };

export interface JobStateWriterOptions {
  now?: () => Date;
  /** ETag-conditional attempts before giving up on a row that keeps changing. */
  maxAttempts?: number;
  /**
   * Deadline of each storage call, the SDK's retries included. With it, a
   * storage failure is a StorageUnavailableError (what the app answers 503 with).
   */
  deadlineMs?: number;
}

/** A row as read, with the ETag that a conditional write needs. */
export interface VersionedJob {
  record: JobRecord;
  etag: string;
  /** The storage service's time of the read (what a lost runner is judged by); absent for a row known from a write. */
  clock?: StorageClock;
}

/** What `update` did: the row as it is now, and whether this call changed it (and from which status). */
export interface JobUpdate extends VersionedJob {
  changed: boolean;
  /** The status the write replaced, when `changed`. */
  previousStatus?: JobRecord['status'];
}

/**
 * Writes the rows the endpoint reads, for job runners. Every change is
 * conditional on the row's ETag, so two writers can never both win a race to
 * a terminal state.
 */
export class JobStateWriter {
  private readonly now: () => Date;
  private readonly maxAttempts: number;

  constructor(
    private readonly table: TableClient,
    private readonly options: JobStateWriterOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /** Creates the row; refuses to overwrite an existing one. */
  async create(job: NewJobInstance): Promise<JobRecord> {
    checkNewJobInstance(job);
    const status = job.status ?? 'NotStarted';
    const record: JobRecord = {
      itemId: job.itemId.toLowerCase(),
      jobInstanceId: job.jobInstanceId.toLowerCase(),
      tenantId: job.tenantId.toLowerCase(),
      workspaceId: job.workspaceId.toLowerCase(),
      itemType: job.itemType,
      jobType: job.jobType,
      status,
    };
    if (job.invokeType !== undefined) record.invokeType = job.invokeType;
    if (job.creationPayload !== undefined) record.creationPayload = job.creationPayload;
    if (job.userObjectId !== undefined) record.userObjectId = job.userObjectId;
    if (job.contract === 'toolkit') record.contract = job.contract;
    if (job.definition !== undefined) record.definition = job.definition;
    if (job.userAssertion !== undefined && job.userAssertionExpiresUtc) {
      record.userAssertion = job.userAssertion;
      record.userAssertionExpiresUtc = job.userAssertionExpiresUtc;
    }
    if (status === 'InProgress') record.startTimeUtc = this.now();
    await this.storage(`insert of job ${record.itemId}/${record.jobInstanceId}`, [409], (abortSignal) =>
      this.table.createEntity(toJobEntity(record), { abortSignal }),
    ).catch((error: unknown) => {
      if (statusCodeOf(error) === 409)
        throw new JobAlreadyExistsError(`job ${record.itemId}/${record.jobInstanceId} already exists`);
      throw error;
    });
    return record;
  }

  /**
   * Moves the job to `status` if the move is legal. On an ETag conflict the
   * row is read again and the move re-applied while it is still legal.
   */
  async setStatus(
    itemId: string,
    jobInstanceId: string,
    status: JobInstanceStatus,
    errorDetails?: ErrorDetails,
  ): Promise<JobRecord> {
    checkStatusChange(itemId, jobInstanceId, status, errorDetails);
    let attempt = 0;
    const { record } = await this.update(itemId, jobInstanceId, (current, now) => {
      attempt++;
      try {
        return applyTransition(current, status, now, errorDetails);
      } catch (error) {
        if (attempt > 1 && error instanceof IllegalTransitionError) {
          throw new IllegalTransitionError(
            `${error.message}; another writer changed it while this update was in flight`,
          );
        }
        throw error;
      }
    });
    return record;
  }

  /**
   * The one write loop: read (or start from `known`), decide, write on the
   * ETag; on a conflict read again and decide again. Every change of a job's
   * row goes through here, so none can overwrite a change it has not seen.
   */
  async update(itemId: string, jobInstanceId: string, decide: JobDecision, known?: VersionedJob): Promise<JobUpdate> {
    let current = known ?? (await this.read(itemId.toLowerCase(), jobInstanceId.toLowerCase()));
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const next = decide(current.record, this.now(), current.clock);
      if (!next) return { ...current, changed: false };
      try {
        const { etag } = await this.storage(`update of job ${itemId}/${jobInstanceId}`, [412, 404], (abortSignal) =>
          this.table.updateEntity(toJobEntity(next), 'Replace', { etag: current.etag, abortSignal }),
        );
        return { record: next, etag: etag ?? current.etag, changed: true, previousStatus: current.record.status };
      } catch (error) {
        // Deleted since it was read (DeleteItem): the same answer as a read that finds no row.
        if (isEntityNotFound(error)) throw new JobNotFoundError(`job ${itemId}/${jobInstanceId} does not exist`);
        if (statusCodeOf(error) !== 412) throw error;
      }
      current = await this.read(itemId.toLowerCase(), jobInstanceId.toLowerCase());
    }
    throw new ConcurrentUpdateError(
      `job ${itemId}/${jobInstanceId} changed on every one of ${this.maxAttempts} attempts`,
    );
  }

  /** Deletes the row, whatever its state; a row already gone is fine. */
  async remove(itemId: string, jobInstanceId: string): Promise<void> {
    await this.storage(`delete of job ${itemId}/${jobInstanceId}`, [404], (abortSignal) =>
      this.table.deleteEntity(itemId.toLowerCase(), jobInstanceId.toLowerCase(), { abortSignal }),
    ).catch((error: unknown) => {
      if (!isEntityNotFound(error)) throw error;
    });
  }

  /** The row with its ETag and the service's clock; JobNotFoundError when there is none. */
  async read(itemId: string, jobInstanceId: string): Promise<VersionedJob> {
    const { entity, clock } = await this.storage(`point read of job ${itemId}/${jobInstanceId}`, [404], (abortSignal) =>
      getEntityWithClock(this.table, itemId, jobInstanceId, abortSignal),
    ).catch((error: unknown) => {
      if (isEntityNotFound(error)) throw new JobNotFoundError(`job ${itemId}/${jobInstanceId} does not exist`);
      throw error;
    });
    return { record: parseJobRow(entity), etag: entity.etag, clock };
  }

  /**
   * One storage call. With a deadline, any failure other than the answers the
   * caller handles itself (`expected` status codes) becomes a StorageUnavailableError.
   */
  private async storage<T>(
    what: string,
    expected: number[],
    call: (abortSignal?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const { deadlineMs } = this.options;
    if (deadlineMs === undefined) return call();
    try {
      return await call(AbortSignal.timeout(deadlineMs));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== undefined && expected.includes(status) && !(status === 404 && !isEntityNotFound(error)))
        throw error;
      throw new StorageUnavailableError(`${what} in ${this.table.tableName} failed: ${describeStorageError(error)}`);
    }
  }
}

/** Everything create() checks before it touches storage; throws InvalidJobInputError. */
export function checkNewJobInstance(job: NewJobInstance): void {
  checkIds({
    itemId: job.itemId,
    jobInstanceId: job.jobInstanceId,
    tenantId: job.tenantId,
    workspaceId: job.workspaceId,
  });
  for (const name of ['itemType', 'jobType'] as const) {
    if (!isTypeName(job[name])) throw new InvalidJobInputError(`${name} must be ${TYPE_NAME_RULE}`);
  }
  const status = job.status ?? 'NotStarted';
  if (!INITIAL_STATUSES.includes(status))
    throw new InvalidJobInputError(`a job starts as ${INITIAL_STATUSES.join(' or ')}, not ${forLog(status)}`);
}

/** Everything setStatus() checks before it touches storage; throws InvalidJobInputError. */
export function checkStatusChange(
  itemId: string,
  jobInstanceId: string,
  status: unknown,
  errorDetails?: unknown,
): void {
  checkIds({ itemId, jobInstanceId });
  checkTarget(status, errorDetails);
}

function checkIds(ids: Record<string, string>): void {
  const bad = Object.entries(ids)
    .filter(([, value]) => !isGuid(value))
    .map(([name]) => name);
  if (bad.length > 0)
    throw new InvalidJobInputError(`${bad.join(', ')} must be ${bad.length > 1 ? 'GUIDs' : 'a GUID'}`);
}
