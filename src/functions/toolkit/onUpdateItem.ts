import type { AppServices } from '../../app';
import { parseItemDefinitionRequest, type ItemDefinitionRequest } from '../../fabric/toolkitRequests';
import { emptyObjectResponse } from '../../fabric/responses';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/** Fabric tells the backend an item's definition changed; an item never heard of is created. */
export const onUpdateItem = ({ items, config }: AppServices): Operation<ItemPath, ItemDefinitionRequest> => ({
  name: 'ItemLifecycle_OnUpdateItem',
  method: 'POST',
  route: TOOLKIT_ROUTES.onUpdateItem.route,
  parsePath: parseItemPath,
  parseBody: parseItemDefinitionRequest,
  maxBodyBytes: config.itemDefinitionMaxBytes,
  // `{ definition? }`: an empty body is no definition.
  bodyOptional: true,
  run: async ({ path, caller, body, log }) => {
    await items.updateDefinition({ ...path, tenantId: caller.tenantId }, body, log);
    return emptyObjectResponse();
  },
});
