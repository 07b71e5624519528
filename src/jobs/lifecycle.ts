/**
 * What can happen to a job, and what it can fail with: the one answer.
 *
 * - the legal moves between the contract's statuses (LEGAL_TRANSITIONS);
 * - every failure the system itself writes or answers (not found, lost
 *   runner, handler error, could not start, unknown job type) and how a
 *   handler's own failure is kept;
 * - when a running job's runner is judged lost;
 * - each write a job can receive, as a JobDecision for the writer's
 *   ETag-conditional loop: claim, heartbeat, outcome, cancel, lost runner,
 *   could not start.
 *
 * Everything here is pure: the writer, the runner, Cancel, DeleteItem, the
 * poison-queue function and the jobstate CLI consult it; none of it touches
 * storage.
 */
import {
  errorDetailsProblems,
  isJobInstanceStatus,
  type ErrorDetails,
  type ErrorSource,
  type ItemJobInstanceState,
  type JobInstanceStatus,
} from '../fabric/contract';
import { UnknownJobTypeError } from '../fabric/errors';
import { forLog } from '../logValue';
import type { StorageClock } from '../storage/serviceClock';
import { cutText, MAX_STRING_PROPERTY_LENGTH } from '../text';
import type { JobRecord } from './jobRow';
import { IllegalTransitionError, InvalidJobInputError } from './writerErrors';

// ---------------------------------------------------------------------------
// Transitions

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

/**
 * Throws InvalidJobInputError unless `errorDetails` is a contract ErrorDetails
 * object that fits the one Table property it is stored in (as JSON text).
 */
export function checkErrorDetails(errorDetails: unknown): asserts errorDetails is ErrorDetails {
  const problems = errorDetailsProblems(errorDetails);
  if (problems.length > 0) throw new InvalidJobInputError(`invalid ErrorDetails: ${problems.join('; ')}`);
  const stored = JSON.stringify(errorDetails).length;
  if (stored > MAX_STRING_PROPERTY_LENGTH)
    throw new InvalidJobInputError(
      `ErrorDetails take ${stored} characters as stored; a Table property holds at most ${MAX_STRING_PROPERTY_LENGTH}`,
    );
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
  if (isTerminal(to)) {
    next.endTimeUtc = now;
    // The write that ends a job removes its user's token: no terminal row holds one.
    delete next.userAssertion;
    delete next.userAssertionExpiresUtc;
  }
  if (errorDetails) next.errorDetails = errorDetails;
  return next;
}

// ---------------------------------------------------------------------------
// Failures the system writes

/** A missing row, and a row that belongs to someone else, both answer this. */
export const JOB_NOT_FOUND_STATE: ItemJobInstanceState = Object.freeze({
  status: 'Failed',
  errorDetails: Object.freeze({
    errorCode: 'JobInstanceNotFound',
    message: 'The job instance was not found.',
    source: 'System',
    isPermanent: true,
  }),
}) as ItemJobInstanceState;

/** Its runner stopped heartbeating (crash, scale-in, timeout): not permanent, the user may run it again. */
export const RUNNER_LOST_DETAILS: ErrorDetails = Object.freeze({
  errorCode: 'JobRunnerLost',
  message: 'The job stopped while it was running (its runner was stopped, restarted or timed out). Run it again.',
  source: 'System',
  isPermanent: false,
});

/**
 * The job needed its user's token and the one on its row had expired (Fabric
 * stopped polling it: the user closed the page long ago) or could not be
 * opened: not permanent, running it again gives it a fresh token.
 */
export const USER_TOKEN_EXPIRED: ErrorDetails = Object.freeze({
  errorCode: 'UserTokenExpired',
  message:
    "The job could no longer act for its user: the user's sign-in it was started with has expired. Run it again.",
  source: 'System',
  isPermanent: false,
});

/** The handler threw something other than a valid JobFailure; the stack goes to the log only. */
export const JOB_HANDLER_ERROR: ErrorDetails = Object.freeze({
  errorCode: 'JobHandlerError',
  message: 'The job failed with an unexpected error.',
  source: 'System',
  isPermanent: false,
});

/** Its queue message failed maxDequeueCount times and reached the poison queue. */
export const JOB_COULD_NOT_START: ErrorDetails = Object.freeze({
  errorCode: 'JobCouldNotStart',
  message: 'The job could not be started: its message failed repeatedly. Run it again.',
  source: 'System',
  isPermanent: false,
});

/**
 * A row whose (itemType, jobType) has no handler reached the runner (written
 * by another tool, or the handler was removed): Create's own 400 as the
 * job's failure, its source System because the backend, not the user, lacks it.
 */
export function unknownJobTypeDetails(record: Pick<JobRecord, 'itemType' | 'jobType'>): ErrorDetails {
  const error = new UnknownJobTypeError(record.itemType, record.jobType);
  return { errorCode: error.errorCode, message: error.message, source: 'System', isPermanent: error.isPermanent };
}

