/**
 * The Extensibility Toolkit's four item-lifecycle notifications (FET.md "The
 * four lifecycle operations" and "Item definitions") over HTTP through the
 * local host, against real Azurite and real tokens: answers checked against
 * contract/extensibility-toolkit.swagger.json, rows read back from the tables.
 */
import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateForecast, FORECAST_SCOPES } from '../../src/handlers/forecast';
import { forecastItem } from '../../src/handlers/forecastItem';
import type { ItemDefinition } from '../../src/handlers/itemHandler';
import { HandlerRegistry } from '../../src/handlers/registry';
import { toolkitValidator } from '../fixtures/contractSchema';
import { expectTombstone, ITEM, itemPath, OTHER_ITEM_TYPE, OWNER, partitionRows, seedJobRows } from '../fixtures/items';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';
import {
  base64,
  forecastDefinition,
  itemRow,
  lifecyclePath,
  recordingJob,
  toolkitJobPath,
  type LifecycleOperation,
} from '../fixtures/toolkit';
import { until } from '../fixtures/until';

const isSuccess = toolkitValidator('LifecycleSuccessResponse');
const isError = toolkitValidator('ErrorResponse');
const isState = toolkitValidator('ItemJobInstanceState');

/** An item type registered with no handler at all. */
const UNREGISTERED_TYPE = 'Contoso.FinanceAnalytics.Unregistered';
/** Another owner: the same tenant, another workspace. */
const OTHER_WORKSPACE = '0f0f0f0f-1111-4222-8333-444444444444';

let stack: TestStack;
const jobs = recordingJob();
/** What OTHER_ITEM_TYPE's handler was given, by item id. */
const definitions = new Map<string, ItemDefinition | undefined>();

beforeAll(async () => {
  stack = await startStack(
    // The runner sees a cancellation at its next heartbeat.
    { JOB_HEARTBEAT_SECONDS: '1' },
    {
      handlers: new HandlerRegistry()
        .item(SEED.itemType, forecastItem)
        .item(OTHER_ITEM_TYPE, {
          validateDefinition: (definition, item) => void definitions.set(item.itemId, definition),
          onDeleted: () => {
            throw new Error('the hook fails: a delete must not be blocked by it');
          },
        })
        .job(SEED.itemType, SEED.jobType, calculateForecast, { scopes: FORECAST_SCOPES })
        .job(SEED.itemType, 'waitForCancel', jobs.handler),
    },
  );
});
afterAll(() => stack?.close());

const newItem = (itemType = SEED.itemType) => ({ ...ITEM, itemType, itemId: randomUUID() });
type Item = ReturnType<typeof newItem>;

function notify(item: Item, operation: LifecycleOperation, body: unknown = {}, spelling: 'as is' | 'lower' = 'as is') {
  return stack.send('POST', lifecyclePath(item, operation, spelling), body, stack.headers());
}

async function expectOk(answer: Awaited<ReturnType<typeof notify>>) {
  expect(answer.status, answer.text).toBe(200);
  expect(answer.json).toEqual({});
  expect(isSuccess(answer.json)).toBe(true);
}

function expectError(answer: Awaited<ReturnType<typeof notify>>, status: number, errorCode: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.json.errorCode, answer.text).toBe(errorCode);
  expect(isError(answer.json), JSON.stringify(isError.errors)).toBe(true);
}

const digestOf = (definition: unknown) => {
  const text = JSON.stringify(definition);
  return {
    DefinitionDigest: createHash('sha256').update(text).digest('base64'),
    DefinitionBytes: Buffer.byteLength(text),
  };
};

/** A toolkit job Create (the demo job, finishing at once unless another type and data are given). */
function createJob(
  item: Item,
  jobInstanceId = randomUUID(),
  jobType = SEED.jobType,
  executionData: unknown = { durationSeconds: 0 },
) {
  return stack.send(
    'POST',
    toolkitJobPath(item, 'onCreateJobInstance'),
    { jobType, jobInstanceId, executionData },
    stack.headers(),
  );
}
const v1State = (item: Item, jobInstanceId: string, jobType = SEED.jobType) =>
  stack.get(jobPath({ ...item, jobType, jobInstanceId }), stack.headers());

