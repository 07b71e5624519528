import type { AppServices } from '../../app';
import type { AuthenticatedTenantCall } from '../../auth/subjectAndAppAuthenticator';
import { parseDeleteItemRequest, type DeleteItemRequest } from '../../fabric/toolkitRequests';
import { emptyObjectResponse } from '../../fabric/responses';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/**
 * Fabric tells the backend an item was deleted, Hard or Soft, possibly with
 * no user behind it; never refused. Hard: as v1's DeleteItem. Soft: the item
 * is marked deleted, its running jobs cancelled, its job rows kept.
 */
export const onDeleteItem = ({
  itemDeletion,
}: AppServices): Operation<ItemPath, DeleteItemRequest, AuthenticatedTenantCall> => ({
  name: 'ItemLifecycle_OnDeleteItem',
  method: 'POST',
  route: TOOLKIT_ROUTES.onDeleteItem.route,
  auth: 'subjectOptional',
  parsePath: parseItemPath,
  parseBody: parseDeleteItemRequest,
  run: async ({ path, caller, body, log }) => {
    await itemDeletion.delete({ ...path, tenantId: caller.tenantId }, body.deleteType, log);
    return emptyObjectResponse();
  },
});
