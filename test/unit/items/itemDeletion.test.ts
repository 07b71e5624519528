import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, ItemConflictError } from '../../../src/fabric/errors';
import { HandlerRegistry } from '../../../src/handlers/registry';
import { ItemDeletion } from '../../../src/items/itemDeletion';
import { ITEM_ROW_KEY, toItemEntity, type ItemRecord } from '../../../src/items/itemRow';
import { Items } from '../../../src/items/items';
import { ItemStore } from '../../../src/items/itemStore';
import { ItemJobPurge } from '../../../src/jobs/itemJobPurge';
import { JobStateWriter } from '../../../src/jobs/jobStateWriter';
import type { RequestLog } from '../../../src/telemetry/log';
import { MemoryTable } from '../../fixtures/memoryTable';

const OWNER = {
  tenantId: '3c9e4a1b-2222-4222-8222-00000000cccc',
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
};
const ITEM = { ...OWNER, itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111' };
const log: RequestLog = { info: () => {}, warn: () => {}, error: () => {}, annotate: () => {}, transition: () => {} };

let items: MemoryTable;
let store: ItemStore;
let service: Items;
let deletion: ItemDeletion;

beforeEach(() => {
  items = new MemoryTable();
  const jobs = new MemoryTable();
  store = new ItemStore(items.client, 10_000);
  const handlers = new HandlerRegistry().item(OWNER.itemType, {});
  service = new Items(store, handlers);
  deletion = new ItemDeletion(
    store,
    service,
    new ItemJobPurge(jobs.client, new JobStateWriter(jobs.client), 10_000),
    handlers,
  );
});

const row = () => items.row(ITEM.itemId, ITEM_ROW_KEY);
const put = (record: Partial<ItemRecord>) =>
  items.put(toItemEntity({ ...ITEM, displayName: 'live', payload: '{}', ...record } as ItemRecord));

describe('an item whose hard delete is under way (marked Hard)', () => {
  beforeEach(() => put({ deletion: 'Hard', deletedUtc: new Date() }));

  it('refuses new jobs, a restore, and any replacement by a new item of its id: nothing can un-mark it', async () => {
    expect(await deletion.jobGate(ITEM)).toBe('deleted');
    await expect(deletion.restore(ITEM, {}, log)).rejects.toBeInstanceOf(ConflictError);
    expect(await store.insert({ ...ITEM, displayName: 'new', payload: '{}' })).toBe(false);
    await service.updateDefinition(ITEM, {}, log);
    await service.createFromDefinition(ITEM, {}, log);
    expect(row()).toMatchObject({ Deletion: 'Hard' });
  });
});

describe('a hard-deleted item (its tombstone, marked Gone)', () => {
  beforeEach(() => put({ displayName: '', deletion: 'Gone', deletedUtc: new Date() }));

  it('reads as no item, still refuses jobs, and a new item of its id replaces it', async () => {
    expect(await store.readFor(ITEM.itemId, ITEM)).toEqual({ found: 'none' });
    expect(await deletion.jobGate(ITEM)).toBe('deleted');
    await service.createFromDefinition(ITEM, {}, log);
    expect(row()?.Deletion).toBeUndefined();
    expect(await deletion.jobGate(ITEM)).toBe('allowed');
  });

  it("is another owner's item to anyone else", async () => {
    await expect(
      service.createFromDefinition({ ...ITEM, tenantId: '77777777-7777-4777-8777-777777777777' }, {}, log),
    ).rejects.toBeInstanceOf(ItemConflictError);
  });
});

describe('a hard delete', () => {
  it('leaves the tombstone when it is done, and runs again over it', async () => {
    put({});
    await deletion.delete(ITEM, 'Hard', log);
    expect(row()).toMatchObject({ Deletion: 'Gone', DisplayName: '' });
    await deletion.delete(ITEM, 'Hard', log);
    await deletion.delete(ITEM, 'Soft', log);
    expect(row()).toMatchObject({ Deletion: 'Gone' });
  });
});