describe('routes: the literal segment in either letter case', () => {
  it.each(['as is', 'lower'] as const)(
    '%s: OnCreateItem, OnUpdateItem, OnDeleteItem, OnRestoreItem answer 200 {}',
    async (spelling) => {
      const item = newItem();
      await expectOk(await notify(item, 'OnCreateItem', {}, spelling));
      expect(await itemRow(stack.itemsTable, item.itemId)).toBeDefined();
      await expectOk(
        await notify(item, 'OnUpdateItem', { definition: forecastDefinition({ horizonMonths: 6 }) }, spelling),
      );
      expect(await itemRow(stack.itemsTable, item.itemId)).toMatchObject(
        digestOf(forecastDefinition({ horizonMonths: 6 })),
      );
      await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Soft' }, spelling));
      expect((await itemRow(stack.itemsTable, item.itemId))?.Deletion).toBe('Soft');
      await expectOk(await notify(item, 'OnRestoreItem', {}, spelling));
      expect((await itemRow(stack.itemsTable, item.itemId))?.Deletion).toBeUndefined();
    },
  );

  it('an upper-case ONCREATEITEM too, and a name that is not an operation is 404', async () => {
    const item = newItem();
    const answer = await stack.send('POST', `${itemPath(item)}/ONCREATEITEM`, {}, stack.headers());
    await expectOk(answer);
    expect((await stack.send('POST', `${itemPath(item)}/OnCreateItems`, {}, stack.headers())).status).toBe(404);
  });
});

describe('OnCreateItem', () => {
  it('inserts the row with the digest and size of its definition; the same item and owner again is 200 and changes nothing', async () => {
    const item = newItem();
    const definition = forecastDefinition({ horizonMonths: 24 });
    await expectOk(await notify(item, 'OnCreateItem', { definition }));
    const row = await itemRow(stack.itemsTable, item.itemId);
    expect(row).toMatchObject({ TenantId: OWNER.tenantId, WorkspaceId: item.workspaceId, ...digestOf(definition) });
    await expectOk(await notify(item, 'OnCreateItem', { definition }));
    await expectOk(await notify(item, 'OnCreateItem', { definition: forecastDefinition({ horizonMonths: 36 }) }));
    expect((await itemRow(stack.itemsTable, item.itemId))?.etag).toBe(row!.etag);
  });

  it("another owner's id is 409 ItemConflict and the row stays", async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    const row = await itemRow(stack.itemsTable, item.itemId);
    expectError(await notify({ ...item, workspaceId: OTHER_WORKSPACE }, 'OnCreateItem'), 409, 'ItemConflict');
    expect((await itemRow(stack.itemsTable, item.itemId))?.etag).toBe(row!.etag);
  });

  it('20 concurrent OnCreateItem of one id: 20 × 200, one row', async () => {
    const item = newItem();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => notify(item, 'OnCreateItem', { definition: forecastDefinition({}) })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const answer of answers) expect(answer.json).toEqual({});
    const rows: unknown[] = [];
    for await (const row of stack.itemsTable.listEntities({
      queryOptions: { filter: `PartitionKey eq '${item.itemId}'` },
    }))
      rows.push(row);
    expect(rows).toHaveLength(1);
  });
});

describe('OnUpdateItem', () => {
  it("replaces the row's definition digest and size", async () => {
    const item = newItem();
    const first = forecastDefinition({ horizonMonths: 1 });
    await expectOk(await notify(item, 'OnCreateItem', { definition: first }));
    const second = forecastDefinition({ horizonMonths: 120, note: 'x'.repeat(500) });
    await expectOk(await notify(item, 'OnUpdateItem', { definition: second }));
    const row = await itemRow(stack.itemsTable, item.itemId);
    expect(row).toMatchObject(digestOf(second));
    expect(row?.DefinitionDigest).not.toBe(digestOf(first).DefinitionDigest);
  });

  it('an item never heard of is created', async () => {
    const item = newItem();
    const definition = forecastDefinition({ horizonMonths: 3 });
    await expectOk(await notify(item, 'OnUpdateItem', { definition }));
    expect(await itemRow(stack.itemsTable, item.itemId)).toMatchObject({
      WorkspaceId: item.workspaceId,
      ...digestOf(definition),
    });
  });

  it("another owner's item is 404 ItemNotFound and stays as it was", async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    const row = await itemRow(stack.itemsTable, item.itemId);
    const foreign = { ...item, workspaceId: OTHER_WORKSPACE };
    expectError(await notify(foreign, 'OnUpdateItem', { definition: forecastDefinition({}) }), 404, 'ItemNotFound');
    expect((await itemRow(stack.itemsTable, item.itemId))?.etag).toBe(row!.etag);
  });
});

