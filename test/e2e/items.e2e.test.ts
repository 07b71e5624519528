import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ITEM_ROW_KEY } from '../../src/items/itemRow';
import { contractValidator } from '../fixtures/contractSchema';
import {
  ITEM,
  itemPath,
  OTHER_ITEM_TYPE,
  OWNER,
  partitionRows,
  seedJobRows,
  testHandlers,
  waitForAbort,
  expectTombstone,
} from '../fixtures/items';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';
import { OTHER_TENANT } from '../fixtures/authCases';

const isErrorResponse = contractValidator('ErrorResponse');
const isPayloadResponse = contractValidator('GetItemPayloadResponse');
const isCreateRequest = contractValidator('CreateItemRequest');
const isUpdateRequest = contractValidator('UpdateItemRequest');

const waiting = waitForAbort();
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ JOB_HEARTBEAT_SECONDS: '1' }, { handlers: testHandlers(waiting.handler) });
});
afterAll(() => stack?.close());

const newItem = (change: Partial<typeof ITEM> = {}) => ({ ...ITEM, itemId: randomUUID(), ...change });
const create = (item: typeof ITEM, body: object, headers = stack.headers()) =>
  stack.send('POST', itemPath(item), body, headers);
const patch = (item: typeof ITEM, body: object, headers = stack.headers()) =>
  stack.send('PATCH', itemPath(item), body, headers);
const remove = (item: typeof ITEM, headers = stack.headers()) =>
  stack.send('DELETE', itemPath(item), undefined, headers);
const payloadOf = (item: typeof ITEM, headers = stack.headers()) => stack.get(`${itemPath(item)}/payload`, headers);
const itemRow = (itemId: string) =>
  stack.itemsTable.getEntity<Record<string, unknown>>(itemId, ITEM_ROW_KEY).catch(() => undefined);
