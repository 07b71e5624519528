import { ItemPayloadError } from '../fabric/errors';
import type { ItemDefinition, ItemDefinitionPart } from '../fabric/toolkitRequests';

export { ItemPayloadError, type ItemDefinition, type ItemDefinitionPart };

/** What an item handler is told about an item: its ids, owner and the values Fabric gave it. */
export interface Item {
  workspaceId: string;
  itemType: string;
  itemId: string;
  /** The tenant of the user on whose behalf Fabric called. */
  tenantId: string;
  /** Empty for items of the Extensibility Toolkit's contract, which names none. */
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

  // The Extensibility Toolkit's lifecycle notifications (OnCreateItem, OnUpdateItem, OnDeleteItem, OnRestoreItem).

  /**
   * Checks the item's definition on OnCreateItem, OnUpdateItem and OnRestoreItem
   * (`undefined` when none came; InlineBase64 parts arrive decoded in `bytes`).
   * Throwing ItemPayloadError refuses the operation: Fabric shows the user its
   * message, and nothing is written.
   */
  validateDefinition?(definition: ItemDefinition | undefined, item: Item): void | Promise<void>;
  /**
   * The item was deleted (any contract): release what it holds. `Soft` may be
   * followed by onRestored. A delete cannot be refused: a throw is logged.
   */
  onDeleted?(item: Item, kind: 'Hard' | 'Soft', context: ItemHookContext): void | Promise<void>;
  /** A soft-deleted item was restored (after validateDefinition accepted it); a throw is logged. */
  onRestored?(item: Item, context: ItemHookContext): void | Promise<void>;
}

/** What the delete and restore hooks are given besides the item. */
export interface ItemHookContext {
  /** Lines of the request's log (its correlation ids added). */
  log: { info(message: string): void; warn(message: string): void };
}
