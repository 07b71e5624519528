import type { StorageClock } from '../../../src/storage/serviceClock';
import { describe, expect, it } from 'vitest';
import { JOB_INSTANCE_STATUSES, type JobInstanceStatus } from '../../../src/fabric/contract';
import type { JobRecord } from '../../../src/jobs/jobRow';
import {
  applyTransition,
  cancelJob,
  cancelUnlessTerminal,
  checkTarget,
  claimJob,
  couldNotStartJob,
  finishJob,
  handlerFailureDetails,
  heartbeatJob,
  isRunnerLost,
  isTerminal,
  markLostRunner,
  MAX_FAILURE_MESSAGE_LENGTH,
  unknownJobTypeDetails,
  ASSERTION_REFRESH_WINDOW_MS,
  pollJob,
  refreshUserAssertion,
  type HandlerFailure,
  type JobDecision,
  type PollingUser,
} from '../../../src/jobs/lifecycle';
import { IllegalTransitionError, InvalidJobInputError } from '../../../src/jobs/writerErrors';
import { FORECAST_FAILED, HEARTBEAT_SECONDS, jobRecord, T0 } from '../../fixtures/jobs';

const NOW = new Date(T0.getTime() + 3_600_000);
const EARLIER = new Date(T0.getTime() + 60_000);
const LOST_AFTER_MS = 4 * HEARTBEAT_SECONDS * 1000;

/** A row of each status as the runner leaves it: InProgress started EARLIER, terminal ones ended EARLIER. */
function rowIn(status: JobInstanceStatus): JobRecord {
  const record = jobRecord({ status });
  if (status !== 'NotStarted') record.startTimeUtc = T0;
  if (isTerminal(status)) record.endTimeUtc = EARLIER;
  if (status === 'Failed') record.errorDetails = FORECAST_FAILED;
  return record;
}

const detailsFor = (to: JobInstanceStatus) => (to === 'Failed' ? FORECAST_FAILED : undefined);

describe('applyTransition', () => {
  // Spelled out rather than read from LEGAL_TRANSITIONS, so a change to the table shows here.
  const LEGAL: Record<JobInstanceStatus, JobInstanceStatus[]> = {
    NotStarted: ['InProgress', 'Cancelled', 'Failed'],
    InProgress: ['Completed', 'Failed', 'Cancelled'],
    Completed: [],
    Failed: [],
    Cancelled: [],
  };
  const pairs = JOB_INSTANCE_STATUSES.flatMap((from) => JOB_INSTANCE_STATUSES.map((to) => [from, to] as const));

  it.each(pairs.filter(([from, to]) => LEGAL[from].includes(to)))('%s -> %s is legal', (from, to) => {
    const before = rowIn(from);
    const unchanged = structuredClone(before);
    const after = applyTransition(before, to, NOW, detailsFor(to));
    expect(after.status).toBe(to);
    // InProgress stamps StartTimeUtc when there is none; the start of a running job is kept.
    expect(after.startTimeUtc).toEqual(from === 'NotStarted' ? (to === 'InProgress' ? NOW : undefined) : T0);
    expect(after.endTimeUtc).toEqual(to === 'InProgress' ? undefined : NOW);
    expect(after.errorDetails).toEqual(detailsFor(to));
    expect(before, 'the row it was given').toEqual(unchanged);
  });

  it.each(pairs.filter(([from, to]) => !LEGAL[from].includes(to)))('%s -> %s is illegal', (from, to) => {
    const attempt = () => applyTransition(rowIn(from), to, NOW, detailsFor(to));
    expect(attempt).toThrow(IllegalTransitionError);
    expect(attempt).toThrow(
      LEGAL[from].length ? `(allowed: ${LEGAL[from].join(', ')})` : '(a terminal state never changes)',
    );
  });

  it('keeps a StartTimeUtc a NotStarted row already has when it starts', () => {
    expect(applyTransition(jobRecord({ startTimeUtc: T0 }), 'InProgress', NOW).startTimeUtc).toEqual(T0);
  });

  it('checks the target before the row: ErrorDetails on Completed is invalid input, not an illegal move', () => {
    expect(() => applyTransition(rowIn('Completed'), 'Completed', NOW, FORECAST_FAILED)).toThrow(InvalidJobInputError);
  });
});

