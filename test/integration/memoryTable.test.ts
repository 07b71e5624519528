/**
 * test/fixtures/memoryTable.ts held to Azurite: each scenario runs the same
 * calls on a fresh table of each kind and must observe the same thing, read
 * the way src/storage/storageErrors.ts reads it. Only the behaviours the app
 * relies on are compared; the unit tests of the job rules trust them.
 */
import type { TableClient } from '@azure/data-tables';
import { afterAll, describe, expect, it } from 'vitest';
import { errorCodeOf, isEntityNotFound, statusCodeOf, type RestErrorLike } from '../../src/storage/storageErrors';
import { MemoryTable } from '../fixtures/memoryTable';
import { createTestTable } from '../fixtures/tables';

const P = 'p-1';
const STALE_ETAG = `W/"datetime'2020-01-01T00%3A00%3A00.0000000Z'"`;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

/** What the app can tell of a failure. */
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    return {
      statusCode: statusCodeOf(error),
      errorCode: errorCodeOf(error as RestErrorLike),
      entityNotFound: isEntityNotFound(error),
    };
  }
  return 'succeeded';
}

const columns = (entity: Record<string, unknown> | undefined) =>
  entity &&
  Object.fromEntries(
    Object.entries(entity)
      .filter(([key]) => key !== 'odata.metadata')
      .map(([key, value]) => [
        key,
        key === 'etag' ? 'etag' : key === 'timestamp' && ISO_TIMESTAMP.test(String(value)) ? 'timestamp' : value,
      ]),
  );

const read = (table: TableClient, rowKey: string) => table.getEntity(P, rowKey).then(columns, failure);

async function pages(table: TableClient, filter: string, select?: string[], maxPageSize?: number) {
  const seen: unknown[][] = [];
  for await (const page of table.listEntities({ queryOptions: { filter, select } }).byPage({ maxPageSize }))
    seen.push(page.map(columns));
  return seen;
}

