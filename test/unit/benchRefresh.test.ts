/**
 * The bench's count of the writes that keep a running job's user token
 * alive (dev/benchRefresh.ts), which drives lifecycle.ts's pollJob with a
 * simulated clock: the count is the rule's, so a change to the refresh
 * window or to who may refresh shows here.
 */
import { describe, expect, it } from 'vitest';
import { simulateRefreshWrites } from '../../dev/benchRefresh';
import { ASSERTION_REFRESH_WINDOW_MS } from '../../src/jobs/lifecycle';

const MINUTE = 60_000;
const HOURS_3 = 180 * MINUTE;

describe('simulateRefreshWrites', () => {
  it.each([
    // token lifetime (min), writes at (min after Create)
    [60, [30, 60, 90, 120, 150, 180]],
    [75, [45, 90, 135, 180]],
    [90, [60, 120, 180]],
  ])(
    'with %i-minute tokens and a poll a minute, writes once per lifetime less the 30-minute window',
    (lifetime, minutes) => {
      const result = simulateRefreshWrites({
        tokenLifetimeMs: lifetime * MINUTE,
        pollIntervalMs: MINUTE,
        durationMs: HOURS_3,
      });
      expect(result.polls).toBe(180);
      expect(result.writeTimesMs).toEqual(minutes.map((m) => m * MINUTE));
      expect(result.writesPerHour).toBeCloseTo(minutes.length / 3, 10);
      // The stored token is replaced as it enters the window: it never comes closer to its expiry.
      expect(result.minRemainingMs).toBe(ASSERTION_REFRESH_WINDOW_MS);
    },
  );

  it('writes at the first poll inside the window when polls are sparse', () => {
    const result = simulateRefreshWrites({
      tokenLifetimeMs: 75 * MINUTE,
      pollIntervalMs: 7 * MINUTE,
      durationMs: HOURS_3,
    });
    // 45 min is no poll's time: the first write is at 49, each one at the first poll 30 min or less from the expiry.
    expect(result.writeTimesMs[0]).toBe(49 * MINUTE);
    for (const [i, ms] of result.writeTimesMs.entries()) {
      const previous = i === 0 ? 0 : result.writeTimesMs[i - 1];
      expect(previous + 75 * MINUTE - ms).toBeLessThanOrEqual(ASSERTION_REFRESH_WINDOW_MS);
      expect(previous + 75 * MINUTE - ms).toBeGreaterThan(ASSERTION_REFRESH_WINDOW_MS - 7 * MINUTE);
    }
    expect(result.minRemainingMs).toBeGreaterThan(ASSERTION_REFRESH_WINDOW_MS - 7 * MINUTE);
  });

  it('writes at every poll when tokens live no longer than the window', () => {
    const result = simulateRefreshWrites({ tokenLifetimeMs: 20 * MINUTE, pollIntervalMs: MINUTE, durationMs: HOURS_3 });
    expect(result.writes).toBe(result.polls);
  });
});
