import type { AppServices } from '../../app';
import { jobStateResponse } from '../../fabric/responses';
import { parseJobInstanceRequest, type JobInstanceRequest } from '../../fabric/toolkitRequests';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';

/** The toolkit's job poll: exactly Jobs_GetItemJobInstanceState, the job named in the body. */
export const onGetJobInstanceStatus = ({ jobs, delegation }: AppServices): Operation<ItemPath, JobInstanceRequest> => ({
  name: 'Jobs_OnGetJobInstanceStatus',
  method: 'POST',
  route: TOOLKIT_ROUTES.onGetJobInstanceStatus.route,
  parsePath: parseItemPath,
  parseBody: parseJobInstanceRequest,
  run: async ({ path, caller, body, log }) => {
    const job = { ...path, ...body, tenantId: caller.tenantId };
    return jobStateResponse(await jobs.state(job, log, delegation.poll(job, caller)));
  },
});
