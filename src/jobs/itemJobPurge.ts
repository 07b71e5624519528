import type { TableClient, TransactionAction } from '@azure/data-tables';
import { describeError, StorageUnavailableError } from '../fabric/errors';
import type { RequestLog } from '../telemetry/log';
import { isOwnedBy, type ItemOwner } from '../storage/owner';
import { ITEM_PURGE_COLUMNS, itemPartitionFilter, rowStatusOf } from './jobRow';
import type { JobStateWriter } from './jobStateWriter';
import { cancelUnlessTerminal, isTerminal } from './lifecycle';
import { describeStorageError, isEntityNotFound, statusCodeOf } from '../storage/storageErrors';
import { JobNotFoundError } from './writerErrors';

/** Azure Table Storage's limit on the operations of one entity-group transaction. */
export const MAX_BATCH_OPERATIONS = 100;

export interface PurgeResult {
  cancelled: number;
  deleted: number;
}

/**
 * Removes every job row of one item that belongs to the owner (DeleteItem):
 * one query of the item's partition, the jobs that have not ended cancelled
 * first through the writer's ETag-conditional loop (so their runners see the
 * cancellation), then the rows deleted in entity-group transactions of at
 * most 100. Rows of another owner under the same item id are left alone.
 * Safe to run again: a purge cut short is finished by the next one.
 */
export class ItemJobPurge {
  constructor(
    private readonly table: TableClient,
    private readonly writer: JobStateWriter,
    private readonly deadlineMs: number,
  ) {}

  /** `keepRows` (a soft delete): cancel the jobs that have not ended, delete nothing. */
  async purge(
    itemId: string,
    owner: ItemOwner,
    log: RequestLog,
    options: { keepRows?: boolean } = {},
  ): Promise<PurgeResult> {
    const rows = await this.listOwned(itemId, owner);
    let cancelled = 0;
    for (const row of rows) {
      const status = rowStatusOf(row);
      if (status !== undefined && isTerminal(status)) continue;
      try {
        const result = await this.writer.update(itemId, row.rowKey, cancelUnlessTerminal);
        if (result.changed) cancelled++;
      } catch (error) {
        if (error instanceof StorageUnavailableError) throw error;
        // Gone already (another DeleteItem), corrupt, or changing too fast: deleted below either way,
        // and a runner whose row is gone stops as if cancelled.
        if (!(error instanceof JobNotFoundError))
          log.warn(`job ${itemId}/${row.rowKey} could not be cancelled before its deletion: ${describeError(error)}`);
      }
    }
    if (options.keepRows) return { cancelled, deleted: 0 };
    for (let start = 0; start < rows.length; start += MAX_BATCH_OPERATIONS) {
      await this.deleteBatch(
        rows.slice(start, start + MAX_BATCH_OPERATIONS).map((row) => row.rowKey),
        itemId,
      );
    }
    return { cancelled, deleted: rows.length };
  }

  /** The owner's rows of the item's partition: keys, owner columns and status only. */
  private async listOwned(itemId: string, owner: ItemOwner): Promise<(Record<string, unknown> & { rowKey: string })[]> {
    const abortSignal = AbortSignal.timeout(this.deadlineMs);
    const owned: (Record<string, unknown> & { rowKey: string })[] = [];
    try {
      const queryOptions = { filter: itemPartitionFilter(itemId), select: [...ITEM_PURGE_COLUMNS] };
      for await (const page of this.table.listEntities({ queryOptions, abortSignal }).byPage({ maxPageSize: 1000 })) {
        for (const entity of page) {
          if (isOwnedBy(entity, owner)) owned.push(entity as Record<string, unknown> & { rowKey: string });
        }
      }
    } catch (error) {
      throw new StorageUnavailableError(
        `query of the job rows of item ${itemId} in ${this.table.tableName} failed: ${describeStorageError(error)}`,
      );
    }
    return owned;
  }

  /**
   * One transaction. When a row of it is already gone (another DeleteItem ran
   * at the same time) the whole transaction fails with 404: then the rows are
   * deleted one by one, a missing one being fine.
   */
  private async deleteBatch(rowKeys: string[], itemId: string): Promise<void> {
    const actions: TransactionAction[] = rowKeys.map((rowKey) => ['delete', { partitionKey: itemId, rowKey }]);
    try {
      await this.table.submitTransaction(actions, { abortSignal: AbortSignal.timeout(this.deadlineMs) });
      return;
    } catch (error) {
      if (statusCodeOf(error) !== 404) {
        throw new StorageUnavailableError(
          `deleting ${rowKeys.length} job rows of item ${itemId} failed: ${describeStorageError(error)}`,
        );
      }
    }
    for (const rowKey of rowKeys) {
      try {
        await this.table.deleteEntity(itemId, rowKey, { abortSignal: AbortSignal.timeout(this.deadlineMs) });
      } catch (error) {
        if (!isEntityNotFound(error))
          throw new StorageUnavailableError(`deleting job ${itemId}/${rowKey} failed: ${describeStorageError(error)}`);
      }
    }
  }
}
