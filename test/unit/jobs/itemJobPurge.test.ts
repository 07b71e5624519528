import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../../src/fabric/errors';
import { ItemJobPurge, MAX_BATCH_OPERATIONS } from '../../../src/jobs/itemJobPurge';
import { toJobEntity, type JobRecord } from '../../../src/jobs/jobRow';
import { JobStateWriter } from '../../../src/jobs/jobStateWriter';
import type { ItemOwner } from '../../../src/storage/owner';
import { collectingLog, FORECAST_FAILED, jobRecord, T0 } from '../../fixtures/jobs';
import { MemoryTable, type MemoryTableMethod } from '../../fixtures/memoryTable';

let table: MemoryTable;
let purge: ItemJobPurge;
let itemId: string;
let owner: ItemOwner;

beforeEach(() => {
  table = new MemoryTable();
  purge = new ItemJobPurge(table.client, new JobStateWriter(table.client, { deadlineMs: 10_000 }), 10_000);
  itemId = randomUUID();
  const { tenantId, workspaceId, itemType } = jobRecord();
  owner = { tenantId, workspaceId, itemType };
});

const STATUS_ROWS: Record<JobRecord['status'], Partial<JobRecord>> = {
  NotStarted: {},
  InProgress: { startTimeUtc: T0, heartbeatUtc: T0 },
  Completed: { startTimeUtc: T0, endTimeUtc: T0 },
  Failed: { startTimeUtc: T0, endTimeUtc: T0, errorDetails: FORECAST_FAILED },
  Cancelled: { endTimeUtc: T0 },
};

/** A job row of the item, the owner's unless `change` says otherwise. */
function jobRow(status: JobRecord['status'] = 'Completed', change: Partial<JobRecord> = {}): JobRecord {
  const record = jobRecord({ ...owner, itemId, status, ...STATUS_ROWS[status], ...change });
  table.put(toJobEntity(record));
  return record;
}

const rowKeysLeft = () => table.allRows().map((row) => row.rowKey);
const statusOf = (record: JobRecord) => table.row(record.itemId, record.jobInstanceId)?.Status;

