import type { TableClient } from '@azure/data-tables';
import { ConflictError, StorageUnavailableError } from '../fabric/errors';
import { isOwnedBy, type ItemOwner } from '../storage/owner';
import { describeStorageError, isEntityNotFound, statusCodeOf } from '../storage/storageErrors';
import {
  deletionOf,
  ITEM_COLUMNS,
  ITEM_ROW_KEY,
  parseItemRow,
  toItemEntity,
  type Deletion,
  type ItemRecord,
} from './itemRow';

/** Whose an item row is, read from its owner columns and deletion mark alone. */
export type OwnedRow =
  | { found: 'none' }
  | { found: 'foreign' }
  | {
      found: 'own';
      deletion?: Deletion;
      /** The row as a record, parsed when asked; undefined when it is corrupt. */ record(): ItemRecord | undefined;
    };

/** `none`: no row; `foreign`: another owner's row, answered exactly like none. */
export type ItemLookup =
  { found: 'none' } | { found: 'foreign' } | { found: 'record'; record: ItemRecord; etag: string };

/**
 * The Items table: one point read, insert, ETag-conditional replace or
 * delete per call; never a query. Each call has a deadline (the SDK's retries
 * included); a storage failure is a StorageUnavailableError (503).
 */
export class ItemStore {
  constructor(
    private readonly table: TableClient,
    private readonly deadlineMs: number,
  ) {}

  /** The caller's item; a hard-deleted one (its tombstone) reads as none. */
  async readFor(itemId: string, owner: ItemOwner): Promise<ItemLookup> {
    const entity = await this.readEntity(itemId);
    if (!entity) return { found: 'none' };
    if (!isOwnedBy(entity, owner)) return { found: 'foreign' };
    if (deletionOf(entity) === 'Gone') return { found: 'none' };
    return { found: 'record', record: parseItemRow(entity), etag: String(entity.etag) };
  }

  /**
   * Whose the row is, from its owner columns alone: what Delete and the job
   * checks need, so that a row of the caller's whose other columns are
   * corrupt can still be deleted.
   */
  async ownership(itemId: string, owner: ItemOwner): Promise<'none' | 'foreign' | 'own'> {
    return (await this.ownedRow(itemId, owner)).found;
  }

  /**
   * Whose the row is and, when it is the caller's, its deletion mark, from
   * those columns alone (a job Create reads this on every call: nothing more
   * is parsed); its record on demand, when the rest of it parses (a corrupt
   * row of the caller's can still be deleted and still stops new jobs).
   */
  async ownedRow(itemId: string, owner: ItemOwner): Promise<OwnedRow> {
    const entity = await this.readEntity(itemId);
    if (!entity) return { found: 'none' };
    if (!isOwnedBy(entity, owner)) return { found: 'foreign' };
    const record = () => {
      try {
        return parseItemRow(entity);
      } catch {
        return undefined;
      }
    };
    return { found: 'own', deletion: deletionOf(entity), record };
  }

  /**
   * Sets the deletion mark on an existing row, whatever its ETag (a mark is
   * the same whoever sets it; a concurrent replace re-reads and keeps it):
   * `gone` when there is no row to mark.
   */
  async mark(itemId: string, deletion: Deletion, deletedUtc: Date): Promise<'marked' | 'gone'> {
    const entity = {
      partitionKey: itemId,
      rowKey: ITEM_ROW_KEY,
      [ITEM_COLUMNS.deletion]: deletion,
      [ITEM_COLUMNS.deletedUtc]: deletedUtc,
    };
    try {
      await this.call(`deletion mark of item ${itemId}`, [404], (abortSignal) =>
        this.table.updateEntity(entity, 'Merge', { etag: '*', abortSignal }),
      );
      return 'marked';
    } catch (error) {
      if (isEntityNotFound(error)) return 'gone';
      throw error;
    }
  }

  private async readEntity(itemId: string): Promise<(Record<string, unknown> & { etag?: string }) | undefined> {
    return this.call(`point read of item ${itemId}`, [404], (abortSignal) =>
      this.table.getEntity(itemId, ITEM_ROW_KEY, { abortSignal }),
    ).catch((error: unknown) => {
      if (isEntityNotFound(error)) return undefined;
      throw error;
    });
  }

  /**
   * Inserts the row; false when a row with this item id exists (never
   * overwritten), but for the same owner's tombstone of a hard delete, which a
   * new item of that id replaces.
   */
  async insert(record: ItemRecord): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call(`insert of item ${record.itemId}`, [409], (abortSignal) =>
          this.table.createEntity(toItemEntity(record), { abortSignal }),
        );
        return true;
      } catch (error) {
        if (statusCodeOf(error) !== 409) throw error;
      }
      if (attempt > 3) {
        throw new ConflictError(
          'ItemUpdateConflict',
          'The item kept changing while it was being created. Try again.',
          `item ${record.itemId}: its row kept changing`,
        );
      }
      const existing = await this.readEntity(record.itemId);
      if (!existing) continue; // deleted since: insert again
      if (!isOwnedBy(existing, record) || deletionOf(existing) !== 'Gone') return false;
      if ((await this.replace(record, String(existing.etag))) === 'replaced') return true;
    }
  }

  /** Replaces the row with a tombstone of a hard delete: the owner and the mark, nothing of the item kept. */
  async bury(itemId: string, owner: ItemOwner, deletedUtc: Date): Promise<void> {
    const tombstone: ItemRecord = {
      itemId,
      tenantId: owner.tenantId,
      workspaceId: owner.workspaceId,
      itemType: owner.itemType,
      displayName: '',
      payload: '{}',
      deletion: 'Gone',
      deletedUtc,
    };
    await this.call(`tombstone of item ${itemId}`, [], (abortSignal) =>
      this.table.upsertEntity(toItemEntity(tombstone), 'Replace', { abortSignal }),
    );
  }

  /** Replaces the row if it still has `etag`: `changed` when someone wrote it since, `gone` when it was deleted. */
  async replace(record: ItemRecord, etag: string): Promise<'replaced' | 'changed' | 'gone'> {
    try {
      await this.call(`update of item ${record.itemId}`, [404, 412], (abortSignal) =>
        this.table.updateEntity(toItemEntity(record), 'Replace', { etag, abortSignal }),
      );
      return 'replaced';
    } catch (error) {
      if (statusCodeOf(error) === 412) return 'changed';
      if (isEntityNotFound(error)) return 'gone';
      throw error;
    }
  }

  /** One storage call; anything but the `expected` answers (a 404 only when it is the entity's) is a StorageUnavailableError. */
  private async call<T>(what: string, expected: number[], call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await call(AbortSignal.timeout(this.deadlineMs));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== undefined && expected.includes(status) && !(status === 404 && !isEntityNotFound(error)))
        throw error;
      throw new StorageUnavailableError(`${what} in ${this.table.tableName} failed: ${describeStorageError(error)}`);
    }
  }
}
