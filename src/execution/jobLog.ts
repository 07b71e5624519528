import type { InvocationContext } from '@azure/functions';
import type { RunnerLog } from '../telemetry/log';
import type { SummaryWriter } from '../telemetry/summaryWriter';

/** A job runner's lines carry the job's ids, the way a request's carry its correlation ids. */
export function createJobLog(
  context: InvocationContext,
  job: { itemId: string; jobInstanceId: string },
  summaries: SummaryWriter,
): RunnerLog {
  const prefix = `job ${job.itemId}/${job.jobInstanceId}: `;
  return {
    info: (message) => context.info(prefix + message),
    warn: (message) => context.warn(prefix + message),
    error: (message) => context.error(prefix + message),
    transition: (fields) => summaries.write(context, 'JobTransition', { operation: context.functionName, ...fields }),
  };
}