describe('purge', () => {
  it("deletes the owner's rows of the item and only those", async () => {
    const mine = [jobRow('Completed'), jobRow('Failed')];
    const others = [
      jobRow('Completed', { tenantId: randomUUID() }),
      jobRow('Completed', { workspaceId: randomUUID() }),
      jobRow('Completed', { itemType: 'Contoso.Report' }),
      jobRow('Completed', { itemId: randomUUID() }),
    ];
    const result = await purge.purge(itemId, owner, collectingLog());
    expect(result).toEqual({ cancelled: 0, deleted: mine.length });
    expect(rowKeysLeft().sort()).toEqual(others.map((row) => row.jobInstanceId).sort());
  });

  it('cancels the jobs that have not ended before any row is deleted, and only those', async () => {
    const running = [jobRow('NotStarted'), jobRow('InProgress')];
    jobRow('Completed');
    jobRow('Cancelled');
    const cancelledWhenDeleted: unknown[] = [];
    table.beforeWrite(({ method }) => {
      if (method === 'submitTransaction') cancelledWhenDeleted.push(...running.map(statusOf));
    }, 10);

    expect(await purge.purge(itemId, owner, collectingLog())).toEqual({ cancelled: 2, deleted: 4 });
    expect(cancelledWhenDeleted).toEqual(['Cancelled', 'Cancelled']);
    const cancels = table.callsOf('updateEntity').map(({ args }) => (args[0] as { rowKey: string }).rowKey);
    expect(cancels.sort()).toEqual(running.map((row) => row.jobInstanceId).sort());
    expect(rowKeysLeft()).toEqual([]);
  });

  it('reads the partition once, with the columns it needs', async () => {
    jobRow();
    await purge.purge(itemId, owner, collectingLog());
    expect(table.callsOf('listEntities')).toEqual([
      {
        method: 'listEntities',
        args: [
          expect.objectContaining({
            queryOptions: {
              filter: `PartitionKey eq '${itemId}'`,
              select: ['PartitionKey', 'RowKey', 'TenantId', 'WorkspaceId', 'ItemType', 'Status'],
            },
          }),
        ],
      },
    ]);
  });

  it(`deletes more than ${MAX_BATCH_OPERATIONS} rows in transactions of at most ${MAX_BATCH_OPERATIONS}`, async () => {
    for (let i = 0; i < 2 * MAX_BATCH_OPERATIONS + 50; i++) jobRow();
    expect(await purge.purge(itemId, owner, collectingLog())).toEqual({ cancelled: 0, deleted: 250 });
    const sizes = table.callsOf('submitTransaction').map(({ args }) => (args[0] as unknown[]).length);
    expect(sizes).toEqual([100, 100, 50]);
    expect(rowKeysLeft()).toEqual([]);
  });

  it('deletes the rows one by one when a transaction meets a row already gone', async () => {
    const rows = [jobRow(), jobRow(), jobRow()];
    // Another DeleteItem removes one row between this one's query and its transaction.
    table.beforeWrite(() => table.remove(itemId, rows[1].jobInstanceId));
    expect(await purge.purge(itemId, owner, collectingLog())).toEqual({ cancelled: 0, deleted: 3 });
    expect(table.callsOf('submitTransaction')).toHaveLength(1);
    const deleted = table.callsOf('deleteEntity').map(({ args }) => args[1]);
    expect(deleted.sort()).toEqual(rows.map((row) => row.jobInstanceId).sort());
    expect(rowKeysLeft()).toEqual([]);
  });

  it('still deletes a row it could not cancel, and says why', async () => {
    const corrupt = jobRow('InProgress');
    table.put({ ...table.row(itemId, corrupt.jobInstanceId)!, Status: 'Running', StartTimeUtc: 'yesterday' });
    const log = collectingLog();
    expect(await purge.purge(itemId, owner, log)).toEqual({ cancelled: 0, deleted: 1 });
    expect(log.lines).toEqual([
      {
        level: 'warn',
        message: expect.stringMatching(`job ${itemId}/${corrupt.jobInstanceId} could not be cancelled`),
      },
    ]);
    expect(rowKeysLeft()).toEqual([]);
  });

  it('is quiet about a row another DeleteItem removed before it could be cancelled', async () => {
    const gone = jobRow('NotStarted');
    table.beforeWrite(() => table.remove(itemId, gone.jobInstanceId));
    const log = collectingLog();
    expect(await purge.purge(itemId, owner, log)).toEqual({ cancelled: 0, deleted: 1 });
    expect(log.lines).toEqual([]);
  });

  it('finds nothing to do for an item without jobs', async () => {
    expect(await purge.purge(itemId, owner, collectingLog())).toEqual({ cancelled: 0, deleted: 0 });
    expect(table.callsOf('submitTransaction')).toEqual([]);
  });

  /** Another DeleteItem removes a row just before this one's transaction, so the rows are deleted one by one. */
  const rowGoneBeforeTransaction = () =>
    table.beforeWrite(({ method, rowKeys }) => {
      if (method === 'submitTransaction') table.remove(itemId, rowKeys[0]);
    }, 10);

  it.each([
    ['the query', 'listEntities', undefined, /query of the job rows of item/],
    ['a cancellation', 'updateEntity', undefined, /update of job/],
    ['a transaction', 'submitTransaction', undefined, /deleting 2 job rows of item/],
    ['a single delete', 'deleteEntity', rowGoneBeforeTransaction, /deleting job/],
  ] as [string, MemoryTableMethod, (() => void) | undefined, RegExp][])(
    'a storage failure in %s is a StorageUnavailableError',
    async (_name, method, arrange, detail) => {
      jobRow('NotStarted');
      jobRow('Completed');
      arrange?.();
      table.failNext(method);
      const attempt = purge.purge(itemId, owner, collectingLog());
      await expect(attempt).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(attempt).rejects.toMatchObject({ logDetail: expect.stringMatching(detail) });
    },
  );
});
