import type { AppServices } from '../app';
import { jobStateResponse } from '../fabric/responses';
import { JOB_INSTANCE_ROUTE, parseJobPath, type JobPath } from '../http/jobPath';
import type { Operation } from '../http/operation';

/** A user cancels a job: NotStarted and InProgress become Cancelled; the answer is the job's state either way. */
export const cancelItemJobInstance = ({ jobs }: AppServices): Operation<JobPath> => ({
  name: 'Jobs_CancelItemJobInstance',
  method: 'POST',
  route: `${JOB_INSTANCE_ROUTE}/cancel`,
  parsePath: parseJobPath,
  run: async ({ path, caller, log }) =>
    jobStateResponse(await jobs.cancel({ ...path, tenantId: caller.tenantId }, log)),
});
