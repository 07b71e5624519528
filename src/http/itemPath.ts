import { InvalidParameterError } from '../fabric/errors';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';

/** The Functions route of the ItemLifecycle operations, without the `api` prefix. No constraints: bad ids must reach the handler. */
export const ITEM_ROUTE = 'workspaces/{workspaceId}/items/{itemType}/{itemId}';

export interface ItemPath {
  workspaceId: string;
  itemType: string;
  itemId: string;
}

/** The path of one item under the `api` prefix, e.g. for a curl line or a test request. */
export function itemPath(path: ItemPath): string {
  return '/' + ITEM_ROUTE.replace(/\{(\w+)\}/g, (_, name: keyof ItemPath) => path[name]);
}

/** Checks the route values in path order; GUIDs come back lowercase. */
export function parseItemPath(params: Record<string, string | undefined>): ItemPath {
  const workspaceId = params.workspaceId;
  if (!isGuid(workspaceId)) throw new InvalidParameterError('workspaceId', 'it must be a GUID');
  const itemType = params.itemType;
  if (!isTypeName(itemType)) throw new InvalidParameterError('itemType', `it must be ${TYPE_NAME_RULE}`);
  const itemId = params.itemId;
  if (!isGuid(itemId)) throw new InvalidParameterError('itemId', 'it must be a GUID');
  return { workspaceId: workspaceId.toLowerCase(), itemType, itemId: itemId.toLowerCase() };
}
