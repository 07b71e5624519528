import { ItemPayloadError } from '../fabric/errors';

export { ItemPayloadError };

/** What an item handler is told about an item: its ids, owner and the values Fabric gave it. */
export interface Item {
  workspaceId: string;
  itemType: string;
  itemId: string;
  /** The tenant of the user on whose behalf Fabric called. */
  tenantId: string;
  displayName: string;
  description?: string;
  /** The stored payload (a JSON object; `{}` when none was sent). */
  payload: Record<string, unknown>;
}

/**
 * One item type's rules. Every method is optional: without one, any JSON
 * object is accepted and the editor gets what was stored. Throw an
 * ItemPayloadError to refuse a payload: Fabric gets 400 with its errorCode
 * and message, and nothing is written.
 */
export interface ItemHandler {
  /** Checks CreateItem's creationPayload (`{}` when none was sent); `item` is the item as it would be stored. */
  validateCreation?(creationPayload: Record<string, unknown>, item: Item): void | Promise<void>;
  /** Checks UpdateItem's updatePayload (only when one was sent); `item` is the item as stored now. */
  validateUpdate?(updatePayload: Record<string, unknown>, item: Item): void | Promise<void>;
  /** The itemPayload of GetItemPayload, which Fabric's item editor gets. */
  editorPayload?(item: Item): Record<string, unknown> | Promise<Record<string, unknown>>;
}