describe('checkTarget', () => {
  it.each([
    ['an unknown status', 'Running', undefined, /unknown status "Running"/],
    ['a status of another type', 3, undefined, /unknown status 3/],
    ['Failed without ErrorDetails', 'Failed', undefined, /Failed needs ErrorDetails/],
    ['Failed with ErrorDetails that are not an object', 'Failed', 'boom', /invalid ErrorDetails/],
    ['Failed with ErrorDetails without a source', 'Failed', { errorCode: 'E', message: 'm' }, /source must be one of/],
    ['Failed with an unknown property', 'Failed', { ...FORECAST_FAILED, stack: 'at x' }, /unknown property "stack"/],
    ['ErrorDetails on Completed', 'Completed', FORECAST_FAILED, /only Failed takes ErrorDetails, not Completed/],
    ['ErrorDetails on Cancelled', 'Cancelled', FORECAST_FAILED, /only Failed takes ErrorDetails, not Cancelled/],
  ])('refuses %s', (_name, to, details, message) => {
    expect(() => checkTarget(to, details)).toThrow(InvalidJobInputError);
    expect(() => checkTarget(to, details)).toThrow(message);
  });

  it.each([
    ...JOB_INSTANCE_STATUSES.filter((status) => status !== 'Failed').map((status) => [status, undefined] as const),
    ['Failed', FORECAST_FAILED] as const,
  ])('accepts %s with its details', (to, details) => {
    expect(() => checkTarget(to, details)).not.toThrow();
  });
});

it.each([
  ['NotStarted', false],
  ['InProgress', false],
  ['Completed', true],
  ['Failed', true],
  ['Cancelled', true],
] as const)('isTerminal(%s) is %s', (status, terminal) => {
  expect(isTerminal(status)).toBe(terminal);
});

/** A read of a row the service last wrote `ms` before it answered. */
const clockAged = (ms: number): StorageClock => ({ writtenAt: new Date(NOW.getTime() - ms), readAt: NOW });

describe('isRunnerLost', () => {
  const beatAgo = (ms: number, status: JobInstanceStatus = 'InProgress') =>
    jobRecord({ status, heartbeatUtc: new Date(NOW.getTime() - ms) });

  it.each([
    ['a row last written exactly four intervals before the read', beatAgo(LOST_AFTER_MS), LOST_AFTER_MS, false],
    ['a row last written just over four intervals before', beatAgo(LOST_AFTER_MS + 1), LOST_AFTER_MS + 1, true],
    ['a row written just now', beatAgo(0), 0, false],
    [
      'no heartbeat at all, however old the row',
      jobRecord({ status: 'InProgress', startTimeUtc: new Date(0) }),
      LOST_AFTER_MS * 10,
      false,
    ],
    ['an old row that is no longer InProgress', beatAgo(LOST_AFTER_MS * 10, 'Cancelled'), LOST_AFTER_MS * 10, false],
    ['an old NotStarted row', beatAgo(LOST_AFTER_MS * 10, 'NotStarted'), LOST_AFTER_MS * 10, false],
  ])('%s: %s', (_name, record, age, lost) => {
    expect(isRunnerLost(record, clockAged(age), HEARTBEAT_SECONDS)).toBe(lost);
  });

  it("scales with the runner's own interval written on the row, else the reader's", () => {
    expect(isRunnerLost(beatAgo(0), clockAged(LOST_AFTER_MS + 1), HEARTBEAT_SECONDS * 2)).toBe(false);
    expect(
      isRunnerLost(
        { ...beatAgo(0), heartbeatSeconds: HEARTBEAT_SECONDS * 2 },
        clockAged(LOST_AFTER_MS + 1),
        HEARTBEAT_SECONDS,
      ),
    ).toBe(false);
  });

  it('judges nothing lost without the storage clock, or by the heartbeat the runner wrote with its own clock', () => {
    expect(isRunnerLost(beatAgo(LOST_AFTER_MS * 10), undefined, HEARTBEAT_SECONDS)).toBe(false);
    expect(isRunnerLost(beatAgo(LOST_AFTER_MS * 10), clockAged(0), HEARTBEAT_SECONDS)).toBe(false);
  });
});

