import type { AppServices } from '../../app';
import { UnknownJobTypeError } from '../../fabric/errors';
import { jobStateResponse } from '../../fabric/responses';
import {
  JOB_CREATE_MAX_BODY_BYTES,
  parseCreateJobInstanceRequest,
  type CreateJobInstanceRequest,
} from '../../fabric/toolkitRequests';
import { parseItemPath, type ItemPath } from '../../http/itemPath';
import type { Operation } from '../../http/operation';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';
import { toItemJobInstanceState } from '../../jobs/jobRow';

/**
 * The toolkit's job Create, on the one job engine: the same row, message,
 * runner and rules as Jobs_CreateItemJobInstance. The toolkit sends no
 * invokeType (stored `Manual`); its executionData is the job's creation
 * payload. 201 with the job's state (a retry: its current state).
 */
export const onCreateJobInstance = ({
  jobs,
  handlers,
  delegation,
}: AppServices): Operation<ItemPath, CreateJobInstanceRequest> => ({
  name: 'Jobs_OnCreateJobInstance',
  method: 'POST',
  route: TOOLKIT_ROUTES.onCreateJobInstance.route,
  parsePath: parseItemPath,
  parseBody: parseCreateJobInstanceRequest,
  maxBodyBytes: JOB_CREATE_MAX_BODY_BYTES,
  run: async ({ path, caller, body, log }) => {
    if (!handlers.findJob(path.itemType, body.jobType)) throw new UnknownJobTypeError(path.itemType, body.jobType);
    const job = { ...path, jobType: body.jobType, jobInstanceId: body.jobInstanceId };
    // As Jobs_CreateItemJobInstance: a job type with scopes checks them before any write.
    const sealed = await delegation.preflight(job, caller, log);
    const record = await jobs.create(
      {
        ...sealed,
        ...path,
        jobType: body.jobType,
        jobInstanceId: body.jobInstanceId,
        tenantId: caller.tenantId,
        userObjectId: caller.userObjectId,
        invokeType: 'Manual',
        creationPayload: body.executionData,
        definition: body.definition,
        contract: 'toolkit',
      },
      log,
    );
    return { ...jobStateResponse(toItemJobInstanceState(record)), status: 201 };
  },
});
