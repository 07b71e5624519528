import type { AppServices } from '../app';
import { okResponse } from '../fabric/responses';
import { ITEM_ROUTE, parseItemPath, type ItemPath } from '../http/itemPath';
import type { Operation } from '../http/operation';

/** Fabric deletes an item: its running jobs cancelled, its job rows and its row deleted; a missing item is 200 too. */
export const deleteItem = ({ itemDeletion }: AppServices): Operation<ItemPath> => ({
  name: 'ItemLifecycle_DeleteItem',
  method: 'DELETE',
  route: ITEM_ROUTE,
  parsePath: parseItemPath,
  run: async ({ path, caller, log }) => {
    await itemDeletion.delete({ ...path, tenantId: caller.tenantId }, 'Hard', log);
    return okResponse();
  },
});
