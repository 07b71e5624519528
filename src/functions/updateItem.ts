import type { AppServices } from '../app';
import { parseUpdateItemRequest, type UpdateItemRequest } from '../fabric/requests';
import { okResponse } from '../fabric/responses';
import { ITEM_ROUTE, parseItemPath, type ItemPath } from '../http/itemPath';
import type { Operation } from '../http/operation';

/** Fabric updates an item with PATCH semantics: what is absent keeps its value. */
export const updateItem = ({ items }: AppServices): Operation<ItemPath, UpdateItemRequest> => ({
  name: 'ItemLifecycle_UpdateItem',
  method: 'PATCH',
  route: ITEM_ROUTE,
  parsePath: parseItemPath,
  parseBody: parseUpdateItemRequest,
  run: async ({ path, caller, body, log }) => {
    await items.update({ ...path, tenantId: caller.tenantId }, body, log);
    return okResponse();
  },
});
