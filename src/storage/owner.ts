/**
 * Who an item belongs to, and the one comparison of a stored row with an
 * owner. An item row and every job row of the item carry the same three owner
 * columns; a row answers a request only when all of them match.
 */

/** Who an item belongs to: the owner columns of its item row and of each of its job rows. */
export interface ItemOwner {
  tenantId: string;
  workspaceId: string;
  itemType: string;
}

/** The owner columns, as both row schemas spell them. */
export const OWNER_COLUMNS = { tenantId: 'TenantId', workspaceId: 'WorkspaceId', itemType: 'ItemType' } as const;

/** A string column equal to `expected`, ignoring case (ids are stored lowercase; type names compare case-insensitively). */
export function columnIs(entity: Record<string, unknown>, column: string, expected: string): boolean {
  const value = entity[column];
  return typeof value === 'string' && value.toLowerCase() === expected.toLowerCase();
}

/**
 * Whether a raw stored row is this owner's: checked before anything else is
 * read from it, so a row that is not the caller's is never parsed and reads
 * exactly like a missing one, even when it is corrupt.
 */
export function isOwnedBy(entity: Record<string, unknown>, owner: ItemOwner): boolean {
  return (
    columnIs(entity, OWNER_COLUMNS.tenantId, owner.tenantId) &&
    columnIs(entity, OWNER_COLUMNS.workspaceId, owner.workspaceId) &&
    columnIs(entity, OWNER_COLUMNS.itemType, owner.itemType)
  );
}
