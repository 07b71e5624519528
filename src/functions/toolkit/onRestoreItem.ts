import type { AppServices } from '../../app';
import type { AuthenticatedTenantCall } from '../../auth/subjectAndAppAuthenticator';
import { parseItemDefinitionRequest, type ItemDefinitionRequest } from '../../fabric/toolkitRequests';
import { emptyObjectResponse } from '../../fabric/responses';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/** Fabric restores a soft-deleted item, possibly with no user behind it; the item handler may refuse it. */
export const onRestoreItem = ({
  itemDeletion,
  config,
}: AppServices): Operation<ItemPath, ItemDefinitionRequest, AuthenticatedTenantCall> => ({
  name: 'ItemLifecycle_OnRestoreItem',
  method: 'POST',
  route: TOOLKIT_ROUTES.onRestoreItem.route,
  auth: 'subjectOptional',
  parsePath: parseItemPath,
  parseBody: parseItemDefinitionRequest,
  maxBodyBytes: config.itemDefinitionMaxBytes,
  // `{ definition? }`: an empty body is no definition.
  bodyOptional: true,
  run: async ({ path, caller, body, log }) => {
    await itemDeletion.restore({ ...path, tenantId: caller.tenantId }, body, log);
    return emptyObjectResponse();
  },
});
