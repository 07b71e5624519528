import type { TableClient } from '@azure/data-tables';
import { StorageUnavailableError } from '../fabric/errors';
import { hasReadableOwner, parseJobRow, rowAnswers, type JobCoordinates, type JobRecord } from './jobRow';
import { describeStorageError, isEntityNotFound } from '../storage/storageErrors';
import { getEntityWithClock, type StorageClock } from '../storage/serviceClock';

export interface JobStateStoreOptions {
  /** Deadline of one read including the SDK's retries. */
  readDeadlineMs?: number;
}

export const DEFAULT_READ_DEADLINE_MS = 10_000;
/** Not a GUID, so never a job's item id or instance id. */
const WARM_UP_KEY = 'warm-up';

/** `none`: no row; `foreign`: a row that is not the caller's, to be answered exactly like none. */
export type JobLookup =
  | { found: 'none' }
  | {
      found: 'foreign';
      /** The row's own owner columns are missing or malformed: an operator should look. */ unreadableOwner: boolean;
    }
  | {
      found: 'record';
      record: JobRecord;
      /** For a conditional write of what was read. */ etag: string;
      /** The storage service's time of this read: what a lost runner is judged by. */ clock?: StorageClock;
    };

/** Reads job instance rows with one point read each; never a query. */
export class JobStateStore {
  private readonly readDeadlineMs: number;

  constructor(
    private readonly table: TableClient,
    options: JobStateStoreOptions = {},
  ) {
    this.readDeadlineMs = options.readDeadlineMs ?? DEFAULT_READ_DEADLINE_MS;
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The job as the endpoint answers it: the caller's row, or none (missing and foreign alike). */
  async readFor(itemId: string, jobInstanceId: string, request: JobCoordinates): Promise<JobLookup> {
    const read = await this.readEntity(itemId, jobInstanceId);
    if (!read) return { found: 'none' };
    const { entity, clock } = read;
    if (!rowAnswers(entity, request)) return { found: 'foreign', unreadableOwner: !hasReadableOwner(entity) };
    return { found: 'record', record: parseJobRow(entity), etag: String(entity.etag), clock };
  }

  /**
   * Opens the connection (and, with managed identity, gets the first access
   * token) before the first request needs it: one point read of a key no job
   * uses. Resolves either way once storage has answered 'no such row'.
   */
  async warmUp(): Promise<void> {
    await this.readEntity(WARM_UP_KEY, WARM_UP_KEY);
  }

  /** Any row, whoever owns it (operations tools); undefined when there is none. */
  async read(itemId: string, jobInstanceId: string): Promise<JobRecord | undefined> {
    const read = await this.readEntity(itemId, jobInstanceId);
    return read && parseJobRow(read.entity);
  }

  /** One point read with the service's clock; throws StorageUnavailableError for anything but a missing row. */
  private async readEntity(
    itemId: string,
    jobInstanceId: string,
  ): Promise<{ entity: Record<string, unknown> & { etag?: string }; clock?: StorageClock } | undefined> {
    try {
      return await getEntityWithClock(this.table, itemId, jobInstanceId, AbortSignal.timeout(this.readDeadlineMs));
    } catch (error) {
      if (isEntityNotFound(error)) return undefined;
      throw new StorageUnavailableError(
        `point read of ${this.table.tableName}(${itemId}, ${jobInstanceId}) failed: ${describeStorageError(error)}`,
      );
    }
  }
}