describe('OnDeleteItem', () => {
  it('deleteType is required, Hard or Soft: anything else is 400 InvalidRequestBody and deletes nothing', async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    const row = await itemRow(stack.itemsTable, item.itemId);
    for (const body of [
      {},
      { deleteType: 'hard' },
      { deleteType: 'soft' },
      { deleteType: 'Purge' },
      { deleteType: 1 },
      { deleteType: null },
      { deleteType: ['Hard'] },
    ]) {
      expectError(await notify(item, 'OnDeleteItem', body), 400, 'InvalidRequestBody');
    }
    expect((await stack.send('POST', lifecyclePath(item, 'OnDeleteItem'), undefined, stack.headers())).status).toBe(
      400,
    );
    expect((await itemRow(stack.itemsTable, item.itemId))?.etag).toBe(row!.etag);
  });

  it('a missing item is 200, Hard and Soft; both are idempotent', async () => {
    for (const deleteType of ['Hard', 'Soft']) {
      const item = newItem();
      await expectOk(await notify(item, 'OnDeleteItem', { deleteType }));
      await expectOk(await notify(item, 'OnDeleteItem', { deleteType }));
      if (deleteType === 'Hard') expectTombstone(await itemRow(stack.itemsTable, item.itemId));
      else expect((await itemRow(stack.itemsTable, item.itemId))?.Deletion).toBe('Soft');
    }
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Hard' }));
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Hard' }));
    expectTombstone(await itemRow(stack.itemsTable, item.itemId));
  });

  it("is never blocked: a handler's failing onDeleted hook is logged, the delete done", async () => {
    const item = newItem(OTHER_ITEM_TYPE);
    await expectOk(await notify(item, 'OnCreateItem'));
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Hard' }));
    expectTombstone(await itemRow(stack.itemsTable, item.itemId));
    expect(stack.logs.some((l) => l.line.includes(item.itemId) && /hook failed/.test(l.line))).toBe(true);
  });

  it('Soft: the item marked deleted, its running job cancelled, its rows kept, new jobs refused 409 ItemDeleted; OnRestoreItem makes it active and a new job runs, the cancelled job stays cancelled', async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    const done = randomUUID();
    expect((await createJob(item, done)).status).toBe(201);
    await until(
      () => v1State(item, done),
      (a) => a.json.status === 'Completed',
      'the demo job to complete',
    );
    const running = randomUUID();
    expect((await createJob(item, running, 'waitForCancel', { wait: true })).status).toBe(201);
    await jobs.started(running);

    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Soft' }));
    await jobs.aborted(running);
    const row = await itemRow(stack.itemsTable, item.itemId);
    expect(row?.Deletion).toBe('Soft');
    expect(row?.DeletedUtc).toBeInstanceOf(Date);
    const statuses = async () =>
      Object.fromEntries((await partitionRows(stack.table, item.itemId)).map((r) => [r.rowKey, r.Status]));
    expect(await statuses()).toEqual({ [done]: 'Completed', [running]: 'Cancelled' });

    const refusedToolkit = randomUUID();
    expectError(await createJob(item, refusedToolkit), 409, 'ItemDeleted');
    const refusedV1 = randomUUID();
    const v1 = await stack.send(
      'POST',
      jobPath({ ...item, jobType: SEED.jobType, jobInstanceId: refusedV1 }),
      { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
      stack.headers(),
    );
    expect(v1.status).toBe(409);
    expect(v1.json).toMatchObject({ errorCode: 'ItemDeleted', source: 'User' });
    expect(await statuses()).toEqual({ [done]: 'Completed', [running]: 'Cancelled' });

    await expectOk(await notify(item, 'OnRestoreItem', { definition: forecastDefinition({ horizonMonths: 12 }) }));
    const restored = await itemRow(stack.itemsTable, item.itemId);
    expect(restored?.Deletion).toBeUndefined();
    expect(restored?.DeletedUtc).toBeUndefined();
    const again = randomUUID();
    const created = await createJob(item, again);
    expect(created.status).toBe(201);
    expect(isState(created.json)).toBe(true);
    await until(
      () => v1State(item, again),
      (a) => a.json.status === 'Completed',
      'a job after the restore to complete',
    );
    expect((await v1State(item, running, 'waitForCancel')).json.status).toBe('Cancelled');
    expect(await statuses()).toEqual({ [done]: 'Completed', [running]: 'Cancelled', [again]: 'Completed' });
  });

  it('Hard: as v1 DeleteItem, an item with 250 job rows loses them all and its row', async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    await seedJobRows(
      stack.table,
      { ...item, tenantId: OWNER.tenantId, jobType: SEED.jobType, status: 'NotStarted' },
      250,
    );
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(250);
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Hard' }));
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(0);
    expectTombstone(await itemRow(stack.itemsTable, item.itemId));
  });
});