const otherTenantHeaders = () =>
  stack.headers({
    tenant: OTHER_TENANT,
    subject: { tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` },
  });

function expectError(answer: { status: number; json: any }, status: number, errorCode: string) {
  expect(answer.status).toBe(status);
  expect(answer.json.errorCode).toBe(errorCode);
  expect(isErrorResponse(answer.json)).toBe(true);
}

describe('ItemLifecycle_CreateItem', () => {
  const body = {
    displayName: 'Q3 forecast',
    description: 'Revenue',
    creationPayload: { horizonMonths: 6, region: 'EMEA' },
  };

  it('answers 200, stores one row with the owner columns, and the editor gets the payload', async () => {
    expect(isCreateRequest(body)).toBe(true);
    const item = newItem();
    const answer = await create(item, body);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('');
    const row = await itemRow(item.itemId);
    expect(row).toMatchObject({
      TenantId: USER_TENANT,
      WorkspaceId: item.workspaceId,
      ItemType: item.itemType,
      DisplayName: 'Q3 forecast',
      Description: 'Revenue',
    });
    const payload = await payloadOf(item);
    expect(payload.status).toBe(200);
    expect(payload.json).toEqual({ itemPayload: { horizonMonths: 6, region: 'EMEA' } });
    expect(isPayloadResponse(payload.json)).toBe(true);
  });

  it('builds the editor payload with the item handler (the demo adds its default horizon)', async () => {
    const item = newItem();
    expect((await create(item, { displayName: 'no payload' })).status).toBe(200);
    expect((await payloadOf(item)).json).toEqual({ itemPayload: { horizonMonths: 12 } });
  });

  it('gives an item type without an editorPayload rule what was stored', async () => {
    const item = newItem({ itemType: OTHER_ITEM_TYPE });
    expect((await create(item, { displayName: 'r', creationPayload: { a: [1, { b: null }] } })).status).toBe(200);
    expect((await payloadOf(item)).json).toEqual({ itemPayload: { a: [1, { b: null }] } });
  });

  it('is idempotent for the same owner: 200 again, the first row unchanged', async () => {
    const item = newItem();
    expect((await create(item, body)).status).toBe(200);
    const first = await itemRow(item.itemId);
    const again = await create(item, { ...body, displayName: 'a retry that says something else' });
    expect(again.status).toBe(200);
    expect((await itemRow(item.itemId))!.DisplayName).toBe('Q3 forecast');
    expect((await itemRow(item.itemId))!.etag).toBe(first!.etag);
  });

  it('answers 409 ItemConflict for the same item id under another tenant, workspace or item type, and overwrites nothing', async () => {
    const item = newItem();
    expect((await create(item, body)).status).toBe(200);
    const before = await itemRow(item.itemId);
    expectError(await create(item, body, otherTenantHeaders()), 409, 'ItemConflict');
    expectError(await create({ ...item, workspaceId: randomUUID() }, body), 409, 'ItemConflict');
    expectError(await create({ ...item, itemType: OTHER_ITEM_TYPE }, body), 409, 'ItemConflict');
    expect((await itemRow(item.itemId))!.etag).toBe(before!.etag);
  });

  it('counts displayName in characters as the contract does: 200 emoji (400 UTF-16 units) are accepted', async () => {
    const item = newItem();
    const displayName = '😀'.repeat(200);
    expect((await create(item, { displayName })).status).toBe(200);
    expect((await itemRow(item.itemId))!.DisplayName).toBe(displayName);
  });

  it.each([
    ['no displayName', { description: 'x' }, 'InvalidRequestBody', /displayName is required/],
    ['a displayName of 257 characters', { displayName: 'x'.repeat(257) }, 'InvalidRequestBody', /longer than 256/],
    ['a displayName of 257 emoji', { displayName: '😀'.repeat(257) }, 'InvalidRequestBody', /longer than 256/],
    ['a displayName that is not a string', { displayName: 5 }, 'InvalidRequestBody', /displayName must be a string/],
    [
      'a description that is not a string',
      { displayName: 'a', description: {} },
      'InvalidRequestBody',
      /description must be a string/,
    ],
    [
      'a creationPayload that is an array',
      { displayName: 'a', creationPayload: [1] },
      'InvalidRequestBody',
      /creationPayload must be a JSON object/,
    ],
    [
      'a creationPayload too long for one Table property',
      { displayName: 'a', creationPayload: { s: 'x'.repeat(33_000) } },
      'InvalidRequestBody',
      /at most 32768/,
    ],
    [
      'a horizon the item handler refuses',
      { displayName: 'a', creationPayload: { horizonMonths: 0 } },
      'InvalidForecastHorizon',
      /horizonMonths/,
    ],
  ])('refuses %s with 400 and writes nothing', async (_name, badBody, errorCode, message) => {
    const item = newItem();
    const answer = await create(item, badBody);
    expectError(answer, 400, errorCode);
    expect(answer.json.message).toMatch(message);
    expect(await itemRow(item.itemId)).toBeUndefined();
  });

  it('accepts exactly 256 characters of displayName', async () => {
    expect((await create(newItem(), { displayName: 'x'.repeat(256) })).status).toBe(200);
  });

  it('answers 400 UnknownItemType for an item type without an item handler', async () => {
    const item = newItem({ itemType: 'Contoso.Unknown' });
    expectError(await create(item, { displayName: 'a' }), 400, 'UnknownItemType');
    expect(await itemRow(item.itemId)).toBeUndefined();
  });
});

describe('ItemLifecycle_UpdateItem', () => {
  const original = { displayName: 'Original', description: 'Keep me', creationPayload: { horizonMonths: 3 } };

  it('keeps what the PATCH leaves out (absent or null) and changes the rest', async () => {
    const item = newItem();
    await create(item, original);
    const body = { displayName: 'Renamed', description: null };
    expect(isUpdateRequest({ displayName: 'Renamed' })).toBe(true);
    expect((await patch(item, body)).status).toBe(200);
    expect(await itemRow(item.itemId)).toMatchObject({
      DisplayName: 'Renamed',
      Description: 'Keep me',
      Payload: '{"horizonMonths":3}',
    });
    expect((await patch(item, { updatePayload: { horizonMonths: 24 } })).status).toBe(200);
    expect(await itemRow(item.itemId)).toMatchObject({ DisplayName: 'Renamed', Description: 'Keep me' });
    expect((await payloadOf(item)).json).toEqual({ itemPayload: { horizonMonths: 24 } });
    expect((await patch(item, {})).status).toBe(200);
    expect(await itemRow(item.itemId)).toMatchObject({
      DisplayName: 'Renamed',
      Description: 'Keep me',
      Payload: '{"horizonMonths":24}',
    });
  });

  it('refuses an update payload the item handler refuses, with its errorCode, and changes nothing', async () => {
    const item = newItem();
    await create(item, original);
    const before = await itemRow(item.itemId);
    expectError(
      await patch(item, { displayName: 'x', updatePayload: { horizonMonths: 500 } }),
      400,
      'InvalidForecastHorizon',
    );
    expect((await itemRow(item.itemId))!.etag).toBe(before!.etag);
  });

  it("answers 404 ItemNotFound for a missing item and for another owner's, and changes nothing", async () => {
    expectError(await patch(newItem(), { displayName: 'x' }), 404, 'ItemNotFound');
    const item = newItem();
    await create(item, original);
    const before = await itemRow(item.itemId);
    expectError(await patch(item, { displayName: 'x' }, otherTenantHeaders()), 404, 'ItemNotFound');
    expectError(await patch({ ...item, workspaceId: randomUUID() }, { displayName: 'x' }), 404, 'ItemNotFound');
    expectError(await patch({ ...item, itemType: OTHER_ITEM_TYPE }, { displayName: 'x' }), 404, 'ItemNotFound');
    expect((await itemRow(item.itemId))!.etag).toBe(before!.etag);
  });

  it('loses no PATCH of a race: concurrent updates of different properties all land', async () => {
    const item = newItem();
    await create(item, original);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all([
        patch(item, { displayName: `name ${round}` }),
        patch(item, { description: `description ${round}` }),
        patch(item, { updatePayload: { horizonMonths: round + 1 } }),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(await itemRow(item.itemId)).toMatchObject({
        DisplayName: `name ${round}`,
        Description: `description ${round}`,
        Payload: JSON.stringify({ horizonMonths: round + 1 }),
      });
    }
  });
});

describe('ItemLifecycle_GetItemPayload', () => {
  it("answers 404 ItemNotFound (source User) for a missing item and for another owner's", async () => {
    const missing = await payloadOf(newItem());
    expectError(missing, 404, 'ItemNotFound');
    expect(missing.json).toEqual({
      errorCode: 'ItemNotFound',
      message: 'The item was not found.',
      source: 'User',
      isPermanent: true,
    });
    const item = newItem();
    await create(item, { displayName: 'mine' });
    expectError(await payloadOf(item, otherTenantHeaders()), 404, 'ItemNotFound');
    expectError(await payloadOf({ ...item, workspaceId: randomUUID() }), 404, 'ItemNotFound');
    expectError(await payloadOf({ ...item, itemType: OTHER_ITEM_TYPE }), 404, 'ItemNotFound');
  });
});

describe('ItemLifecycle_DeleteItem', () => {
  it('cancels the running job, deletes all 250 job rows and the item row; the runner sees the cancellation', async () => {
    const item = newItem();
    await create(item, { displayName: 'to delete' });
    await seedJobRows(stack.table, { ...OWNER, itemId: item.itemId, jobType: SEED.jobType, status: 'Completed' }, 249);
    const running = { ...item, jobType: 'waitForCancel', jobInstanceId: randomUUID() };
    expect((await stack.send('POST', jobPath(running), { invokeType: 'Manual' }, stack.headers())).status).toBe(202);
    await waiting.signals.started;
    expect((await partitionRows(stack.table, item.itemId)).length).toBe(250);

    const answer = await remove(item);
    expect(answer.status).toBe(200);
    expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
    expectTombstone(await itemRow(item.itemId));
    await waiting.signals.aborted;
    expect(stack.logs.some((l) => /250 job rows deleted, 1 running jobs cancelled/.test(l.line))).toBe(true);
  });

  it('is idempotent: deleting a missing or an already deleted item is 200', async () => {
    const item = newItem();
    await create(item, { displayName: 'twice' });
    expect((await remove(item)).status).toBe(200);
    expect((await remove(item)).status).toBe(200);
    expect((await remove(newItem())).status).toBe(200);
  });

  it('finishes a delete that was cut short (job rows half gone, the item row still there)', async () => {
    const item = newItem();
    await create(item, { displayName: 'interrupted' });
    await seedJobRows(stack.table, { ...OWNER, itemId: item.itemId, jobType: SEED.jobType, status: 'NotStarted' }, 30);
    expect((await remove(item)).status).toBe(200);
    expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
    expectTombstone(await itemRow(item.itemId));
  });

  it("deletes an item of the caller's whose row is corrupt (beyond its owner columns), with its job rows", async () => {
    const item = newItem();
    await create(item, { displayName: 'soon corrupt' });
    await stack.itemsTable.updateEntity(
      { partitionKey: item.itemId, rowKey: ITEM_ROW_KEY, Payload: 'not json' },
      'Merge',
    );
    await seedJobRows(stack.table, { ...OWNER, itemId: item.itemId, jobType: SEED.jobType, status: 'NotStarted' }, 3);
    expect((await remove(item)).status).toBe(200);
    expectTombstone(await itemRow(item.itemId));
    expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
  });

  it('deletes the job rows of an item that has no item row (workloads that keep no item state)', async () => {
    const item = newItem();
    await seedJobRows(
      stack.table,
      {
        ...OWNER,
        itemId: item.itemId,
        jobType: SEED.jobType,
        status: 'Failed',
        errorDetails: { errorCode: 'E', message: 'm', source: 'User' },
      },
      3,
    );
    expect((await remove(item)).status).toBe(200);
    expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
  });

  it("leaves another owner's item and job rows alone, and answers as if they were missing", async () => {
    const item = newItem();
    await create(item, { displayName: 'not yours' });
    await seedJobRows(stack.table, { ...OWNER, itemId: item.itemId, jobType: SEED.jobType, status: 'NotStarted' }, 2);
    expect((await remove(item, otherTenantHeaders())).status).toBe(200);
    expect((await remove({ ...item, workspaceId: randomUUID() })).status).toBe(200);
    expect((await remove({ ...item, itemType: OTHER_ITEM_TYPE })).status).toBe(200);
    expect(await itemRow(item.itemId)).toBeDefined();
    const rows = await partitionRows(stack.table, item.itemId);
    expect(rows.map((r) => r.Status)).toEqual(['NotStarted', 'NotStarted']);
  });
});

describe('Jobs_CreateItemJobInstance and the item row', () => {
  it("answers 409 ItemConflict for an item id that is another owner's item, and writes no job row", async () => {
    const item = newItem();
    await create(item, { displayName: "someone else's" });
    const job = { ...item, jobType: SEED.jobType, jobInstanceId: randomUUID() };
    const answer = await stack.send('POST', jobPath(job), { invokeType: 'Manual' }, otherTenantHeaders());
    expectError(answer, 409, 'ItemConflict');
    expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
  });

  it('still schedules a job of an item that has no item row', async () => {
    const job = { ...newItem(), jobType: SEED.jobType, jobInstanceId: randomUUID() };
    expect(
      (
        await stack.send(
          'POST',
          jobPath(job),
          { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
          stack.headers(),
        )
      ).status,
    ).toBe(202);
  });
});