/** Longest message kept from a handler's JobFailure: the details live in one Table property beside the rest of the row. */
export const MAX_FAILURE_MESSAGE_LENGTH = 4096;
const FAILURE_ERROR_CODE = /^[A-Za-z0-9._-]{1,128}$/;

/** What a handler's JobFailure says, before it is checked. */
export interface HandlerFailure {
  errorCode: unknown;
  message: unknown;
  source: ErrorSource;
  isPermanent: boolean;
  moreDetails?: unknown;
}

/**
 * A handler's failure as the contract's ErrorDetails, known fields only, its
 * message cut to MAX_FAILURE_MESSAGE_LENGTH (never inside a surrogate pair);
 * undefined when the details are not valid (the job then fails with JOB_HANDLER_ERROR).
 */
export function handlerFailureDetails(failure: HandlerFailure): ErrorDetails | undefined {
  const { errorCode, message, source, isPermanent, moreDetails } = failure;
  const details = {
    errorCode,
    message: typeof message === 'string' ? cutText(message, MAX_FAILURE_MESSAGE_LENGTH) : message,
    source,
    isPermanent,
    ...(moreDetails !== undefined ? { moreDetails } : {}),
  };
  if (typeof errorCode !== 'string' || !FAILURE_ERROR_CODE.test(errorCode)) return undefined;
  try {
    checkErrorDetails(details); // what every Failed write must pass: the contract's shape, and a fit in its Table property
    return details;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Lost runners

/** A runner that missed this many heartbeats in a row is gone. */
export const LOST_AFTER_HEARTBEATS = 4;

/**
 * How long the runner of an InProgress job has left before it is judged lost,
 * in milliseconds (0 or less: it is lost); undefined when it can never be.
 *
 * One clock only, the storage service's: the time between the row's last
 * write (Timestamp; while a job runs, only its runner writes it) and the
 * service's answer to this read (Date). No process's clock counts, so a
 * runner whose clock is behind is not judged lost early and one whose clock
 * is ahead does not hide its death. The interval is the one the runner wrote
 * on the row at its claim (HeartbeatSeconds); a row without it is judged by
 * the reader's setting.
 *
 * Never lost: a row without a heartbeat (written by the writer or the jobstate
 * CLI for a runner that does not heartbeat), and a row read without the
 * service's clock (nothing to measure by).
 */
export function timeUntilRunnerLost(
  record: JobRecord,
  clock: StorageClock | undefined,
  readerHeartbeatSeconds: number,
): number | undefined {
  if (record.status !== 'InProgress' || !record.heartbeatUtc || !clock) return undefined;
  const heartbeatSeconds = record.heartbeatSeconds ?? readerHeartbeatSeconds;
  const age = clock.readAt.getTime() - clock.writtenAt.getTime();
  return LOST_AFTER_HEARTBEATS * heartbeatSeconds * 1000 - age;
}

/** Whether the runner of an InProgress job has stopped heartbeating (timeUntilRunnerLost has run out). */
export function isRunnerLost(
  record: JobRecord,
  clock: StorageClock | undefined,
  readerHeartbeatSeconds: number,
): boolean {
  const left = timeUntilRunnerLost(record, clock, readerHeartbeatSeconds);
  return left !== undefined && left < 0;
}

/** Added to a watch's delay: the Date header's one-second resolution, and a second more. */
export const WATCH_MARGIN_MS = 2000;

/**
 * How long a redelivered message waits before it looks at a running job
 * again: until the job would be judged lost (plus a margin), never longer
 * than a whole lost-runner threshold plus the margin; undefined when the job
 * can never be judged lost (no heartbeat, no clock: nothing to watch for).
 */
export function watchDelayMs(
  record: JobRecord,
  clock: StorageClock | undefined,
  readerHeartbeatSeconds: number,
): number | undefined {
  const left = timeUntilRunnerLost(record, clock, readerHeartbeatSeconds);
  if (left === undefined) return undefined;
  const threshold = LOST_AFTER_HEARTBEATS * (record.heartbeatSeconds ?? readerHeartbeatSeconds) * 1000;
  return Math.min(Math.max(left, 0), threshold) + WATCH_MARGIN_MS;
}

// ---------------------------------------------------------------------------
// Decisions: every write a job can receive

/**
 * Decides a row's next state from its current one; undefined leaves it as it
 * is. The writer calls it again with the fresh row after every lost ETag
 * race, so it must decide from its arguments alone. `now` (this process's
 * clock) stamps the times a write records; `clock` is the storage service's
 * time of the read that produced `current`, the only one a lost runner is
 * judged by (absent when the row is known from a write, not a read).
 */
export type JobDecision = (current: JobRecord, now: Date, clock?: StorageClock) => JobRecord | undefined;

/** Records a lost runner as `Failed JobRunnerLost`; leaves every other row as it is. */
export function markLostRunner(heartbeatSeconds: number): JobDecision {
  return (current, now, clock) =>
    isRunnerLost(current, clock, heartbeatSeconds)
      ? applyTransition(current, 'Failed', now, RUNNER_LOST_DETAILS)
      : undefined;
}

/** DeleteItem before it deletes a job: NotStarted and InProgress become Cancelled; terminal states stay. */
export const cancelUnlessTerminal: JobDecision = (current, now) =>
  isTerminal(current.status) ? undefined : applyTransition(current, 'Cancelled', now);

/** Jobs_CancelItemJobInstance: a lost runner is recorded as such; otherwise as cancelUnlessTerminal. */
export function cancelJob(heartbeatSeconds: number): JobDecision {
  const lost = markLostRunner(heartbeatSeconds);
  return (current, now, clock) => lost(current, now, clock) ?? cancelUnlessTerminal(current, now);
}

/**
 * The runner's claim: NotStarted → InProgress with a first heartbeat and the
 * runner's own interval (HeartbeatSeconds, what every reader judges it by);
 * a lost runner recorded; anything else left.
 */
export function claimJob(heartbeatSeconds: number): JobDecision {
  const lost = markLostRunner(heartbeatSeconds);
  return (current, now, clock) =>
    current.status === 'NotStarted'
      ? { ...applyTransition(current, 'InProgress', now), heartbeatUtc: now, heartbeatSeconds }
      : lost(current, now, clock);
}

/** A heartbeat: only while the job is InProgress (a Cancel or a lost-runner record stops it). */
export const heartbeatJob: JobDecision = (current, now) =>
  current.status === 'InProgress' ? { ...current, heartbeatUtc: now } : undefined;

/** How a handler's run ended. */
export interface JobOutcome {
  status: Extract<JobInstanceStatus, 'Completed' | 'Failed'>;
  errorDetails?: ErrorDetails;
}

/** The handler's outcome, unless the row has moved on (Cancelled, lost): terminal states never change. */
export function finishJob(outcome: JobOutcome): JobDecision {
  return (current, now) =>
    current.status === 'InProgress' ? applyTransition(current, outcome.status, now, outcome.errorDetails) : undefined;
}

/** The poison-queue function: a job that never started is `Failed JobCouldNotStart`; a lost runner is recorded. */
export function couldNotStartJob(heartbeatSeconds: number): JobDecision {
  const lost = markLostRunner(heartbeatSeconds);
  return (current, now, clock) =>
    current.status === 'NotStarted'
      ? applyTransition(current, 'Failed', now, JOB_COULD_NOT_START)
      : lost(current, now, clock);
}

// ---------------------------------------------------------------------------
// The user's token on a running job's row

/** A poll refreshes the stored token once it is this close to its expiry: at most one extra write per half hour per job. */
export const ASSERTION_REFRESH_WINDOW_MS = 30 * 60_000;

/** The user whose poll (v1 Get, the toolkit's status call) may refresh the stored token, and that token sealed on demand. */
export interface PollingUser {
  tenantId: string;
  userObjectId?: string;
  /** When the poll's subject token expires. */
  expiresOn: Date;
  /** The poll's subject token sealed for this row; called only when the row takes it. */
  seal(): string;
}

/**
 * A poll by the job's own user (same tenant and oid as the Create's) replaces
 * the stored token with its own when the stored one is within
 * ASSERTION_REFRESH_WINDOW_MS of expiry and the poll's lives longer; a poll by
 * anyone else, or of a job without a stored token or already terminal, never
 * writes. So a job keeps a usable token for as long as Fabric polls it.
 */
export function refreshUserAssertion(poll: PollingUser): JobDecision {
  return (current, now) => {
    const stored = current.userAssertionExpiresUtc;
    if (isTerminal(current.status) || current.userAssertion === undefined || !stored) return undefined;
    if (!poll.userObjectId || current.userObjectId?.toLowerCase() !== poll.userObjectId.toLowerCase()) return undefined;
    if (current.tenantId.toLowerCase() !== poll.tenantId.toLowerCase()) return undefined;
    if (stored.getTime() - now.getTime() > ASSERTION_REFRESH_WINDOW_MS) return undefined;
    if (poll.expiresOn.getTime() <= stored.getTime()) return undefined;
    return { ...current, userAssertion: poll.seal(), userAssertionExpiresUtc: poll.expiresOn };
  };
}

/** A poll: a lost runner is recorded first; otherwise the job's own user may refresh its token. */
export function pollJob(heartbeatSeconds: number, poll?: PollingUser): JobDecision {
  const lost = markLostRunner(heartbeatSeconds);
  const refresh = poll && refreshUserAssertion(poll);
  return (current, now, clock) => lost(current, now, clock) ?? refresh?.(current, now, clock);
}
