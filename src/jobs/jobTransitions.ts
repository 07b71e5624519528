import {
  errorDetailsProblems,
  isJobInstanceStatus,
  type ErrorDetails,
  type JobInstanceStatus,
} from '../fabric/contract';
import { forLog } from '../logValue';
import type { JobRecord } from './jobRow';
import { IllegalTransitionError, InvalidJobInputError } from './writerErrors';

/** The only moves a job may make; terminal states have none. */
export const LEGAL_TRANSITIONS: Readonly<Record<JobInstanceStatus, readonly JobInstanceStatus[]>> = {
  NotStarted: ['InProgress', 'Cancelled', 'Failed'],
  InProgress: ['Completed', 'Failed', 'Cancelled'],
  Completed: [],
  Failed: [],
  Cancelled: [],
};

export const INITIAL_STATUSES: readonly JobInstanceStatus[] = ['NotStarted', 'InProgress'];

export function isTerminal(status: JobInstanceStatus): boolean {
  return LEGAL_TRANSITIONS[status].length === 0;
}

/** Throws InvalidJobInputError unless `errorDetails` is a contract ErrorDetails object. */
export function checkErrorDetails(errorDetails: unknown): asserts errorDetails is ErrorDetails {
  const problems = errorDetailsProblems(errorDetails);
  if (problems.length > 0) throw new InvalidJobInputError(`invalid ErrorDetails: ${problems.join('; ')}`);
}

/** What can be said of a move without the row: a known status, and ErrorDetails exactly when it is Failed. */
export function checkTarget(to: unknown, errorDetails?: unknown): asserts to is JobInstanceStatus {
  if (!isJobInstanceStatus(to)) throw new InvalidJobInputError(`unknown status ${forLog(to)}`);
  if (to === 'Failed') {
    if (errorDetails === undefined) throw new InvalidJobInputError('Failed needs ErrorDetails');
    checkErrorDetails(errorDetails);
  } else if (errorDetails !== undefined) {
    throw new InvalidJobInputError(`only Failed takes ErrorDetails, not ${to}`);
  }
}

/**
 * The record after moving to `to`: `InProgress` stamps StartTimeUtc if absent,
 * terminal states stamp EndTimeUtc, `Failed` carries its ErrorDetails.
 */
export function applyTransition(
  record: JobRecord,
  to: JobInstanceStatus,
  now: Date,
  errorDetails?: ErrorDetails,
): JobRecord {
  checkTarget(to, errorDetails);
  if (!LEGAL_TRANSITIONS[record.status].includes(to)) {
    const allowed = LEGAL_TRANSITIONS[record.status];
    throw new IllegalTransitionError(
      `job ${record.itemId}/${record.jobInstanceId} is ${record.status}; it cannot become ${to}` +
        (allowed.length ? ` (allowed: ${allowed.join(', ')})` : ' (a terminal state never changes)'),
    );
  }
  const next: JobRecord = { ...record, status: to };
  if (to === 'InProgress' && !next.startTimeUtc) next.startTimeUtc = now;
  if (isTerminal(to)) next.endTimeUtc = now;
  if (errorDetails) next.errorDetails = errorDetails;
  return next;
}
