import { ConflictError, ItemNotFoundError, UnknownItemTypeError } from '../fabric/errors';
import type { CreateItemRequest, UpdateItemRequest } from '../fabric/requests';
import type { Item, ItemHandler } from '../handlers/itemHandler';
import type { HandlerRegistry } from '../handlers/registry';
import type { RequestLog } from '../telemetry/log';
import type { ItemJobPurge } from '../jobs/itemJobPurge';
import type { ItemOwner } from '../storage/owner';
import type { ItemRecord } from './itemRow';
import type { ItemStore } from './itemStore';

/** One item as Fabric's path and the authenticated tenant name it. */
export interface ItemAddress extends ItemOwner {
  itemId: string;
}

/** ETag-conditional attempts of one UpdateItem before it answers 409. */
export const MAX_UPDATE_ATTEMPTS = 5;

/**
 * Fabric's item lifecycle (ItemLifecycle_*): ownership checked on every read
 * (another owner's item reads as missing), creation an insert that never
 * overwrites, updates ETag-conditional, deletion that takes the item's jobs
 * with it.
 */
export class Items {
  constructor(
    private readonly store: ItemStore,
    private readonly handlers: HandlerRegistry,
    private readonly jobs: ItemJobPurge,
  ) {}

  /** ItemLifecycle_CreateItem. The same item again with the same owner is accepted again and changes nothing. */
  async create(address: ItemAddress, request: CreateItemRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    const record: ItemRecord = { ...address, displayName: request.displayName, payload: request.creationPayload };
    if (request.description !== undefined) record.description = request.description;
    await handler.validateCreation?.(JSON.parse(request.creationPayload), toItem(record));
    if (await this.store.insert(record)) {
      log.info(`item ${address.itemId}: created`);
      return;
    }
    const existing = await this.store.ownership(address.itemId, address);
    if (existing === 'foreign') throw itemConflict(address.itemId);
    // 'none': deleted between the insert and the read; the retry of a Create that raced a Delete.
    if (existing === 'none' && !(await this.store.insert(record))) throw itemConflict(address.itemId);
    log.info(`item ${address.itemId}: already exists; a retry of the same Create`);
  }

  /** ItemLifecycle_UpdateItem: absent properties keep their value; a lost ETag race re-reads and applies the patch again. */
  async update(address: ItemAddress, request: UpdateItemRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    let current = await this.readOwned(address, log);
    if (request.updatePayload !== undefined)
      await handler.validateUpdate?.(JSON.parse(request.updatePayload), toItem(current.record));
    for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
      const next: ItemRecord = { ...current.record };
      if (request.displayName !== undefined) next.displayName = request.displayName;
      if (request.description !== undefined) next.description = request.description;
      if (request.updatePayload !== undefined) next.payload = request.updatePayload;
      const outcome = await this.store.replace(next, current.etag);
      if (outcome === 'replaced') {
        log.info(`item ${address.itemId}: updated${attempt > 1 ? ` on attempt ${attempt}` : ''}`);
        return;
      }
      if (outcome === 'gone') throw new ItemNotFoundError(`item ${address.itemId} was deleted during the update`);
      current = await this.readOwned(address, log);
    }
    throw new ConflictError(
      'ItemUpdateConflict',
      'The item kept changing while it was being updated. Try again.',
      `item ${address.itemId} changed on every one of ${MAX_UPDATE_ATTEMPTS} attempts`,
    );
  }

  /**
   * ItemLifecycle_DeleteItem: the item's jobs cancelled and their rows deleted,
   * then the item's row, last, so a delete cut short is finished by the next.
   * A missing item is fine (200); another owner's is left untouched (and, as
   * everywhere, answered as if missing).
   */
  async delete(address: ItemAddress, log: RequestLog): Promise<void> {
    const existing = await this.store.ownership(address.itemId, address);
    if (existing === 'foreign') {
      log.info(`item ${address.itemId}: the row is not of this tenant, workspace and item type; nothing deleted`);
      return;
    }
    const first = await this.jobs.purge(address.itemId, address, log);
    if (existing === 'own') await this.store.delete(address.itemId);
    // A job created while the first purge ran (its Create passed the item check before the row went) is caught here.
    const second = await this.jobs.purge(address.itemId, address, log);
    const deleted = first.deleted + second.deleted;
    const cancelled = first.cancelled + second.cancelled;
    log.info(
      `item ${address.itemId}: ${existing === 'own' ? 'deleted' : 'had no row'}; ${deleted} job rows deleted, ${cancelled} running jobs cancelled`,
    );
  }

  /** ItemLifecycle_GetItemPayload: what the item handler makes of the stored item (default: the stored payload). */
  async payload(address: ItemAddress, log: RequestLog): Promise<Record<string, unknown>> {
    const { record } = await this.readOwned(address, log);
    const item = toItem(record);
    const handler = this.handlers.findItem(address.itemType);
    return handler?.editorPayload ? await handler.editorPayload(item) : item.payload;
  }

  /** For CreateItemJobInstance: 409 when the item id is another owner's item; no row at all is fine. */
  async checkNotForeign(address: ItemAddress): Promise<void> {
    if ((await this.store.ownership(address.itemId, address)) === 'foreign') throw itemConflict(address.itemId);
  }

  private handlerOf(itemType: string): ItemHandler {
    const handler = this.handlers.findItem(itemType);
    if (!handler) throw new UnknownItemTypeError(itemType);
    return handler;
  }

  private async readOwned(address: ItemAddress, log: RequestLog): Promise<{ record: ItemRecord; etag: string }> {
    const lookup = await this.store.readFor(address.itemId, address);
    if (lookup.found === 'record') return lookup;
    const why = lookup.found === 'none' ? 'no row' : 'the row is not of this tenant, workspace and item type';
    log.info(`item ${address.itemId}: ${why}; answering ItemNotFound`);
    throw new ItemNotFoundError(`item ${address.itemId}: ${why}`);
  }
}

function itemConflict(itemId: string): ConflictError {
  return new ConflictError(
    'ItemConflict',
    'An item with this id already exists for another tenant, workspace or item type.',
    `item ${itemId} exists under another owner`,
  );
}

function toItem(record: ItemRecord): Item {
  const { workspaceId, itemType, itemId, tenantId, displayName, description } = record;
  const item: Item = {
    workspaceId,
    itemType,
    itemId,
    tenantId,
    displayName,
    payload: JSON.parse(record.payload) as Record<string, unknown>,
  };
  if (description !== undefined) item.description = description;
  return item;
}
