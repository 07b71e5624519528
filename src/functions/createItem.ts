import type { AppServices } from '../app';
import { parseCreateItemRequest, type CreateItemRequest } from '../fabric/requests';
import { okResponse } from '../fabric/responses';
import { ITEM_ROUTE, parseItemPath, type ItemPath } from '../http/itemPath';
import type { Operation } from '../http/operation';

/** Fabric creates an item: the item handler checks the creation payload, one row is inserted, 200. */
export const createItem = ({ items }: AppServices): Operation<ItemPath, CreateItemRequest> => ({
  name: 'ItemLifecycle_CreateItem',
  method: 'POST',
  route: ITEM_ROUTE,
  parsePath: parseItemPath,
  parseBody: parseCreateItemRequest,
  run: async ({ path, caller, body, log }) => {
    await items.create({ ...path, tenantId: caller.tenantId }, body, log);
    return okResponse();
  },
});