const SCENARIOS: [string, (table: TableClient) => Promise<unknown>][] = [
  [
    'a read returns the columns with etag and timestamp, a Date as a Date',
    async (table) => {
      await table.createEntity({ partitionKey: P, rowKey: 'a', Text: 'x', When: new Date('2026-01-01T00:00:00Z') });
      const entity = await table.getEntity(P, 'a');
      return { columns: columns(entity), dateIsDate: entity.When instanceof Date };
    },
  ],
  ['a read of a missing row: 404 ResourceNotFound', (table) => failure(table.getEntity(P, 'missing'))],
  [
    'an insert of an existing key: 409 EntityAlreadyExists, the row unchanged',
    async (table) => {
      await table.createEntity({ partitionKey: P, rowKey: 'a', Text: 'first' });
      return [
        await failure(table.createEntity({ partitionKey: P, rowKey: 'a', Text: 'second' })),
        await read(table, 'a'),
      ];
    },
  ],
  [
    'a replace on a stale ETag: 412 UpdateConditionNotSatisfied, the row unchanged',
    async (table) => {
      await table.createEntity({ partitionKey: P, rowKey: 'a', Text: 'first' });
      const replace = table.updateEntity({ partitionKey: P, rowKey: 'a', Text: 'x' }, 'Replace', { etag: STALE_ETAG });
      return [await failure(replace), await read(table, 'a')];
    },
  ],
  [
    'a replace on the current ETag: a new ETag, the columns not given gone',
    async (table) => {
      const { etag } = await table.createEntity({ partitionKey: P, rowKey: 'a', Text: 'first', Other: 1 });
      const updated = await table.updateEntity({ partitionKey: P, rowKey: 'a', Text: 'second' }, 'Replace', { etag });
      const now = await table.getEntity(P, 'a');
      const again = await failure(table.updateEntity({ partitionKey: P, rowKey: 'a' }, 'Replace', { etag }));
      return { changed: updated.etag !== etag, readSame: now.etag === updated.etag, row: columns(now), again };
    },
  ],
  [
    'a replace or delete of a missing row: 404, with or without an ETag',
    async (table) => {
      const { etag } = await table.createEntity({ partitionKey: P, rowKey: 'a' });
      return [
        await failure(table.updateEntity({ partitionKey: P, rowKey: 'missing' }, 'Replace', { etag })),
        await failure(table.updateEntity({ partitionKey: P, rowKey: 'missing' }, 'Replace')),
        await failure(table.deleteEntity(P, 'missing')),
      ];
    },
  ],
  [
    'a delete on a stale ETag: 412; without one it deletes',
    async (table) => {
      await table.createEntity({ partitionKey: P, rowKey: 'a' });
      return [
        await failure(table.deleteEntity(P, 'a', { etag: STALE_ETAG })),
        await failure(table.deleteEntity(P, 'a')),
        await read(table, 'a'),
      ];
    },
  ],
  [
    'an upsert inserts, then merges (the default) or replaces',
    async (table) => {
      await table.upsertEntity({ partitionKey: P, rowKey: 'a', Text: 'x', Other: 1 });
      await table.upsertEntity({ partitionKey: P, rowKey: 'a', Text: 'y' });
      const merged = await read(table, 'a');
      await table.upsertEntity({ partitionKey: P, rowKey: 'a', Text: 'z' }, 'Replace');
      return [merged, await read(table, 'a')];
    },
  ],
  [
    "a partition query with select: that partition's rows in key order, the selected columns and etag, in pages",
    async (table) => {
      for (const [partitionKey, rowKey] of [
        [P, 'c'],
        [P, 'a'],
        ['p-2', 'b'],
        [P, 'b'],
      ])
        await table.createEntity({ partitionKey, rowKey, Text: rowKey, Other: 1 });
      return {
        paged: await pages(table, `PartitionKey eq '${P}'`, ['PartitionKey', 'RowKey', 'Text', 'Absent'], 2),
        whole: await pages(table, `PartitionKey eq 'p-2'`),
        empty: await pages(table, `PartitionKey eq 'p-3'`),
      };
    },
  ],
  [
    'a transaction that meets a missing row: 404 that reads as entity-not-found, and nothing deleted',
    async (table) => {
      await table.createEntity({ partitionKey: P, rowKey: 'a' });
      const transaction = table.submitTransaction([
        ['delete', { partitionKey: P, rowKey: 'a' }],
        ['delete', { partitionKey: P, rowKey: 'missing' }],
      ]);
      return [await failure(transaction), await read(table, 'a')];
    },
  ],
  [
    'a transaction of deletes of rows that exist deletes them all',
    async (table) => {
      for (const rowKey of ['a', 'b', 'c']) await table.createEntity({ partitionKey: P, rowKey });
      await table.submitTransaction([
        ['delete', { partitionKey: P, rowKey: 'a' }],
        ['delete', { partitionKey: P, rowKey: 'b' }],
      ]);
      return pages(table, `PartitionKey eq '${P}'`, ['RowKey']);
    },
  ],
  [
    'a transaction of more than 100 actions: refused, nothing deleted',
    async (table) => {
      const rowKeys = Array.from({ length: 101 }, (_, i) => `r${String(i).padStart(3, '0')}`);
      for (const rowKey of rowKeys) await table.createEntity({ partitionKey: P, rowKey });
      const transaction = table.submitTransaction(rowKeys.map((rowKey) => ['delete', { partitionKey: P, rowKey }]));
      return [await failure(transaction), (await pages(table, `PartitionKey eq '${P}'`, ['RowKey']))[0].length];
    },
  ],
];

const azuriteTables: TableClient[] = [];
afterAll(() => Promise.all(azuriteTables.map((table) => table.deleteTable())));

describe('the memory table answers as Azurite does', () => {
  it.each(SCENARIOS)('%s', async (_name, scenario) => {
    const azurite = await createTestTable('Memory');
    azuriteTables.push(azurite);
    const expected = await scenario(azurite);
    expect(await scenario(new MemoryTable().client)).toEqual(expected);
  });
});
