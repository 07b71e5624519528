import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidItemRecordError } from '../../src/fabric/errors';
import { HandlerRegistry } from '../../src/handlers/registry';
import type { RequestLog } from '../../src/telemetry/log';
import { ITEM_COLUMNS, ITEM_ROW_KEY, type ItemRecord } from '../../src/items/itemRow';
import { Items } from '../../src/items/items';
import { ItemStore } from '../../src/items/itemStore';
import { createTestTable } from '../fixtures/tables';

let items: TableClient;
let jobs: TableClient;
beforeAll(async () => {
  [items, jobs] = await Promise.all([createTestTable('Items'), createTestTable()]);
});
afterAll(async () => {
  await items?.deleteTable();
  await jobs?.deleteTable();
});

const lines: string[] = [];
const log: RequestLog = {
  info: (l) => lines.push(l),
  warn: (l) => lines.push(l),
  error: (l) => lines.push(l),
  annotate: () => undefined,
  transition: () => undefined,
};
const OWNER = { tenantId: randomUUID(), workspaceId: randomUUID(), itemType: 'Contoso.FinanceAnalytics.Forecast' };
const record = (change: Partial<ItemRecord> = {}): ItemRecord => ({
  ...OWNER,
  itemId: randomUUID(),
  displayName: 'n',
  payload: '{}',
  ...change,
});

describe('ItemStore', () => {
  const store = () => new ItemStore(items, 10_000);

  it('inserts once and never overwrites', async () => {
    const item = record();
    expect(await store().insert(item)).toBe(true);
    expect(await store().insert({ ...item, displayName: 'other' })).toBe(false);
    const found = await store().readFor(item.itemId, OWNER);
    expect(found.found === 'record' && found.record.displayName).toBe('n');
  });

  it("reads another owner's row as foreign, whichever owner column differs (item type case-insensitively)", async () => {
    const item = record();
    await store().insert(item);
    expect((await store().readFor(item.itemId, { ...OWNER, tenantId: randomUUID() })).found).toBe('foreign');
    expect((await store().readFor(item.itemId, { ...OWNER, workspaceId: randomUUID() })).found).toBe('foreign');
    expect((await store().readFor(item.itemId, { ...OWNER, itemType: 'Other' })).found).toBe('foreign');
    expect((await store().readFor(item.itemId, { ...OWNER, itemType: OWNER.itemType.toUpperCase() })).found).toBe(
      'record',
    );
    expect((await store().readFor(randomUUID(), OWNER)).found).toBe('none');
  });

  it('replaces only on the ETag it read: changed after another write, gone after a delete', async () => {
    const item = record();
    await store().insert(item);
    const read = await store().readFor(item.itemId, OWNER);
    if (read.found !== 'record') throw new Error('not found');
    expect(await store().replace({ ...item, displayName: 'first' }, read.etag)).toBe('replaced');
    expect(await store().replace({ ...item, displayName: 'second' }, read.etag)).toBe('changed');
    await items.deleteEntity(item.itemId, 'item');
    expect(await store().replace({ ...item, displayName: 'third' }, read.etag)).toBe('gone');
  });

  it('answers a corrupt row of the caller with InvalidItemRecord', async () => {
    const item = record();
    await items.createEntity({
      partitionKey: item.itemId,
      rowKey: ITEM_ROW_KEY,
      TenantId: OWNER.tenantId,
      WorkspaceId: OWNER.workspaceId,
      ItemType: OWNER.itemType,
      [ITEM_COLUMNS.displayName]: 'x',
      [ITEM_COLUMNS.payload]: '[1]',
    });
    await expect(store().readFor(item.itemId, OWNER)).rejects.toBeInstanceOf(InvalidItemRecordError);
  });
});

describe('Items.update under a lost ETag race', () => {
  /** Another PATCH lands between this update's read and its write, once. */
  class RacingStore extends ItemStore {
    raced = false;
    override async replace(next: ItemRecord, etag: string) {
      if (!this.raced) {
        this.raced = true;
        expect(
          await super.replace({ ...next, displayName: 'before', description: 'written by the other PATCH' }, etag),
        ).toBe('replaced');
      }
      return super.replace(next, etag);
    }
  }

  it('reads again and applies its patch to the other write: both land', async () => {
    const racing = new RacingStore(items, 10_000);
    const service = new Items(racing, new HandlerRegistry().item(OWNER.itemType, {}));
    const item = record({ displayName: 'before' });
    await racing.insert(item);
    await service.update({ ...OWNER, itemId: item.itemId }, { displayName: 'after' }, log);
    expect(racing.raced).toBe(true);
    const stored = await racing.readFor(item.itemId, OWNER);
    expect(stored.found === 'record' && stored.record).toMatchObject({
      displayName: 'after',
      description: 'written by the other PATCH',
    });
    expect(lines.some((l) => /updated on attempt 2/.test(l))).toBe(true);
  });
});