describe('OnRestoreItem', () => {
  it('an active item: 200, unchanged', async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    const row = await itemRow(stack.itemsTable, item.itemId);
    await expectOk(await notify(item, 'OnRestoreItem', { definition: forecastDefinition({ horizonMonths: 7 }) }));
    expect((await itemRow(stack.itemsTable, item.itemId))?.etag).toBe(row!.etag);
  });

  it('an item never heard of is created', async () => {
    const item = newItem();
    const definition = forecastDefinition({ horizonMonths: 9 });
    await expectOk(await notify(item, 'OnRestoreItem', { definition }));
    const row = await itemRow(stack.itemsTable, item.itemId);
    expect(row).toMatchObject(digestOf(definition));
    expect(row?.Deletion).toBeUndefined();
  });

  it("another owner's item is 404 ItemNotFound and stays deleted", async () => {
    const item = newItem();
    await expectOk(await notify(item, 'OnCreateItem'));
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Soft' }));
    const row = await itemRow(stack.itemsTable, item.itemId);
    expectError(await notify({ ...item, workspaceId: OTHER_WORKSPACE }, 'OnRestoreItem'), 404, 'ItemNotFound');
    expect(await itemRow(stack.itemsTable, item.itemId)).toMatchObject({ etag: row!.etag, Deletion: 'Soft' });
  });
});

describe("the item handler's ItemPayloadError (the demo's horizonMonths 0)", () => {
  const bad = { definition: forecastDefinition({ horizonMonths: 0 }) };
  const expectRefused = (answer: Awaited<ReturnType<typeof notify>>) => {
    expectError(answer, 400, 'InvalidForecastHorizon');
    expect(answer.json).toMatchObject({
      message: 'horizonMonths must be a whole number from 1 to 120.',
      source: 'User',
    });
  };

  it('refuses Create, Update and Restore with 400, its errorCode and message, and writes nothing', async () => {
    const unknown = newItem();
    expectRefused(await notify(unknown, 'OnCreateItem', bad));
    expectRefused(await notify(unknown, 'OnUpdateItem', bad));
    expectRefused(await notify(unknown, 'OnRestoreItem', bad));
    expect(await itemRow(stack.itemsTable, unknown.itemId)).toBeUndefined();

    const active = newItem();
    await expectOk(await notify(active, 'OnCreateItem', { definition: forecastDefinition({ horizonMonths: 5 }) }));
    const activeRow = await itemRow(stack.itemsTable, active.itemId);
    expectRefused(await notify(active, 'OnUpdateItem', bad));
    expect((await itemRow(stack.itemsTable, active.itemId))?.etag).toBe(activeRow!.etag);

    const deleted = newItem();
    await expectOk(await notify(deleted, 'OnCreateItem'));
    await expectOk(await notify(deleted, 'OnDeleteItem', { deleteType: 'Soft' }));
    const deletedRow = await itemRow(stack.itemsTable, deleted.itemId);
    expectRefused(await notify(deleted, 'OnRestoreItem', bad));
    expect(await itemRow(stack.itemsTable, deleted.itemId)).toMatchObject({ etag: deletedRow!.etag, Deletion: 'Soft' });
  });
});

