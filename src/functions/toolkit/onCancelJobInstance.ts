import type { AppServices } from '../../app';
import { jobStateResponse } from '../../fabric/responses';
import { parseJobInstanceRequest, type JobInstanceRequest } from '../../fabric/toolkitRequests';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/** The toolkit's job cancel: exactly Jobs_CancelItemJobInstance; the answer is the state after the cancel. */
export const onCancelJobInstance = ({ jobs }: AppServices): Operation<ItemPath, JobInstanceRequest> => ({
  name: 'Jobs_OnCancelJobInstance',
  method: 'POST',
  route: TOOLKIT_ROUTES.onCancelJobInstance.route,
  parsePath: parseItemPath,
  parseBody: parseJobInstanceRequest,
  run: async ({ path, caller, body, log }) =>
    jobStateResponse(await jobs.cancel({ ...path, ...body, tenantId: caller.tenantId }, log)),
});
