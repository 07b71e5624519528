import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OneLakeError, type OneLakeFolder } from '../../../src/clients/oneLake';
import type { FabricApi } from '../../../src/clients/fabricApi';
import { calculateForecast, forecastPath } from '../../../src/handlers/forecast';
import { JobFailure, type Job } from '../../../src/handlers/jobHandler';

const JOB: Job = {
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  jobType: 'calculateForecast',
  jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072',
  tenantId: '3c9e4a1b-2222-4222-8222-00000000cccc',
  creationPayload: {},
  contract: 'v1',
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** The files written, by path; `refuse` makes every write fail as OneLake would. */
function memoryFolder(refuse?: OneLakeError) {
  const files = new Map<string, string>();
  const folder = {
    writeJson: async (path: string, value: unknown) => {
      if (refuse) throw refuse;
      files.set(path, JSON.stringify(value));
    },
  } as unknown as OneLakeFolder;
  return { files, folder };
}

/** Starts the job; `settled` says whether it has ended (and how) so far on the fake clock. */
function start(creationPayload: Record<string, unknown>, controller = new AbortController(), oneLake = memoryFolder()) {
  const lines: string[] = [];
  const log = {
    info: (l: string) => lines.push(l),
    warn: (l: string) => lines.push(l),
    error: (l: string) => lines.push(l),
  };
  let outcome: { done: true } | { error: unknown } | undefined;
  const running = calculateForecast(
    { ...JOB, creationPayload },
    {
      signal: controller.signal,
      log,
      user: { tenantId: JOB.tenantId, token: () => Promise.reject(new Error('no user in this test')) },
      oneLake: oneLake.folder,
      fabric: {} as FabricApi,
    },
  ).then(
    () => (outcome = { done: true }),
    (error: unknown) => (outcome = { error }),
  );
  return { lines, controller, running, settled: () => outcome, files: oneLake.files };
}

const failureOf = (outcome: unknown) => {
  expect(outcome).toHaveProperty('error');
  const { error } = outcome as { error: unknown };
  expect(error).toBeInstanceOf(JobFailure);
  return (error as JobFailure).details;
};

describe('calculateForecast', () => {
  it.each([
    ['-1', -1],
    ['3601', 3601],
    ['a string', '5'],
    ['NaN', Number.NaN],
    ['null', null],
  ])('fails at once with InvalidCreationPayload for durationSeconds %s', async (_name, durationSeconds) => {
    const job = start({ durationSeconds });
    await vi.advanceTimersByTimeAsync(0);
    expect(failureOf(job.settled())).toEqual({
      errorCode: 'InvalidCreationPayload',
      message: 'durationSeconds must be a number from 0 to 3600.',
      source: 'User',
      isPermanent: true,
    });
  });

  it.each([
    ['0 s: at once', { durationSeconds: 0 }, 0],
    ['the default of 20 s', {}, 20],
    ['a fraction of a second', { durationSeconds: 0.5 }, 0.5],
    ['the most, 3600 s', { durationSeconds: 3600 }, 3600],
  ])('works for %s, and not a step less', async (_name, payload, seconds) => {
    const job = start(payload);
    if (seconds > 0) {
      await vi.advanceTimersByTimeAsync(seconds * 1000 - 1);
      expect(job.settled()).toBeUndefined();
    }
    await vi.advanceTimersByTimeAsync(1);
    expect(job.settled()).toEqual({ done: true });
    expect(job.lines).toEqual([
      `forecasting for ${seconds} s`,
      `wrote ${forecastPath(JOB.jobInstanceId)} to the item's OneLake folder`,
    ]);
    expect(JSON.parse(job.files.get(`Files/forecasts/${JOB.jobInstanceId}.json`)!)).toMatchObject({
      itemId: JOB.itemId,
      jobInstanceId: JOB.jobInstanceId,
    });
  });

  it('fails with ForecastNotSaved (not permanent) when OneLake refuses the write, its source by the status', async () => {
    const refusal = new OneLakeError('write', 'Files/x', 403, 'AuthorizationPermissionMismatch', undefined, 'denied');
    const job = start({ durationSeconds: 0 }, new AbortController(), memoryFolder(refusal));
    await vi.advanceTimersByTimeAsync(0);
    expect(failureOf(job.settled())).toMatchObject({
      errorCode: 'ForecastNotSaved',
      source: 'User',
      isPermanent: false,
    });
    const down = new OneLakeError('write', 'Files/x', 503, 'ServerBusy', undefined, 'busy');
    const again = start({ durationSeconds: 0 }, new AbortController(), memoryFolder(down));
    await vi.advanceTimersByTimeAsync(0);
    expect(failureOf(again.settled())).toMatchObject({ errorCode: 'ForecastNotSaved', source: 'System' });
  });

  it('fails with the failWith details once the work is done', async () => {
    const job = start({ durationSeconds: 1, failWith: { errorCode: 'Contoso.NoData', message: 'No sales data.' } });
    await vi.advanceTimersByTimeAsync(999);
    expect(job.settled()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(failureOf(job.settled())).toEqual({
      errorCode: 'Contoso.NoData',
      message: 'No sales data.',
      source: 'User',
      isPermanent: true,
    });
  });

  it.each([
    ['null', null],
    ['a string', 'Contoso.NoData'],
    ['no message', { errorCode: 'Contoso.NoData' }],
    ['an empty errorCode', { errorCode: '', message: 'm' }],
    ['a numeric errorCode', { errorCode: 1, message: 'm' }],
  ])('fails with InvalidCreationPayload for a failWith that is %s', async (_name, failWith) => {
    const job = start({ durationSeconds: 0, failWith });
    await vi.advanceTimersByTimeAsync(0);
    expect(failureOf(job.settled())).toMatchObject({
      errorCode: 'InvalidCreationPayload',
      message: 'failWith must be { "errorCode": "…", "message": "…" }.',
    });
  });

  it('stops within one step of a cancellation, ending without failure even when failWith asks for one', async () => {
    const job = start({ durationSeconds: 3600, failWith: { errorCode: 'X', message: 'm' } });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(job.settled()).toBeUndefined();
    job.controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(job.settled()).toEqual({ done: true });
    expect(job.lines).toEqual(['forecasting for 3600 s', 'cancelled; stopping']);
    expect(job.files.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does no work when cancelled before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const job = start({}, controller);
    await vi.advanceTimersByTimeAsync(0);
    expect(job.settled()).toEqual({ done: true });
    expect(job.lines).toContain('cancelled; stopping');
  });
});