describe('an item type with no handler registered', () => {
  it('is 400 UnknownItemType for create, update and restore, and nothing is written; delete still works', async () => {
    const item = newItem(UNREGISTERED_TYPE);
    for (const operation of ['OnCreateItem', 'OnUpdateItem', 'OnRestoreItem'] as const) {
      expectError(await notify(item, operation), 400, 'UnknownItemType');
    }
    expect(await itemRow(stack.itemsTable, item.itemId)).toBeUndefined();
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Soft' }));
    await expectOk(await notify(item, 'OnDeleteItem', { deleteType: 'Hard' }));
    expectTombstone(await itemRow(stack.itemsTable, item.itemId));
  });
});

describe('item definitions: the bounds', () => {
  const part = (path: string, payload: unknown = base64('{}'), payloadType: unknown = 'InlineBase64') => ({
    path,
    payload,
    payloadType,
  });

  async function expectInvalid(body: unknown, message: RegExp) {
    const item = newItem(OTHER_ITEM_TYPE);
    for (const operation of ['OnCreateItem', 'OnUpdateItem', 'OnRestoreItem'] as const) {
      const answer = await notify(item, operation, body);
      expectError(answer, 400, 'InvalidRequestBody');
      expect(answer.json.message).toMatch(message);
    }
    expect(await itemRow(stack.itemsTable, item.itemId)).toBeUndefined();
    expect(definitions.has(item.itemId)).toBe(false);
  }

  it('a body over ITEM_DEFINITION_MAX_BYTES (4 MiB) is 400 naming the limit; just under it is accepted', async () => {
    const limit = 4 * 1024 * 1024;
    const filler = (bytes: number) => ({ definition: { parts: [part('a.bin', base64('x'.repeat(bytes)))] } });
    const overhead = JSON.stringify(filler(0)).length;
    // base64 of n bytes is 4n/3 characters: the whole body just over and just under the limit.
    const over = JSON.stringify(filler(Math.ceil(((limit - overhead) * 3) / 4) + 3));
    expect(over.length).toBeGreaterThan(limit);
    const item = newItem(OTHER_ITEM_TYPE);
    const answer = await notify(item, 'OnCreateItem', over);
    expectError(answer, 400, 'InvalidRequestBody');
    expect(answer.json.message).toMatch(/4 MiB/);
    expect(await itemRow(stack.itemsTable, item.itemId)).toBeUndefined();
    const under = JSON.stringify(filler(Math.floor(((limit - overhead) * 3) / 4) - 6));
    expect(under.length).toBeLessThanOrEqual(limit);
    await expectOk(await notify(item, 'OnCreateItem', under));
  });

  it('more than 256 parts is 400; 256 are accepted', async () => {
    const parts = (n: number) => Array.from({ length: n }, (_, i) => part(`p${i}.json`));
    await expectInvalid({ definition: { parts: parts(257) } }, /256 parts/);
    const item = newItem(OTHER_ITEM_TYPE);
    await expectOk(await notify(item, 'OnCreateItem', { definition: { parts: parts(256) } }));
    expect(definitions.get(item.itemId)?.parts).toHaveLength(256);
  });

  it('a path empty, over 256 characters, not a string, or used twice is 400; 256 characters are accepted', async () => {
    await expectInvalid({ definition: { parts: [part('')] } }, /path/);
    await expectInvalid({ definition: { parts: [part('p'.repeat(257))] } }, /path/);
    await expectInvalid({ definition: { parts: [part(7 as unknown as string)] } }, /path/);
    await expectInvalid(
      { definition: { parts: [part('a.json'), part('b.json'), part('a.json')] } },
      /parts\[2\]\.path/,
    );
    const item = newItem(OTHER_ITEM_TYPE);
    await expectOk(await notify(item, 'OnCreateItem', { definition: { parts: [part('é'.repeat(256))] } }));
  });

  it('a payload that is not a string, and an InlineBase64 payload that is not strict base64, are 400', async () => {
    for (const payload of [42, null, { a: 1 }, ['YQ==']])
      await expectInvalid({ definition: { parts: [part('a', payload)] } }, /payload/);
    for (const payload of ['YQ', 'YR==', 'Y Q==', 'YQ==\n', 'Y-_=', '====', 'YQ=', '*'])
      await expectInvalid({ definition: { parts: [part('a', payload)] } }, /not base64/);
    await expectInvalid({ definition: { parts: 'x' } }, /parts/);
    await expectInvalid({ definition: { format: 3, parts: [] } }, /format/);
    await expectInvalid({ definition: 'text' }, /definition/);
  });

  it('unknown payloadTypes and unknown properties are accepted and passed to the handler as they came', async () => {
    const item = newItem(OTHER_ITEM_TYPE);
    const definition = {
      format: 'custom',
      future: { nested: [1, 2] },
      parts: [
        { path: 'link.json', payload: 'not base64 at all!', payloadType: 'Reference', extra: 'kept' },
        { path: 'data.json', payload: base64('{"a":1}'), payloadType: 'InlineBase64', checksum: 12 },
      ],
    };
    await expectOk(await notify(item, 'OnCreateItem', { definition, alsoUnknown: true }));
    const seen = definitions.get(item.itemId)!;
    expect(seen).toMatchObject({ format: 'custom', future: { nested: [1, 2] } });
    expect(seen.parts[0]).toEqual(definition.parts[0]);
    expect(seen.parts[1]).toMatchObject({ ...definition.parts[1] });
    expect(Buffer.from(seen.parts[1].bytes!).toString()).toBe('{"a":1}');
    expect(await itemRow(stack.itemsTable, item.itemId)).toMatchObject(digestOf(definition));
  });
});

