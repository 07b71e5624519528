import { ConflictError, ItemConflictError, ItemNotFoundError, UnknownItemTypeError } from '../fabric/errors';
import type { CreateItemRequest, UpdateItemRequest } from '../fabric/requests';
import type { ItemDefinitionRequest } from '../fabric/toolkitRequests';
import type { Item, ItemHandler } from '../handlers/itemHandler';
import type { HandlerRegistry } from '../handlers/registry';
import type { RequestLog } from '../telemetry/log';
import type { ItemOwner } from '../storage/owner';
import type { ItemRecord } from './itemRow';
import type { ItemStore } from './itemStore';

/** One item as Fabric's path and the authenticated tenant name it. */
export interface ItemAddress extends ItemOwner {
  itemId: string;
}

/** ETag-conditional attempts of one update before it answers 409. */
export const MAX_UPDATE_ATTEMPTS = 5;

/**
 * Fabric's item lifecycle, for both contracts: ownership checked on every
 * read (another owner's item reads as missing), creation an insert that never
 * overwrites, updates ETag-conditional. v1 items carry a display name and a
 * payload; the toolkit's carry what is kept of their definition (its digest
 * and size). Deletion and restore are ItemDeletion's.
 */
export class Items {
  constructor(
    private readonly store: ItemStore,
    private readonly handlers: HandlerRegistry,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** ItemLifecycle_CreateItem. The same item again with the same owner is accepted again and changes nothing. */
  async create(address: ItemAddress, request: CreateItemRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    const record: ItemRecord = { ...address, displayName: request.displayName, payload: request.creationPayload };
    if (request.description !== undefined) record.description = request.description;
    await handler.validateCreation?.(JSON.parse(request.creationPayload), toItem(record));
    await this.insertOnce(record, log);
  }

  /** ItemLifecycle_OnCreateItem: the handler checks the definition; then as CreateItem. */
  async createFromDefinition(address: ItemAddress, request: ItemDefinitionRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    const record = this.notified({ ...address, displayName: '', payload: '{}' }, request);
    await handler.validateDefinition?.(request.definition, toItem(record));
    await this.insertOnce(record, log);
  }

  /** ItemLifecycle_UpdateItem: absent properties keep their value; a lost ETag race re-reads and applies the patch again. */
  async update(address: ItemAddress, request: UpdateItemRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    const current = await this.readOwned(address, log);
    if (request.updatePayload !== undefined) {
      await handler.validateUpdate?.(JSON.parse(request.updatePayload), toItem(current.record));
    }
    await this.replaceLoop(address, current, log, (record) => {
      const next: ItemRecord = { ...record };
      if (request.displayName !== undefined) next.displayName = request.displayName;
      if (request.description !== undefined) next.description = request.description;
      if (request.updatePayload !== undefined) next.payload = request.updatePayload;
      return next;
    });
  }

  /**
   * ItemLifecycle_OnUpdateItem: the handler checks the definition, then what is
   * kept of it is replaced. An item never heard of (notifications switched on
   * after it was created) is created: Fabric is the source of truth.
   */
  async updateDefinition(address: ItemAddress, request: ItemDefinitionRequest, log: RequestLog): Promise<void> {
    const handler = this.handlerOf(address.itemType);
    const lookup = await this.store.readFor(address.itemId, address);
    if (lookup.found === 'foreign')
      throw this.notFound(address, 'the row is not of this tenant, workspace and item type', log);
    if (lookup.found === 'none') {
      log.info(`item ${address.itemId}: not known yet; the update creates it`);
      return this.createFromDefinition(address, request, log);
    }
    await handler.validateDefinition?.(request.definition, toItem(lookup.record));
    await this.replaceLoop(address, lookup, log, (record) => this.notified(record, request));
  }

  /** ItemLifecycle_GetItemPayload: what the item handler makes of the stored item (default: the stored payload). */
  async payload(address: ItemAddress, log: RequestLog): Promise<Record<string, unknown>> {
    const { record } = await this.readOwned(address, log);
    const item = toItem(record);
    const handler = this.handlers.findItem(address.itemType);
    return handler?.editorPayload ? await handler.editorPayload(item) : item.payload;
  }

  /** The record with what a toolkit notification brings: its time, and the digest and size of its definition. */
  notified(record: ItemRecord, request: ItemDefinitionRequest): ItemRecord {
    const next: ItemRecord = { ...record, lastNotifiedUtc: this.now() };
    if (request.summary) {
      next.definitionDigest = request.summary.digest;
      next.definitionBytes = request.summary.bytes;
    }
    return next;
  }

  /** The item type's handler; an item type without one is `400 UnknownItemType`. */
  handlerOf(itemType: string): ItemHandler {
    const handler = this.handlers.findItem(itemType);
    if (!handler) throw new UnknownItemTypeError(itemType);
    return handler;
  }

  /** An insert that never overwrites: the same owner again is a retry (accepted, nothing changes), another owner 409. */
  async insertOnce(record: ItemRecord, log: RequestLog): Promise<void> {
    if (await this.store.insert(record)) {
      log.info(`item ${record.itemId}: created`);
      return;
    }
    let existing = await this.store.ownership(record.itemId, record);
    // 'none': deleted between the insert and the read (the retry of a Create that raced a Delete): insert again,
    // and if someone else's insert won that race too, it decides.
    if (existing === 'none' && (await this.store.insert(record))) return log.info(`item ${record.itemId}: created`);
    if (existing === 'none') existing = await this.store.ownership(record.itemId, record);
    if (existing !== 'own') throw new ItemConflictError(record.itemId);
    log.info(`item ${record.itemId}: already exists; a retry of the same Create`);
  }

  /** Replaces the row with `change(current)`, re-reading and re-applying after a lost ETag race. */
  private async replaceLoop(
    address: ItemAddress,
    first: { record: ItemRecord; etag: string },
    log: RequestLog,
    change: (record: ItemRecord) => ItemRecord,
  ): Promise<void> {
    let current = first;
    for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
      const outcome = await this.store.replace(change(current.record), current.etag);
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

  /** The caller's row with its ETag; ItemNotFoundError for a missing or foreign one. */
  async readOwned(address: ItemAddress, log: RequestLog): Promise<{ record: ItemRecord; etag: string }> {
    const lookup = await this.store.readFor(address.itemId, address);
    if (lookup.found === 'record') return lookup;
    throw this.notFound(
      address,
      lookup.found === 'none' ? 'no row' : 'the row is not of this tenant, workspace and item type',
      log,
    );
  }

  private notFound(address: ItemAddress, why: string, log: RequestLog): ItemNotFoundError {
    log.info(`item ${address.itemId}: ${why}; answering ItemNotFound`);
    return new ItemNotFoundError(`item ${address.itemId}: ${why}`);
  }
}

/** What an item handler is told about a stored item. */
export function toItem(record: ItemRecord): Item {
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
