/**
 * The writes that keep a running job's user token alive, counted over a
 * simulated job lifetime: `npm run bench`'s figure of the extra write per
 * refreshed poll. It drives the very decision a poll takes (lifecycle.ts,
 * `pollJob`, which JobInstances.state hands the writer) with a simulated
 * clock: a job row whose stored token expires one token lifetime after its
 * Create, a healthy runner heartbeating on it, and a poll by the job's own
 * user every `pollIntervalMs`, each with a fresh token living
 * `tokenLifetimeMs`. A decision that returns a row is one table write.
 */
import type { JobRecord } from '../src/jobs/jobRow';
import { pollJob } from '../src/jobs/lifecycle';
import { DEMO_JOB } from './devSettings';

export interface RefreshSimulation {
  /** Lifetime of every user token: the Create's and each poll's. */
  tokenLifetimeMs: number;
  /** Fabric polls a running job about once a minute. */
  pollIntervalMs: number;
  /** How long the job runs (and is polled), from its Create. */
  durationMs: number;
  /** The runner's heartbeat interval (JOB_HEARTBEAT_SECONDS); default 30. */
  heartbeatSeconds?: number;
}

export interface RefreshWrites {
  polls: number;
  /** Polls whose decision wrote the row (each replaced the stored token). */
  writes: number;
  /** When each write happened, in ms after the Create. */
  writeTimesMs: number[];
  writesPerHour: number;
  /** The least time the stored token had left when a poll read it: what the runner could still count on. */
  minRemainingMs: number;
}

const TENANT = 'bbbbbbbb-0000-4000-8000-000000000003';
const USER = 'a1a1a1a1-0000-4000-8000-0000000000a1';
const CREATED = new Date('2026-01-01T10:00:00.000Z');

/** Every poll of one simulated job, decided by pollJob; the writes it made. */
export function simulateRefreshWrites(simulation: RefreshSimulation): RefreshWrites {
  const { tokenLifetimeMs, pollIntervalMs, durationMs } = simulation;
  const heartbeatSeconds = simulation.heartbeatSeconds ?? 30;
  const heartbeatMs = heartbeatSeconds * 1000;
  const at = (ms: number) => new Date(CREATED.getTime() + ms);
  let row: JobRecord = {
    ...DEMO_JOB,
    tenantId: TENANT,
    userObjectId: USER,
    startTimeUtc: CREATED,
    heartbeatUtc: CREATED,
    heartbeatSeconds,
    userAssertion: 'sealed-at-create',
    userAssertionExpiresUtc: at(tokenLifetimeMs),
  };
  let lastWriteMs = 0;
  const writeTimesMs: number[] = [];
  let polls = 0;
  let minRemainingMs = Infinity;
  for (let ms = pollIntervalMs; ms <= durationMs; ms += pollIntervalMs) {
    // The runner's last heartbeat before this poll: the row's Timestamp is the later of it and the last refresh.
    const heartbeatMsAgo = ms % heartbeatMs;
    lastWriteMs = Math.max(lastWriteMs, ms - heartbeatMsAgo);
    const now = at(ms);
    const clock = { writtenAt: at(lastWriteMs), readAt: now };
    row = { ...row, heartbeatUtc: at(ms - heartbeatMsAgo) };
    minRemainingMs = Math.min(minRemainingMs, row.userAssertionExpiresUtc!.getTime() - now.getTime());
    polls++;
    const poll = {
      tenantId: TENANT,
      userObjectId: USER,
      expiresOn: at(ms + tokenLifetimeMs),
      seal: () => `sealed-at-${ms}`,
    };
    const next = pollJob(heartbeatSeconds, poll)(row, now, clock);
    if (next === undefined) continue;
    if (next.status !== row.status) throw new Error(`a poll at ${ms} ms moved the job to ${next.status}`);
    row = next;
    lastWriteMs = ms;
    writeTimesMs.push(ms);
  }
  return {
    polls,
    writes: writeTimesMs.length,
    writeTimesMs,
    writesPerHour: writeTimesMs.length / (durationMs / 3_600_000),
    minRemainingMs,
  };
}

export interface RefreshFigure extends RefreshWrites {
  tokenLifetimeMinutes: number;
  pollSeconds: number;
  hours: number;
}

/**
 * The bench's figures: 3 hours of a poll a minute, with tokens of 75 minutes
 * (Entra's access tokens live 60 to 90, 75 on average), then of 60 and 90.
 */
export function refreshFigures(): RefreshFigure[] {
  const [pollSeconds, hours] = [60, 3];
  return [75, 60, 90].map((tokenLifetimeMinutes) => ({
    tokenLifetimeMinutes,
    pollSeconds,
    hours,
    ...simulateRefreshWrites({
      tokenLifetimeMs: tokenLifetimeMinutes * 60_000,
      pollIntervalMs: pollSeconds * 1000,
      durationMs: hours * 3_600_000,
    }),
  }));
}