describe('hostile definitions (property-based)', () => {
  const goodPart = fc.record({
    path: fc.string({ minLength: 1, maxLength: 20 }),
    payloadType: fc.constant('InlineBase64'),
    payload: fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('base64')),
  });
  /** One defect that makes a definition invalid, applied to a list of otherwise good parts. */
  type Parts = Record<string, unknown>[];
  const defect: fc.Arbitrary<(parts: Parts) => unknown> = fc.oneof<fc.Arbitrary<(parts: Parts) => unknown>[]>(
    fc.integer({ min: 257, max: 2000 }).map((n) => () => ({
      parts: Array.from({ length: n }, (_, i) => ({ path: `p${i}`, payload: '', payloadType: 'InlineBase64' })),
    })),
    fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((s) => {
        const canonical = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);
        return !canonical || Buffer.from(s, 'base64').toString('base64') !== s;
      })
      .map((bad) => (parts) => ({
        parts: [...parts, { path: 'bad-base64', payload: bad, payloadType: 'InlineBase64' }],
      })),
    fc.integer({ min: 70, max: 300 }).map((depth) => (parts) => {
      let deep: unknown = 0;
      for (let i = 0; i < depth; i++) deep = [deep];
      return { parts, deep };
    }),
    fc
      .tuple(
        fc.constantFrom('path', 'payload', 'payloadType'),
        fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 })),
      )
      .map(([key, value]) => (parts) => ({
        parts: [...parts, { path: 'n', payload: '', payloadType: 'InlineBase64', [key]: value }],
      })),
    fc
      .oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }))
      .map((format) => (parts) => ({ format, parts })),
    fc.constant((parts: Record<string, unknown>[]) => ({ parts: [...parts, { ...parts[0] }] })),
  );

  it('always a well-formed 400 ErrorResponse that writes no item row', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(goodPart, { minLength: 1, maxLength: 6, selector: (p) => p.path }),
        defect,
        fc.constantFrom('OnCreateItem', 'OnUpdateItem', 'OnRestoreItem') as fc.Arbitrary<LifecycleOperation>,
        async (parts, broken, operation) => {
          const item = newItem();
          const answer = await notify(item, operation, { definition: broken(parts) });
          expect(answer.status, answer.text).toBe(400);
          expect(answer.json.errorCode).toBe('InvalidRequestBody');
          expect(isError(answer.json), JSON.stringify(isError.errors)).toBe(true);
          expect(await itemRow(stack.itemsTable, item.itemId)).toBeUndefined();
        },
      ),
      { numRuns: 40 },
    );
  });
});
