import type { TableClient } from '@azure/data-tables';
import { readTableConfig } from '../config';
import type { ErrorDetails, JobInstanceStatus } from '../fabric/contract';
import { forLog } from '../logValue';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';
import { parseJobRow, toJobEntity, type JobRecord } from './jobRow';
import { isEntityNotFound, statusCodeOf } from './storageErrors';
import { createTableClient } from './tableClient';
import { applyTransition, checkTarget, INITIAL_STATUSES } from './jobTransitions';
import { ConcurrentUpdateError, IllegalTransitionError, InvalidJobInputError, JobAlreadyExistsError, JobNotFoundError } from './writerErrors';

export type NewJobInstance = Pick<JobRecord, 'itemId' | 'jobInstanceId' | 'tenantId' | 'workspaceId' | 'itemType' | 'jobType'> & {
  /** NotStarted (default) or InProgress. */
  status?: JobInstanceStatus;
};

export interface JobStateWriterOptions {
  now?: () => Date;
  /** ETag-conditional attempts before giving up on a row that keeps changing. */
  maxAttempts?: number;
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
    options: JobStateWriterOptions = {},
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
    if (status === 'InProgress') record.startTimeUtc = this.now();
    try {
      await this.table.createEntity(toJobEntity(record));
    } catch (error) {
      if (statusCodeOf(error) === 409) throw new JobAlreadyExistsError(`job ${record.itemId}/${record.jobInstanceId} already exists`);
      throw error;
    }
    return record;
  }

  /**
   * Moves the job to `status` if the move is legal. On an ETag conflict the
   * row is read again and the move re-applied while it is still legal.
   */
  async setStatus(itemId: string, jobInstanceId: string, status: JobInstanceStatus, errorDetails?: ErrorDetails): Promise<JobRecord> {
    checkStatusChange(itemId, jobInstanceId, status, errorDetails);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const { record, etag } = await this.readForUpdate(itemId.toLowerCase(), jobInstanceId.toLowerCase());
      let next: JobRecord;
      try {
        next = applyTransition(record, status, this.now(), errorDetails);
      } catch (error) {
        if (attempt > 1 && error instanceof IllegalTransitionError) {
          throw new IllegalTransitionError(`${error.message}; another writer changed it while this update was in flight`);
        }
        throw error;
      }
      try {
        await this.table.updateEntity(toJobEntity(next), 'Replace', { etag });
        return next;
      } catch (error) {
        if (statusCodeOf(error) !== 412) throw error;
      }
    }
    throw new ConcurrentUpdateError(`job ${itemId}/${jobInstanceId} changed on every one of ${this.maxAttempts} attempts`);
  }

  private async readForUpdate(itemId: string, jobInstanceId: string): Promise<{ record: JobRecord; etag: string }> {
    try {
      const entity = await this.table.getEntity(itemId, jobInstanceId);
      return { record: parseJobRow(entity), etag: entity.etag };
    } catch (error) {
      if (isEntityNotFound(error)) throw new JobNotFoundError(`job ${itemId}/${jobInstanceId} does not exist`);
      throw error;
    }
  }
}

/** Everything create() checks before it touches storage; throws InvalidJobInputError. */
export function checkNewJobInstance(job: NewJobInstance): void {
  checkIds({ itemId: job.itemId, jobInstanceId: job.jobInstanceId, tenantId: job.tenantId, workspaceId: job.workspaceId });
  for (const name of ['itemType', 'jobType'] as const) {
    if (!isTypeName(job[name])) throw new InvalidJobInputError(`${name} must be ${TYPE_NAME_RULE}`);
  }
  const status = job.status ?? 'NotStarted';
  if (!INITIAL_STATUSES.includes(status)) throw new InvalidJobInputError(`a job starts as ${INITIAL_STATUSES.join(' or ')}, not ${forLog(status)}`);
}

/** Everything setStatus() checks before it touches storage; throws InvalidJobInputError. */
export function checkStatusChange(itemId: string, jobInstanceId: string, status: unknown, errorDetails?: unknown): void {
  checkIds({ itemId, jobInstanceId });
  checkTarget(status, errorDetails);
}

function checkIds(ids: Record<string, string>): void {
  const bad = Object.entries(ids).filter(([, value]) => !isGuid(value)).map(([name]) => name);
  if (bad.length > 0) throw new InvalidJobInputError(`${bad.join(', ')} must be ${bad.length > 1 ? 'GUIDs' : 'a GUID'}`);
}

/** A writer for the job-state table named by the environment (the endpoint's table settings). */
export function createJobStateWriter(env: Record<string, string | undefined> = process.env, options?: JobStateWriterOptions): JobStateWriter {
  const { table, tableName } = readTableConfig(env);
  return new JobStateWriter(createTableClient(table, tableName, env), options);
}
