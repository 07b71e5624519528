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
} as const;

/** Every item has exactly one row; a fixed RowKey leaves room for more rows per item later. */
export const ITEM_ROW_KEY = 'item';

export interface ItemRecord extends ItemOwner {
  /** PartitionKey, lowercase GUID. */
  itemId: string;
  displayName: string;
  description?: string;
  /** The item's payload as JSON text of an object (`{}` when none was sent). */
  payload: string;
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
  return entity;
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
  const displayName = text(ITEM_COLUMNS.displayName) ?? '';
  const description = text(ITEM_COLUMNS.description, true);
  const payload = text(ITEM_COLUMNS.payload) ?? '{}';
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
