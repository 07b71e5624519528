import { createServer, type Server, type Socket } from 'node:net';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidJobStateRecordError, StorageUnavailableError } from '../../src/fabric/errors';
import { toJobEntity, type JobRecord } from '../../src/jobs/jobRow';
import { JobStateStore } from '../../src/jobs/jobStateStore';
import { createTableClient } from '../../src/storage/tableClient';
import { azuriteConnectionString, createTestTable } from '../fixtures/tables';
import { azuriteConnectionString as connectionStringFor, freeLoopbackPort } from '../../dev/azurite';

const record: JobRecord = {
  itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072',
  tenantId: '3c9e4a1b-2222-4222-8222-00000000cccc',
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  jobType: 'calculateForecast',
  status: 'Failed',
  startTimeUtc: new Date('2023-12-10T14:41:39.412Z'),
  endTimeUtc: new Date('2023-12-10T14:42:00.001Z'),
  errorDetails: { errorCode: 'Boom', message: 'It broke.', source: 'System', isPermanent: false },
};

let table: TableClient;
let store: JobStateStore;
beforeAll(async () => {
  table = await createTestTable();
  store = new JobStateStore(table);
  await table.createEntity(toJobEntity(record));
});
afterAll(() => table?.deleteTable());

describe('against Azurite', () => {
  it('reads a row back exactly as it was written, times to the millisecond', async () => {
    expect(await store.read(record.itemId, record.jobInstanceId)).toEqual(record);
  });

  it('answers undefined for a missing row', async () => {
    expect(await store.read(record.itemId, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('throws InvalidJobStateRecordError for a corrupt row', async () => {
    const rowKey = '00000000-0000-4000-8000-00000000c0c0';
    await table.createEntity({ ...toJobEntity({ ...record, jobInstanceId: rowKey }), Status: 42 });
    await expect(store.read(record.itemId, rowKey)).rejects.toBeInstanceOf(InvalidJobStateRecordError);
  });

  it('treats a missing table as storage trouble, not as a missing job', async () => {
    const missing = new JobStateStore(
      createTableClient({ kind: 'connectionString', connectionString: azuriteConnectionString() }, 'NoSuchTable'),
    );
    const error = await missing.read(record.itemId, record.jobInstanceId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).logDetail).toContain('TableNotFound');
  });
});

describe('storage failures', () => {
  it('answers StorageUnavailable with Retry-After when nothing listens, after the retries', async () => {
    const port = await freeLoopbackPort();
    const dead = new JobStateStore(
      createTableClient({ kind: 'connectionString', connectionString: connectionStringFor(port) }, 'JobInstances'),
    );
    const error = await dead.read(record.itemId, record.jobInstanceId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).headers['Retry-After']).toMatch(/^\d+$/);
    expect((error as StorageUnavailableError).logDetail).toContain('ECONNREFUSED');
  });

  describe('a server that accepts connections and never answers', () => {
    let server: Server;
    let port: number;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => {
      sockets.forEach((s) => s.destroy());
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('is given up on at the read deadline', async () => {
      const stuck = new JobStateStore(
        createTableClient({ kind: 'connectionString', connectionString: connectionStringFor(port) }, 'JobInstances'),
        {
          readDeadlineMs: 500,
        },
      );
      const error = await stuck.read(record.itemId, record.jobInstanceId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as StorageUnavailableError).logDetail).toContain('timed out');
    });
  });
});
