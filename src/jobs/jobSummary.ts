import type { JobRecord } from './jobRow';
import type { JobUpdate } from './jobStateWriter';
import type { SummaryFields } from '../telemetry/summary';

/** A job's ids and owner, for the summary of a request or transition about it. */
export function jobFields(record: JobRecord): SummaryFields {
  const { tenantId, workspaceId, itemType, itemId, jobType, jobInstanceId } = record;
  return {
    tenantId,
    workspaceId,
    itemType,
    itemId,
    jobType,
    jobInstanceId,
    jobStatus: record.status,
    errorCode: record.errorDetails?.errorCode,
  };
}

/**
 * The JobTransition fields of a write that changed a job, or undefined when
 * it changed nothing. A job that ended carries its run time (StartTimeUtc to
 * EndTimeUtc), so job durations are one query away.
 */
export function transitionFields(
  update: Pick<JobUpdate, 'record' | 'changed' | 'previousStatus'>,
): SummaryFields | undefined {
  if (!update.changed) return undefined;
  const { record } = update;
  const ran =
    record.startTimeUtc && record.endTimeUtc ? record.endTimeUtc.getTime() - record.startTimeUtc.getTime() : undefined;
  return { ...jobFields(record), previousStatus: update.previousStatus, durationMs: ran };
}
