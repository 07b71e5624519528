import type { AppServices } from '../app';
import { jsonResponse } from '../fabric/responses';
import { ITEM_ROUTE, parseItemPath, type ItemPath } from '../http/itemPath';
import type { Operation } from '../http/operation';

/** Fabric's item editor opens an item: the payload its item handler builds (default: what was stored). */
export const getItemPayload = ({ items }: AppServices): Operation<ItemPath> => ({
  name: 'ItemLifecycle_GetItemPayload',
  method: 'GET',
  route: `${ITEM_ROUTE}/payload`,
  parsePath: parseItemPath,
  run: async ({ path, caller, log }) =>
    jsonResponse({ itemPayload: await items.payload({ ...path, tenantId: caller.tenantId }, log) }),
});
