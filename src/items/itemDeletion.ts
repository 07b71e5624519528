import { ConflictError, describeError } from '../fabric/errors';
import type { ItemDefinitionRequest } from '../fabric/toolkitRequests';
import type { Item, ItemHandler } from '../handlers/itemHandler';
import type { HandlerRegistry } from '../handlers/registry';
import type { ItemJobPurge } from '../jobs/itemJobPurge';
import type { JobGate } from '../jobs/jobInstances';
import type { RequestLog } from '../telemetry/log';
import type { DeleteKind, ItemRecord } from './itemRow';
import type { ItemStore } from './itemStore';
import { toItem, type ItemAddress, type Items } from './items';

/**
 * Deleting and restoring items, and the one place where a delete and a job
 * Create are ordered: the item row's deletion mark.
 *
 * A delete sets the mark first (on a row of its own when the item had none)
 * and never removes it, then reads the item's job rows. A job Create inserts
 * its row first, then reads the mark (`jobGate`), and a Create that finds it
 * removes its own row and refuses. Table storage is strongly consistent, so
 * either the Create's read came before the mark (then its insert did too, and
 * the delete's query sees its row) or after it (then it finds the mark, which
 * is still there, and refuses): no job row of a deleted item is left, however
 * many Creates race the delete, and none is created after it.
 *
 * Hard (v1 DeleteItem, the toolkit's Hard): running jobs cancelled, job rows
 * deleted, then the item row replaced by a tombstone (the owner and the mark,
 * nothing of the item): a delete cut short is finished by the next, and the
 * item reads as missing everywhere; a new item of the same id replaces it.
 * Soft (the toolkit's Soft): running jobs cancelled, job rows kept, the mark
 * kept until a restore clears it. Deletes are never blocked by the item
 * handler; restores may be.
 */
export class ItemDeletion {
  constructor(
    private readonly store: ItemStore,
    private readonly items: Items,
    private readonly jobs: ItemJobPurge,
    private readonly handlers: HandlerRegistry,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async delete(address: ItemAddress, kind: DeleteKind, log: RequestLog): Promise<void> {
    const marked = await this.mark(address, kind);
    if (marked === 'foreign') {
      log.info(`item ${address.itemId}: the row is not of this tenant, workspace and item type; nothing deleted`);
      return;
    }
    const { cancelled, deleted } = await this.jobs.purge(address.itemId, address, log, { keepRows: kind === 'Soft' });
    await this.tellHandler(address, marked.record, log, (handler, item) => handler.onDeleted?.(item, kind, { log }));
    // The row stays as a tombstone: the mark outlives the delete, so a Create that reads it later still refuses.
    if (kind === 'Hard') await this.store.bury(address.itemId, address, this.now());
    const what = kind === 'Hard' ? (marked.had ? 'deleted' : 'had no row') : 'soft-deleted';
    log.info(`item ${address.itemId}: ${what}; ${deleted} job rows deleted, ${cancelled} running jobs cancelled`);
  }

  /**
   * ItemLifecycle_OnRestoreItem: a soft-deleted item becomes active again once
   * its handler accepts the definition; its job rows are as they were. An
   * active item is left as it is; an item never heard of is created.
   */
  async restore(address: ItemAddress, request: ItemDefinitionRequest, log: RequestLog): Promise<void> {
    const handler = this.items.handlerOf(address.itemType);
    const lookup = await this.store.readFor(address.itemId, address);
    if (lookup.found === 'none') {
      // Never heard of, or hard-deleted (its tombstone): Fabric is the source of truth.
      log.info(`item ${address.itemId}: not known; the restore creates it`);
      return this.items.createFromDefinition(address, request, log);
    }
    const { record, etag } = lookup.found === 'record' ? lookup : await this.items.readOwned(address, log);
    if (record.deletion === undefined) {
      log.info(`item ${address.itemId}: not deleted; nothing to restore`);
      return;
    }
    if (record.deletion === 'Hard') {
      // A hard delete is under way (its tombstone, once done, reads as none and the restore creates the item anew).
      throw new ConflictError(
        'ItemConflict',
        'The item is being deleted.',
        `item ${address.itemId}: a hard delete is under way`,
      );
    }
    await handler.validateDefinition?.(request.definition, toItem(record));
    const restored: ItemRecord = this.items.notified({ ...record }, request);
    delete restored.deletion;
    delete restored.deletedUtc;
    const outcome = await this.store.replace(restored, etag);
    if (outcome !== 'replaced') {
      // Changed since it was read (another notification): Fabric retries the restore.
      throw new ConflictError(
        'ItemConflict',
        'The item changed during the restore. Try again.',
        `item ${address.itemId}: ${outcome}`,
      );
    }
    log.info(`item ${address.itemId}: restored`);
    await this.tellHandler(address, restored, log, (h, item) => h.onRestored?.(item, { log }));
  }

  /**
   * For a job Create, read after its row is inserted: `foreign` when the item
   * id is another owner's item, `deleted` when the item is deleted or being
   * deleted. No item row at all is fine (workloads that keep no item state).
   */
  async jobGate(address: ItemAddress): Promise<JobGate> {
    const row = await this.store.ownedRow(address.itemId, address);
    if (row.found === 'foreign') return 'foreign';
    return row.found === 'own' && row.deletion !== undefined ? 'deleted' : 'allowed';
  }

  /** Sets the mark, on a row of its own when the item had none; the record is the row as it was, when it parses. */
  private async mark(
    address: ItemAddress,
    kind: DeleteKind,
  ): Promise<'foreign' | { had: boolean; record?: ItemRecord }> {
    for (;;) {
      const row = await this.store.ownedRow(address.itemId, address);
      if (row.found === 'foreign') return 'foreign';
      if (row.found === 'own') {
        // A soft delete of an item hard-deleted (or being so) leaves the stronger mark; a hard delete of a
        // tombstone runs again (its purge finds what a delete cut short left).
        const kept = row.deletion === kind || row.deletion === 'Gone' || (row.deletion === 'Hard' && kind === 'Soft');
        if (kept || (await this.store.mark(address.itemId, kind, this.now())) === 'marked') {
          return { had: true, record: row.record() };
        }
        continue; // deleted meanwhile: mark a row of our own
      }
      const tombstone: ItemRecord = {
        ...address,
        displayName: '',
        payload: '{}',
        deletion: kind,
        deletedUtc: this.now(),
      };
      if (await this.store.insert(tombstone)) return { had: false };
    }
  }

  /** Runs a handler hook; a delete is never blocked, so a hook's failure is logged, not answered. */
  private async tellHandler(
    address: ItemAddress,
    record: ItemRecord | undefined,
    log: RequestLog,
    hook: (handler: ItemHandler, item: Item) => unknown,
  ): Promise<void> {
    const handler = this.handlers.findItem(address.itemType);
    if (!handler) return;
    try {
      await hook(handler, toItem(record ?? { ...address, displayName: '', payload: '{}' }));
    } catch (error) {
      log.warn(`item ${address.itemId}: the item handler's hook failed: ${describeError(error)}`);
    }
  }
}
