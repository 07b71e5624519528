import type { AppServices } from '../app';
import { UnknownJobTypeError } from '../fabric/errors';
import { parseCreateItemJobInstanceRequest, type CreateItemJobInstanceRequest } from '../fabric/requests';
import { JOB_INSTANCE_ROUTE, parseJobPath, type JobPath } from '../http/jobPath';
import type { Operation } from '../http/operation';

/** Fabric schedules a job: one row, one message, 202. The runner does the work. */
export const createItemJobInstance = ({
  jobs,
  handlers,
  delegation,
}: AppServices): Operation<JobPath, CreateItemJobInstanceRequest> => ({
  name: 'Jobs_CreateItemJobInstance',
  method: 'POST',
  route: JOB_INSTANCE_ROUTE,
  parsePath: parseJobPath,
  parseBody: parseCreateItemJobInstanceRequest,
  run: async ({ path, caller, body, log }) => {
    if (!handlers.findJob(path.itemType, path.jobType)) throw new UnknownJobTypeError(path.itemType, path.jobType);
    // A job type with scopes checks them now (401 AuthUIRequired reaches the user while they are there), before any write.
    const sealed = await delegation.preflight(path, caller, log);
    // The item's row is read after the insert: another owner's item is 409 ItemConflict, a deleted one 409 ItemDeleted.
    await jobs.create(
      { ...path, ...body, ...sealed, tenantId: caller.tenantId, userObjectId: caller.userObjectId },
      log,
    );
    return { status: 202 };
  },
});
