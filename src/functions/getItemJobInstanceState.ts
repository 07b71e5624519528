import { jobStateResponse } from '../fabric/responses';
import { JOB_INSTANCE_ROUTE, parseJobPath, type JobPath } from '../http/jobPath';
import type { Operation } from '../http/operation';
import type { AppServices } from '../app';

/** Fabric polls a job's state about once a minute until it is terminal. */
export const getItemJobInstanceState = ({ jobs, delegation }: AppServices): Operation<JobPath> => ({
  name: 'Jobs_GetItemJobInstanceState',
  method: 'GET',
  route: JOB_INSTANCE_ROUTE,
  parsePath: parseJobPath,
  run: async ({ path, caller, log }) => {
    const job = { ...path, tenantId: caller.tenantId };
    // The job's own user's poll may refresh the token a running job keeps (never anyone else's).
    return jobStateResponse(await jobs.state(job, log, delegation.poll(job, caller)));
  },
});
