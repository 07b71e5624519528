import type { TableClient } from '@azure/data-tables';
import { StorageUnavailableError } from '../fabric/errors';
import { parseJobRow, type JobRecord } from './jobRow';
import { describeStorageError, isEntityNotFound } from './storageErrors';

export interface JobStateStoreOptions {
  /** Deadline of one read including the SDK's retries. */
  readDeadlineMs?: number;
}

export const DEFAULT_READ_DEADLINE_MS = 10_000;

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

  /** The row, undefined when there is none; throws StorageUnavailableError or InvalidJobStateRecordError. */
  async read(itemId: string, jobInstanceId: string): Promise<JobRecord | undefined> {
    let entity: Record<string, unknown>;
    try {
      entity = await this.table.getEntity(itemId, jobInstanceId, { abortSignal: AbortSignal.timeout(this.readDeadlineMs) });
    } catch (error) {
      if (isEntityNotFound(error)) return undefined;
      throw new StorageUnavailableError(`point read of ${this.table.tableName}(${itemId}, ${jobInstanceId}) failed: ${describeStorageError(error)}`);
    }
    return parseJobRow(entity);
  }
}