describe('decisions', () => {
  const ROWS: Record<string, JobRecord> = {
    NotStarted: rowIn('NotStarted'),
    'InProgress, fresh beat': { ...rowIn('InProgress'), heartbeatUtc: new Date(NOW.getTime() - 1000) },
    'InProgress, lost': { ...rowIn('InProgress'), heartbeatUtc: new Date(NOW.getTime() - LOST_AFTER_MS - 1) },
    'InProgress, no heartbeat': rowIn('InProgress'),
    Completed: rowIn('Completed'),
    Failed: rowIn('Failed'),
    Cancelled: rowIn('Cancelled'),
  };
  const DECISIONS: Record<string, JobDecision> = {
    claimJob: claimJob(HEARTBEAT_SECONDS),
    heartbeatJob,
    'finishJob(Completed)': finishJob({ status: 'Completed' }),
    'finishJob(Failed)': finishJob({ status: 'Failed', errorDetails: FORECAST_FAILED }),
    cancelJob: cancelJob(HEARTBEAT_SECONDS),
    cancelUnlessTerminal,
    markLostRunner: markLostRunner(HEARTBEAT_SECONDS),
    couldNotStartJob: couldNotStartJob(HEARTBEAT_SECONDS),
  };
  /** '-': the row is left as it is; 'beat': the same status with HeartbeatUtc now. */
  const LEFT = { Completed: '-', Failed: '-', Cancelled: '-' };
  const EXPECTED: Record<keyof typeof DECISIONS, Record<keyof typeof ROWS, string>> = {
    claimJob: {
      NotStarted: 'InProgress beat',
      'InProgress, fresh beat': '-',
      'InProgress, lost': 'Failed JobRunnerLost',
      'InProgress, no heartbeat': '-',
      ...LEFT,
    },
    heartbeatJob: {
      NotStarted: '-',
      'InProgress, fresh beat': 'InProgress beat',
      'InProgress, lost': 'InProgress beat',
      'InProgress, no heartbeat': 'InProgress beat',
      ...LEFT,
    },
    'finishJob(Completed)': {
      NotStarted: '-',
      'InProgress, fresh beat': 'Completed',
      'InProgress, lost': 'Completed',
      'InProgress, no heartbeat': 'Completed',
      ...LEFT,
    },
    'finishJob(Failed)': {
      NotStarted: '-',
      'InProgress, fresh beat': 'Failed ForecastFailed',
      'InProgress, lost': 'Failed ForecastFailed',
      'InProgress, no heartbeat': 'Failed ForecastFailed',
      ...LEFT,
    },
    cancelJob: {
      NotStarted: 'Cancelled',
      'InProgress, fresh beat': 'Cancelled',
      'InProgress, lost': 'Failed JobRunnerLost',
      'InProgress, no heartbeat': 'Cancelled',
      ...LEFT,
    },
    cancelUnlessTerminal: {
      NotStarted: 'Cancelled',
      'InProgress, fresh beat': 'Cancelled',
      'InProgress, lost': 'Cancelled',
      'InProgress, no heartbeat': 'Cancelled',
      ...LEFT,
    },
    markLostRunner: {
      NotStarted: '-',
      'InProgress, fresh beat': '-',
      'InProgress, lost': 'Failed JobRunnerLost',
      'InProgress, no heartbeat': '-',
      ...LEFT,
    },
    couldNotStartJob: {
      NotStarted: 'Failed JobCouldNotStart',
      'InProgress, fresh beat': '-',
      'InProgress, lost': 'Failed JobRunnerLost',
      'InProgress, no heartbeat': '-',
      ...LEFT,
    },
  };

  function outcome(before: JobRecord, after: JobRecord | undefined): string {
    if (!after) return '-';
    const parts: string[] = [after.status];
    if (after.errorDetails) parts.push(after.errorDetails.errorCode);
    if (after.heartbeatUtc?.getTime() === NOW.getTime() && before.heartbeatUtc?.getTime() !== NOW.getTime())
      parts.push('beat');
    return parts.join(' ');
  }

  /** The storage clock of each row's read: the lost one last written over four beats before it, the others a second before. */
  const clockOf = (row: string) => clockAged(row === 'InProgress, lost' ? LOST_AFTER_MS + 1 : 1000);

  const cases = Object.keys(DECISIONS).flatMap((decision) => Object.keys(ROWS).map((row) => [decision, row] as const));
  it.each(cases)('%s on %s', (decision, row) => {
    const before = structuredClone(ROWS[row]);
    const after = DECISIONS[decision](before, NOW, clockOf(row));
    expect(outcome(before, after)).toBe(EXPECTED[decision][row]);
    expect(before, 'a decision never changes its argument').toEqual(ROWS[row]);
  });

  it('a claim stamps the start and the first heartbeat with the same instant', () => {
    const claimed = claimJob(HEARTBEAT_SECONDS)(rowIn('NotStarted'), NOW);
    expect(claimed).toMatchObject({ status: 'InProgress', startTimeUtc: NOW, heartbeatUtc: NOW });
    expect(claimed?.endTimeUtc).toBeUndefined();
  });

  it('a lost runner is recorded as not permanent, ended now, its start kept', () => {
    const recorded = markLostRunner(HEARTBEAT_SECONDS)(ROWS['InProgress, lost'], NOW, clockOf('InProgress, lost'));
    expect(recorded).toMatchObject({ status: 'Failed', startTimeUtc: T0, endTimeUtc: NOW });
    expect(recorded?.errorDetails).toMatchObject({ errorCode: 'JobRunnerLost', source: 'System', isPermanent: false });
  });

  it('a job that could not start is not permanent and never has a start time', () => {
    const recorded = couldNotStartJob(HEARTBEAT_SECONDS)(rowIn('NotStarted'), NOW);
    expect(recorded).toMatchObject({ status: 'Failed', endTimeUtc: NOW });
    expect(recorded?.startTimeUtc).toBeUndefined();
    expect(recorded?.errorDetails).toMatchObject({ errorCode: 'JobCouldNotStart', isPermanent: false });
  });
});

