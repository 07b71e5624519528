import type { AppServices } from '../../app';
import { parseItemDefinitionRequest, type ItemDefinitionRequest } from '../../fabric/toolkitRequests';
import { emptyObjectResponse } from '../../fabric/responses';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/** Fabric tells the backend an item was created: the item handler checks its definition; one row is inserted. */
export const onCreateItem = ({ items, config }: AppServices): Operation<ItemPath, ItemDefinitionRequest> => ({
  name: 'ItemLifecycle_OnCreateItem',
  method: 'POST',
  route: TOOLKIT_ROUTES.onCreateItem.route,
  parsePath: parseItemPath,
  parseBody: parseItemDefinitionRequest,
  maxBodyBytes: config.itemDefinitionMaxBytes,
  // `{ definition? }`: an empty body is no definition.
  bodyOptional: true,
  run: async ({ path, caller, body, log }) => {
    await items.createFromDefinition({ ...path, tenantId: caller.tenantId }, body, log);
    return emptyObjectResponse();
  },
});
