import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHeartbeat, type Heartbeat } from '../../../src/execution/heartbeat';
import { JobStateWriter, type VersionedJob } from '../../../src/jobs/jobStateWriter';
import { cancelUnlessTerminal, claimJob } from '../../../src/jobs/lifecycle';
import { collectingLog, HEARTBEAT_SECONDS, newJob, T0, type CollectingLog } from '../../fixtures/jobs';
import { MemoryTable } from '../../fixtures/memoryTable';

const BEAT_MS = HEARTBEAT_SECONDS * 1000;

let table: MemoryTable;
let writer: JobStateWriter;
let claimed: VersionedJob;
let controller: AbortController;
let log: CollectingLog;
let heartbeat: Heartbeat;

beforeEach(async () => {
  vi.useFakeTimers({ now: T0 });
  table = new MemoryTable();
  writer = new JobStateWriter(table.client, { deadlineMs: 10_000 });
  const { itemId, jobInstanceId } = await writer.create(newJob());
  claimed = await writer.update(itemId, jobInstanceId, claimJob(HEARTBEAT_SECONDS));
  controller = new AbortController();
  log = collectingLog();
  heartbeat = startHeartbeat(writer, claimed, HEARTBEAT_SECONDS, controller, log);
});
afterEach(async () => {
  table.clearHooks();
  await heartbeat.stop();
  vi.useRealTimers();
});

const beats = () => table.callsOf('updateEntity').length - 1;
const heartbeatOfRow = () =>
  (table.row(claimed.record.itemId, claimed.record.jobInstanceId)?.HeartbeatUtc as Date).getTime();

/** The next write waits until the returned function is called. */
function holdNextWrite(): () => void {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  table.beforeWrite(() => held);
  return release;
}

describe('startHeartbeat', () => {
  it('beats every interval, each on the ETag the last one left, never re-reading the row', async () => {
    await vi.advanceTimersByTimeAsync(BEAT_MS - 1);
    expect(beats()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(beats()).toBe(1);
    expect(heartbeatOfRow()).toBe(T0.getTime() + BEAT_MS);
    await vi.advanceTimersByTimeAsync(2 * BEAT_MS);
    expect(beats()).toBe(3);
    expect(heartbeatOfRow()).toBe(T0.getTime() + 3 * BEAT_MS);
    expect(table.callsOf('getEntity')).toHaveLength(1);
  });

  it('beats one at a time: a slow beat delays the next instead of overlapping it', async () => {
    const release = holdNextWrite();
    await vi.advanceTimersByTimeAsync(BEAT_MS * 5);
    expect(beats()).toBe(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(beats()).toBe(1);
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect(beats()).toBe(2);
  });

  it('logs a beat that cannot reach storage and tries again at the next interval', async () => {
    table.failNext('updateEntity');
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect(log.lines).toEqual([
      { level: 'warn', message: expect.stringMatching(`heartbeat failed, trying again in ${HEARTBEAT_SECONDS} s`) },
    ]);
    expect(controller.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect(heartbeatOfRow()).toBe(T0.getTime() + 2 * BEAT_MS);
  });

  it('aborts and stops when a beat finds the row no longer InProgress', async () => {
    await writer.update(claimed.record.itemId, claimed.record.jobInstanceId, cancelUnlessTerminal);
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    expect(controller.signal.aborted).toBe(true);
    expect(log.text()).toContain('Cancelled: the row changed while the handler ran');
    const calls = table.calls.length;
    await vi.advanceTimersByTimeAsync(BEAT_MS * 5);
    expect(table.calls.length).toBe(calls);
  });

  it('stop waits for a beat in flight, and no beat follows it', async () => {
    const release = holdNextWrite();
    await vi.advanceTimersByTimeAsync(BEAT_MS);
    let stopped = false;
    const stopping = heartbeat.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(heartbeatOfRow()).toBe(T0.getTime() + BEAT_MS);
    await vi.advanceTimersByTimeAsync(BEAT_MS * 5);
    expect(beats()).toBe(1);
  });
});
