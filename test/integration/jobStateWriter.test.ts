import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JobStateStore } from '../../src/jobs/jobStateStore';
import { JobStateWriter, type NewJobInstance } from '../../src/jobs/jobStateWriter';
import { listJobInstances } from '../../src/jobs/jobListing';
import { LEGAL_TRANSITIONS } from '../../src/jobs/lifecycle';
import {
  IllegalTransitionError,
  InvalidJobInputError,
  JobAlreadyExistsError,
  JobNotFoundError,
} from '../../src/jobs/writerErrors';
import { JOB_INSTANCE_STATUSES, type JobInstanceStatus } from '../../src/fabric/contract';
import { createTestTable } from '../fixtures/tables';

const T0 = new Date('2026-01-01T10:00:00.000Z');
let table: TableClient;
let clock: Date;
let writer: JobStateWriter;
let store: JobStateStore;
beforeAll(async () => {
  table = await createTestTable();
  clock = T0;
  writer = new JobStateWriter(table, { now: () => clock });
  store = new JobStateStore(table);
});
afterAll(() => table?.deleteTable());
beforeEach(() => {
  clock = T0;
});

const newJob = (change: Partial<NewJobInstance> = {}): NewJobInstance => ({
  itemId: randomUUID(),
  jobInstanceId: randomUUID(),
  tenantId: randomUUID(),
  workspaceId: randomUUID(),
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  jobType: 'calculateForecast',
  ...change,
});

const FAILURE = {
  errorCode: 'ForecastFailed',
  message: 'The model did not converge.',
  source: 'System' as const,
  isPermanent: true,
};

describe('create', () => {
  it('creates a NotStarted row the endpoint can read', async () => {
    const job = newJob({ itemId: randomUUID().toUpperCase() });
    const created = await writer.create(job);
    expect(created.status).toBe('NotStarted');
    expect(created.startTimeUtc).toBeUndefined();
    expect(await store.read(job.itemId.toLowerCase(), job.jobInstanceId)).toEqual(created);
  });

  it('stamps StartTimeUtc when the job starts InProgress', async () => {
    const created = await writer.create(newJob({ status: 'InProgress' }));
    expect(created.startTimeUtc).toEqual(T0);
  });

  it('refuses to overwrite an existing row', async () => {
    const job = newJob();
    await writer.create(job);
    await writer.setStatus(job.itemId, job.jobInstanceId, 'InProgress');
    await expect(writer.create(job)).rejects.toBeInstanceOf(JobAlreadyExistsError);
    expect((await store.read(job.itemId, job.jobInstanceId))?.status).toBe('InProgress');
  });

  it.each([
    ['a terminal status', { status: 'Completed' as const }, /starts as NotStarted or InProgress/],
    ['an item id that is not a GUID', { itemId: 'item-1' }, /itemId must be a GUID/],
    ['a bad item type', { itemType: 'a b' }, /itemType must be/],
    ['a bad tenant and workspace', { tenantId: 'x', workspaceId: 'y' }, /tenantId, workspaceId must be GUIDs/],
  ] as [string, Partial<NewJobInstance>, RegExp][])('rejects %s and writes nothing', async (_name, change, message) => {
    const job = newJob(change);
    await expect(writer.create(job)).rejects.toThrow(message);
    await expect(writer.create(job)).rejects.toBeInstanceOf(InvalidJobInputError);
    if (change.itemId === undefined) expect(await store.read(job.itemId, job.jobInstanceId)).toBeUndefined();
  });
});

describe('setStatus', () => {
  it('runs a job through InProgress to Completed, stamping both times', async () => {
    const job = newJob();
    await writer.create(job);
    clock = new Date('2026-01-01T10:01:00.000Z');
    const started = await writer.setStatus(job.itemId, job.jobInstanceId, 'InProgress');
    clock = new Date('2026-01-01T10:05:00.000Z');
    const done = await writer.setStatus(job.itemId, job.jobInstanceId, 'Completed');
    expect(started.startTimeUtc?.toISOString()).toBe('2026-01-01T10:01:00.000Z');
    expect(done).toMatchObject({ status: 'Completed', startTimeUtc: started.startTimeUtc, endTimeUtc: clock });
    expect(await store.read(job.itemId, job.jobInstanceId)).toEqual(done);
  });

  it('keeps an existing StartTimeUtc and records ErrorDetails for Failed', async () => {
    const job = newJob({ status: 'InProgress' });
    await writer.create(job);
    clock = new Date('2026-01-01T11:00:00.000Z');
    const failed = await writer.setStatus(job.itemId, job.jobInstanceId, 'Failed', FAILURE);
    expect(failed).toMatchObject({ status: 'Failed', startTimeUtc: T0, endTimeUtc: clock, errorDetails: FAILURE });
    expect((await store.read(job.itemId, job.jobInstanceId))?.errorDetails).toEqual(FAILURE);
  });

  it('answers JobNotFound for a job that does not exist', async () => {
    await expect(writer.setStatus(randomUUID(), randomUUID(), 'InProgress')).rejects.toBeInstanceOf(JobNotFoundError);
  });

  // Every pair of statuses: legal moves succeed, the rest are refused and change nothing.
  const pairs = JOB_INSTANCE_STATUSES.flatMap((from) => JOB_INSTANCE_STATUSES.map((to) => [from, to] as const));
  it.each(pairs)('%s -> %s follows the transition table', async (from, to) => {
    const job = newJob();
    await writer.create({ ...job, status: from === 'NotStarted' ? 'NotStarted' : 'InProgress' });
    if (from !== 'NotStarted' && from !== 'InProgress') {
      await writer.setStatus(job.itemId, job.jobInstanceId, from, from === 'Failed' ? FAILURE : undefined);
    }
    const before = await store.read(job.itemId, job.jobInstanceId);
    const attempt = writer.setStatus(job.itemId, job.jobInstanceId, to, to === 'Failed' ? FAILURE : undefined);
    if (LEGAL_TRANSITIONS[from].includes(to)) {
      expect((await attempt).status).toBe(to);
    } else {
      await expect(attempt).rejects.toBeInstanceOf(IllegalTransitionError);
      expect(await store.read(job.itemId, job.jobInstanceId)).toEqual(before);
    }
  });

  it.each([
    ['Failed without ErrorDetails', 'Failed', undefined, /Failed needs ErrorDetails/],
    ['ErrorDetails on Completed', 'Completed', FAILURE, /only Failed takes ErrorDetails/],
    ['ErrorDetails without a source', 'Failed', { errorCode: 'E', message: 'm' }, /source must be one of/],
    ['ErrorDetails with an extra property', 'Failed', { ...FAILURE, stack: 'at x' }, /unknown property "stack"/],
    ['an unknown status', 'Running', undefined, /unknown status "Running"/],
  ])('rejects %s before writing', async (_name, to, details, message) => {
    const job = newJob({ status: 'InProgress' });
    await writer.create(job);
    const before = await store.read(job.itemId, job.jobInstanceId);
    const attempt = writer.setStatus(job.itemId, job.jobInstanceId, to as JobInstanceStatus, details as never);
    await expect(attempt).rejects.toBeInstanceOf(InvalidJobInputError);
    await expect(
      writer.setStatus(job.itemId, job.jobInstanceId, to as JobInstanceStatus, details as never),
    ).rejects.toThrow(message);
    expect(await store.read(job.itemId, job.jobInstanceId)).toEqual(before);
  });
});

