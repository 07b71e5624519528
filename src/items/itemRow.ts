import { InvalidItemRecordError } from '../fabric/errors';
import { isGuid } from '../ids';
import { forLog } from '../logValue';
import { OWNER_COLUMNS, type ItemOwner } from '../storage/owner';

/**
 * The Items row schema: one row per item, found by one point read
 * (PartitionKey = item id, RowKey = ITEM_ROW_KEY). This module is the only
 * place that spells an item column name.
 */
export const ITEM_COLUMNS = {
  partitionKey: 'partitionKey',
  rowKey: 'rowKey',
  ...OWNER_COLUMNS,
  displayName: 'DisplayName',
  description: 'Description',
  payload: 'Payload',
  deletion: 'Deletion',
  deletedUtc: 'DeletedUtc',
  lastNotifiedUtc: 'LastNotifiedUtc',
  definitionDigest: 'DefinitionDigest',
  definitionBytes: 'DefinitionBytes',
} as const;

/**
 * The item's deletion mark. `Soft`: Fabric soft-deleted it (it may be
 * restored); `Hard`: a delete is under way (its job rows are being removed, the
 * row goes last). Either way no new job of the item may be created: job Create
 * reads this mark after its insert, which makes the item row the one place a
 * delete and a Create are ordered.
 */
export type Deletion = DeleteKind | 'Gone';

/**
 * What a delete asks for. A hard delete marks the row `Hard` while it runs
 * and leaves it `Gone` (a tombstone: the owner and the mark, nothing of the
 * item) when it is done: only a `Gone` row reads as no item and may be
 * replaced by a new item of its id, so nothing can un-mark an item while its
 * delete is still removing its jobs.
 */
export type DeleteKind = 'Soft' | 'Hard';

/** Every item has exactly one row; a fixed RowKey leaves room for more rows per item later. */
export const ITEM_ROW_KEY = 'item';

export interface ItemRecord extends ItemOwner {
  /** PartitionKey, lowercase GUID. */
  itemId: string;
  /** Empty for items created through the toolkit's contract, which names none. */
  displayName: string;
  description?: string;
  /** The item's payload as JSON text of an object (`{}` when none was sent). */
  payload: string;
  deletion?: Deletion;
  /** When the deletion mark was set. */
  deletedUtc?: Date;
  /** The last lifecycle notification of the toolkit's contract. */
  lastNotifiedUtc?: Date;
  /** What is kept of the last item definition: its SHA-256 and size, never its content. */
  definitionDigest?: string;
  definitionBytes?: number;
}

export type ItemEntity = Record<string, unknown> & { partitionKey: string; rowKey: string };

export function toItemEntity(record: ItemRecord): ItemEntity {
  const entity: ItemEntity = {
    partitionKey: record.itemId.toLowerCase(),
    rowKey: ITEM_ROW_KEY,
    [ITEM_COLUMNS.tenantId]: record.tenantId.toLowerCase(),
    [ITEM_COLUMNS.workspaceId]: record.workspaceId.toLowerCase(),
    [ITEM_COLUMNS.itemType]: record.itemType,
    [ITEM_COLUMNS.displayName]: record.displayName,
    [ITEM_COLUMNS.payload]: record.payload,
  };
  if (record.description !== undefined) entity[ITEM_COLUMNS.description] = record.description;
  if (record.deletion !== undefined) entity[ITEM_COLUMNS.deletion] = record.deletion;
  if (record.deletedUtc !== undefined) entity[ITEM_COLUMNS.deletedUtc] = record.deletedUtc;
  if (record.lastNotifiedUtc !== undefined) entity[ITEM_COLUMNS.lastNotifiedUtc] = record.lastNotifiedUtc;
  if (record.definitionDigest !== undefined) entity[ITEM_COLUMNS.definitionDigest] = record.definitionDigest;
  if (record.definitionBytes !== undefined) {
    entity[ITEM_COLUMNS.definitionBytes] = record.definitionBytes;
  }
  return entity;
}

/**
 * The deletion mark of a raw row, read without parsing the rest (so a row of
 * the caller's that is otherwise corrupt still stops new jobs); anything but
 * the two marks reads as none.
 */
export function deletionOf(entity: Record<string, unknown>): Deletion | undefined {
  const value = entity[ITEM_COLUMNS.deletion];
  return value === 'Soft' || value === 'Hard' || value === 'Gone' ? value : undefined;
}

/** Parses the caller's row; throws InvalidItemRecordError naming every problem. */
export function parseItemRow(entity: Record<string, unknown>): ItemRecord {
  const problems: string[] = [];
  const text = (column: string, optional = false): string | undefined => {
    const value = entity[column];
    if (optional && (value === undefined || value === null)) return undefined;
    if (typeof value !== 'string') problems.push(`${column} is missing or not a string`);
    return typeof value === 'string' ? value : undefined;
  };
  const itemId = text(ITEM_COLUMNS.partitionKey) ?? '';
  const tenantId = text(ITEM_COLUMNS.tenantId) ?? '';
  const workspaceId = text(ITEM_COLUMNS.workspaceId) ?? '';
  const itemType = text(ITEM_COLUMNS.itemType) ?? '';
  const displayName = text(ITEM_COLUMNS.displayName, true) ?? '';
  const description = text(ITEM_COLUMNS.description, true);
  const payload = text(ITEM_COLUMNS.payload, true) ?? '{}';
  const time = (column: string): Date | undefined => {
    const value = entity[column];
    if (value === undefined || value === null) return undefined;
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) problems.push(`${column} is not a date-time`);
    return date;
  };
  const deletedUtc = time(ITEM_COLUMNS.deletedUtc);
  const lastNotifiedUtc = time(ITEM_COLUMNS.lastNotifiedUtc);
  const definitionDigest = text(ITEM_COLUMNS.definitionDigest, true);
  const definitionBytes = entity[ITEM_COLUMNS.definitionBytes];
  if (definitionBytes !== undefined && definitionBytes !== null && !Number.isInteger(definitionBytes)) {
    problems.push(`${ITEM_COLUMNS.definitionBytes} is not a whole number`);
  }
  if (!isGuid(itemId) || !isGuid(tenantId) || !isGuid(workspaceId))
    problems.push('a key or owner column is not a GUID');
  if (!isJsonObjectText(payload)) problems.push(`${ITEM_COLUMNS.payload} is not the JSON text of an object`);
  if (problems.length > 0) {
    throw new InvalidItemRecordError(
      `item row PartitionKey=${forLog(entity[ITEM_COLUMNS.partitionKey])} is invalid: ${problems.join('; ')}`,
    );
  }
  const record: ItemRecord = { itemId, tenantId, workspaceId, itemType, displayName, payload };
  if (description !== undefined) record.description = description;
  const deletion = deletionOf(entity);
  if (deletion !== undefined) record.deletion = deletion;
  if (deletedUtc !== undefined) record.deletedUtc = deletedUtc;
  if (lastNotifiedUtc !== undefined) record.lastNotifiedUtc = lastNotifiedUtc;
  if (definitionDigest !== undefined) record.definitionDigest = definitionDigest;
  if (typeof definitionBytes === 'number') record.definitionBytes = definitionBytes;
  return record;
}

function isJsonObjectText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