describe('handlerFailureDetails', () => {
  const failure = (change: Partial<Record<keyof HandlerFailure, unknown>> = {}) =>
    ({ ...FORECAST_FAILED, ...change }) as HandlerFailure;

  it('keeps valid details as they are', () => {
    expect(handlerFailureDetails(failure())).toEqual(FORECAST_FAILED);
  });

  it('keeps the known fields only', () => {
    expect(handlerFailureDetails({ ...failure(), stack: 'at handler' } as HandlerFailure)).toEqual(FORECAST_FAILED);
  });

  it.each([
    ['an errorCode with a space', { errorCode: 'Forecast failed' }],
    ['an empty errorCode', { errorCode: '' }],
    ['an errorCode of 129 characters', { errorCode: 'E'.repeat(129) }],
    ['an errorCode with a line break', { errorCode: 'Forecast\nFailed' }],
    ['an errorCode that is not a string', { errorCode: 42 }],
    ['a message that is not a string', { message: { text: 'm' } }],
    ['an unknown source', { source: 'Handler' }],
  ])('refuses %s', (_name, change) => {
    expect(handlerFailureDetails(failure(change))).toBeUndefined();
  });

  it('accepts an errorCode of 128 letters, digits, dots, dashes and underscores', () => {
    const errorCode = 'A.b_c-9'.repeat(19).slice(0, 128);
    expect(handlerFailureDetails(failure({ errorCode }))?.errorCode).toBe(errorCode);
  });

  it(`cuts a 5000-character message to its first ${MAX_FAILURE_MESSAGE_LENGTH}`, () => {
    const message = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    expect(handlerFailureDetails(failure({ message }))?.message).toBe(message.slice(0, MAX_FAILURE_MESSAGE_LENGTH));
  });

  it('never cuts a message of emoji between the halves of a pair', () => {
    // 'a' then emoji: unit 4096 is the high half of a pair, so a plain cut would end on a lone \ud83d.
    const message = 'a' + '\u{1F600}'.repeat(3000);
    const kept = handlerFailureDetails(failure({ message }))?.message ?? '';
    expect(kept.endsWith('\ud83d')).toBe(false);
    expect(kept).toBe(message.slice(0, MAX_FAILURE_MESSAGE_LENGTH - 1));
    expect(Buffer.from(kept, 'utf8').toString('utf8'), 'well-formed: survives a UTF-8 round trip').toBe(kept);
  });
});