describe('two writers racing (ETag)', () => {
  it.each([1, 2, 3, 4, 5])(
    'lets exactly one of Completed and Cancelled win, and tells the other why (round %i)',
    async () => {
      const job = newJob({ status: 'InProgress' });
      await writer.create(job);
      const a = new JobStateWriter(table);
      const b = new JobStateWriter(table);
      const results = await Promise.allSettled([
        a.setStatus(job.itemId, job.jobInstanceId, 'Completed'),
        b.setStatus(job.itemId, job.jobInstanceId, 'Cancelled'),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(IllegalTransitionError);
      expect(lost[0].reason.message).toMatch(/is (Completed|Cancelled); it cannot become/);
      const winner = (won[0] as PromiseFulfilledResult<{ status: string }>).value.status;
      expect((await store.read(job.itemId, job.jobInstanceId))?.status).toBe(winner);
    },
  );

  it('re-applies a still-legal move after losing a race', async () => {
    const job = newJob();
    await writer.create(job);
    // Both start from NotStarted; whichever loses re-reads InProgress and may still fail it.
    const results = await Promise.allSettled([
      new JobStateWriter(table).setStatus(job.itemId, job.jobInstanceId, 'InProgress'),
      new JobStateWriter(table).setStatus(job.itemId, job.jobInstanceId, 'Failed', FAILURE),
    ]);
    const final = await store.read(job.itemId, job.jobInstanceId);
    expect(final?.status).toBe('Failed');
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  });
});

describe('the ETag conflict path, made deterministic', () => {
  /** A client whose first update lets `interloper` change the row between our read and our write. */
  function interrupted(interloper: () => Promise<unknown>): TableClient {
    let first = true;
    const client = Object.create(table) as TableClient;
    client.updateEntity = async (...args: Parameters<TableClient['updateEntity']>) => {
      if (first) {
        first = false;
        await interloper();
      }
      return table.updateEntity(...args);
    };
    return client;
  }

  it('re-reads after a conflict and refuses a move that is no longer legal', async () => {
    const job = newJob({ status: 'InProgress' });
    await writer.create(job);
    const slow = new JobStateWriter(interrupted(() => writer.setStatus(job.itemId, job.jobInstanceId, 'Cancelled')));
    const attempt = slow.setStatus(job.itemId, job.jobInstanceId, 'Completed');
    await expect(attempt).rejects.toThrow(/is Cancelled; it cannot become Completed .*another writer changed it/);
    expect((await store.read(job.itemId, job.jobInstanceId))?.status).toBe('Cancelled');
  });

  it('re-reads after a conflict and re-applies a move that is still legal', async () => {
    const job = newJob();
    await writer.create(job);
    const slow = new JobStateWriter(
      interrupted(() => writer.setStatus(job.itemId, job.jobInstanceId, 'InProgress')),
      { now: () => clock },
    );
    const failed = await slow.setStatus(job.itemId, job.jobInstanceId, 'Failed', FAILURE);
    expect(failed).toMatchObject({ status: 'Failed', startTimeUtc: T0, endTimeUtc: T0 });
    expect(await store.read(job.itemId, job.jobInstanceId)).toEqual(failed);
  });
});

describe('listJobInstances', () => {
  it("lists one item's jobs, most recently changed first, bounded by the limit", async () => {
    const itemId = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = newJob({ itemId });
      ids.push(job.jobInstanceId);
      await writer.create(job);
    }
    await writer.setStatus(itemId, ids[0], 'InProgress');
    await writer.create(newJob());
    const listed = await listJobInstances(table, itemId, 3);
    expect(listed).toHaveLength(3);
    expect(listed[0].jobInstanceId).toBe(ids[0]);
    expect(listed.every((j) => j.itemId === itemId && j.record)).toBe(true);
  });

  it('rejects a limit out of range', async () => {
    await expect(listJobInstances(table, randomUUID(), 0)).rejects.toBeInstanceOf(InvalidJobInputError);
    await expect(listJobInstances(table, randomUUID(), 101)).rejects.toBeInstanceOf(InvalidJobInputError);
  });
});
