import type { AppServices } from '../app';
import { UnknownJobTypeError } from '../fabric/errors';
import { parseCreateItemJobInstanceRequest, type CreateItemJobInstanceRequest } from '../fabric/requests';
import { JOB_INSTANCE_ROUTE, parseJobPath, type JobPath } from '../http/jobPath';
import type { Operation } from '../http/operation';

/** Fabric schedules a job: one row, one message, 202. The runner does the work. */
export const createItemJobInstance = ({
  jobs,
  handlers,
  items,
}: AppServices): Operation<JobPath, CreateItemJobInstanceRequest> => ({
  name: 'Jobs_CreateItemJobInstance',
  method: 'POST',
  route: JOB_INSTANCE_ROUTE,
  parsePath: parseJobPath,
  parseBody: parseCreateItemJobInstanceRequest,
  run: async ({ path, caller, body, log }) => {
    if (!handlers.findJob(path.itemType, path.jobType)) throw new UnknownJobTypeError(path.itemType, path.jobType);
    // An item row of another owner makes the id taken; no item row at all is fine (workloads that keep no item state).
    await items.checkNotForeign({ ...path, tenantId: caller.tenantId });
    await jobs.create({ ...path, ...body, tenantId: caller.tenantId, userObjectId: caller.userObjectId }, log);
    return { status: 202 };
  },
});