it("unknownJobTypeDetails: Create's UnknownJobType, its source System because the backend lacks the handler", () => {
  expect(unknownJobTypeDetails({ itemType: 'Contoso.Report', jobType: 'render' })).toEqual({
    errorCode: 'UnknownJobType',
    message: "This backend has no job handler for job type 'render' of item type 'Contoso.Report'.",
    source: 'System',
    isPermanent: true,
  });
});

describe("the user's token on a running job's row", () => {
  const OID = 'a0a0a0a0-0000-4000-8000-0000000000a1';
  const STORED_EXPIRY = new Date(NOW.getTime() + 20 * 60_000);
  const TENANT = 'd0d0d0d0-0000-4000-8000-0000000000d4';
  const withToken = (status: JobInstanceStatus): JobRecord => ({
    ...rowIn(status),
    tenantId: TENANT,
    userObjectId: OID,
    userAssertion: 'a1.sealed-stored',
    userAssertionExpiresUtc: STORED_EXPIRY,
  });
  const poll = (change: Partial<PollingUser> = {}): PollingUser => ({
    tenantId: TENANT.toUpperCase(),
    userObjectId: OID,
    expiresOn: new Date(NOW.getTime() + 75 * 60_000),
    seal: () => 'a1.sealed-from-poll',
    ...change,
  });

  it('is removed by every write that makes a job terminal', () => {
    const decisions: [string, JobDecision][] = [
      ['finish Completed', finishJob({ status: 'Completed' })],
      ['finish Failed', finishJob({ status: 'Failed', errorDetails: FORECAST_FAILED })],
      ['cancel', cancelJob(HEARTBEAT_SECONDS)],
      ['cancel unless terminal', cancelUnlessTerminal],
      ['could not start', couldNotStartJob(HEARTBEAT_SECONDS)],
    ];
    for (const [name, decide] of decisions) {
      for (const status of ['NotStarted', 'InProgress'] as const) {
        const next = decide(withToken(status), NOW);
        if (!next) continue;
        expect(isTerminal(next.status), name).toBe(true);
        expect(next.userAssertion, `${name} from ${status}`).toBeUndefined();
        expect(next.userAssertionExpiresUtc, `${name} from ${status}`).toBeUndefined();
      }
    }
    const lost = markLostRunner(HEARTBEAT_SECONDS)({ ...withToken('InProgress'), heartbeatUtc: T0 }, NOW, {
      writtenAt: T0,
      readAt: NOW,
    } as StorageClock);
    expect(lost?.status).toBe('Failed');
    expect(lost?.userAssertion).toBeUndefined();
    // A move that is not terminal keeps it.
    expect(claimJob(HEARTBEAT_SECONDS)(withToken('NotStarted'), NOW)?.userAssertion).toBe('a1.sealed-stored');
    expect(heartbeatJob(withToken('InProgress'), NOW)?.userAssertion).toBe('a1.sealed-stored');
  });

  it("is replaced by the job's own user's poll within half an hour of its expiry", () => {
    const next = refreshUserAssertion(poll())(withToken('InProgress'), NOW);
    expect(next?.userAssertion).toBe('a1.sealed-from-poll');
    expect(next?.userAssertionExpiresUtc).toEqual(poll().expiresOn);
    expect(next?.status).toBe('InProgress');
    expect(refreshUserAssertion(poll({ userObjectId: OID.toUpperCase() }))(withToken('NotStarted'), NOW)).toBeDefined();
    expect(ASSERTION_REFRESH_WINDOW_MS).toBe(30 * 60_000);
  });

  it.each([
    [
      'another user',
      () =>
        refreshUserAssertion(poll({ userObjectId: 'b0b0b0b0-0000-4000-8000-0000000000b2' }))(
          withToken('InProgress'),
          NOW,
        ),
    ],
    [
      'a poll without an oid',
      () => refreshUserAssertion(poll({ userObjectId: undefined }))(withToken('InProgress'), NOW),
    ],
    [
      'another tenant',
      () =>
        refreshUserAssertion(poll({ tenantId: 'c0c0c0c0-0000-4000-8000-0000000000c3' }))(withToken('InProgress'), NOW),
    ],
    [
      'a stored token more than 30 min from expiry',
      () => refreshUserAssertion(poll())(withToken('InProgress'), new Date(STORED_EXPIRY.getTime() - 31 * 60_000)),
    ],
    [
      'a poll token that expires no later',
      () => refreshUserAssertion(poll({ expiresOn: STORED_EXPIRY }))(withToken('InProgress'), NOW),
    ],
    ['a terminal job', () => refreshUserAssertion(poll())(withToken('Completed'), NOW)],
    ['a job without a stored token', () => refreshUserAssertion(poll())(rowIn('InProgress'), NOW)],
  ])('is never replaced by %s', (_name, decide) => {
    expect(decide()).toBeUndefined();
  });

  it('is sealed only when the row takes it', () => {
    let seals = 0;
    const counting = poll({ seal: () => `a1.${++seals}` });
    refreshUserAssertion(counting)(withToken('InProgress'), new Date(STORED_EXPIRY.getTime() - 45 * 60_000));
    expect(seals).toBe(0);
    refreshUserAssertion(counting)(withToken('InProgress'), NOW);
    expect(seals).toBe(1);
  });

  it('a poll records a lost runner before it would refresh anything', () => {
    const lostRow = { ...withToken('InProgress'), heartbeatUtc: T0 };
    const next = pollJob(HEARTBEAT_SECONDS, poll())(lostRow, NOW, { writtenAt: T0, readAt: NOW } as StorageClock);
    expect(next?.status).toBe('Failed');
    expect(next?.userAssertion).toBeUndefined();
    expect(pollJob(HEARTBEAT_SECONDS, poll())(withToken('InProgress'), NOW)?.userAssertion).toBe('a1.sealed-from-poll');
    expect(pollJob(HEARTBEAT_SECONDS)(withToken('InProgress'), NOW)).toBeUndefined();
  });

  it('keeps a handler failure with moreDetails (AuthUIRequired inside a job), and refuses one too large to store', () => {
    const moreDetails = [
      {
        errorCode: 'AuthUIRequired',
        message: 'consent',
        additionalParameters: [{ name: 'additionalScopesToConsent', value: 'x' }],
      },
    ];
    expect(
      handlerFailureDetails({
        errorCode: 'AuthUIRequired',
        message: 'm',
        source: 'System',
        isPermanent: false,
        moreDetails,
      }),
    ).toEqual({ errorCode: 'AuthUIRequired', message: 'm', source: 'System', isPermanent: false, moreDetails });
    const huge = [{ errorCode: 'X', message: 'y'.repeat(40_000) }];
    expect(
      handlerFailureDetails({ errorCode: 'X', message: 'm', source: 'User', isPermanent: true, moreDetails: huge }),
    ).toBeUndefined();
  });
});
