/**
 * Every operation of the contract, served by one local host: the
 * authentication cases of authCases.ts against each (a rejected call reads and
 * writes nothing), and hostile bodies against each that takes one.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { deepJsonText } from '../fixtures/hostileInput';
import { ACCEPTED, REJECTED, type AuthContext, type AuthRequest } from '../fixtures/authCases';
import { createAuthContext } from '../fixtures/authContext';
import { contractValidator } from '../fixtures/contractSchema';
import { ITEM, itemPath, partitionRows, testHandlers, waitForAbort } from '../fixtures/items';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';

const isErrorResponse = contractValidator('ErrorResponse');

interface OperationCall {
  name: string;
  method: string;
  path: string;
  body?: object;
  /** Endpoint resolution: no tenant header, the subject token optional. */
  appOnly?: boolean;
}

let stack: TestStack;
let ctx: AuthContext;
/** An item with a row and a job, which rejected calls must leave exactly as they are. */
const item = { ...ITEM, itemId: randomUUID() };
const job = { ...item, jobType: SEED.jobType, jobInstanceId: randomUUID() };
/** Where a rejected CreateItem or CreateItemJobInstance would write. */
const unwritten = { ...ITEM, itemId: randomUUID() };

const operations = (target: typeof item): OperationCall[] => {
  const targetJob = { ...target, jobType: SEED.jobType, jobInstanceId: job.jobInstanceId };
  return [
    { name: 'ItemLifecycle_CreateItem', method: 'POST', path: itemPath(target), body: { displayName: 'created' } },
    { name: 'ItemLifecycle_UpdateItem', method: 'PATCH', path: itemPath(target), body: { displayName: 'changed' } },
    { name: 'ItemLifecycle_DeleteItem', method: 'DELETE', path: itemPath(target) },
    { name: 'ItemLifecycle_GetItemPayload', method: 'GET', path: `${itemPath(target)}/payload` },
    {
      name: 'Jobs_CreateItemJobInstance',
      method: 'POST',
      path: jobPath(targetJob),
      body: { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
    },
    { name: 'Jobs_GetItemJobInstanceState', method: 'GET', path: jobPath(targetJob) },
    { name: 'Jobs_CancelItemJobInstance', method: 'POST', path: `${jobPath(targetJob)}/cancel` },
    {
      name: 'EndpointResolution_Resolve',
      method: 'POST',
      path: '/resolve-api-path-placeholder',
      body: { context: [{ name: 'TenantRegion', value: 'westeurope' }] },
      appOnly: true,
    },
  ];
};

beforeAll(async () => {
  stack = await startStack(
    { ENDPOINT_RESOLUTION_URLS: JSON.stringify({ default: 'https://backend.contoso.example/api' }) },
    { handlers: testHandlers(waitForAbort().handler) },
  );
  ctx = createAuthContext(stack.issuer);
  expect((await stack.send('POST', itemPath(item), { displayName: 'kept' }, stack.headers())).status).toBe(200);
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
  // The snapshots below compare ETags: the job must have stopped changing first.
  while ((await stack.get(jobPath(job), stack.headers())).json.status !== 'Completed')
    await new Promise((resolve) => setTimeout(resolve, 100));
});
afterAll(() => stack?.close());

function call(operation: OperationCall, request: AuthRequest) {
  const headers: Record<string, string | string[]> = { requestid: randomUUID(), activityid: randomUUID() };
  if (request.authorization !== undefined) headers.authorization = request.authorization;
  if (request.tenant !== undefined) headers['x-ms-client-tenant-id'] = request.tenant;
  return stack.send(operation.method, operation.path, operation.body, headers);
}

/** Cases about the tenant header or the subject token's presence do not apply to a call Fabric makes for no tenant. */
const appliesTo = (operation: OperationCall, rule: string, name: string) =>
  !operation.appOnly || (rule !== 'tenant header' && rule !== 'empty subject' && !/x-ms-client-tenant-id/.test(name));

async function snapshot() {
  const row = await stack.itemsTable.getEntity(item.itemId, 'item');
  const jobs = await partitionRows(stack.table, item.itemId);
  return {
    itemEtag: row.etag,
    jobs: jobs.map((j) => j.etag),
    unwrittenItem: await stack.itemsTable.getEntity(unwritten.itemId, 'item').catch(() => undefined),
    unwrittenJobs: (await partitionRows(stack.table, unwritten.itemId)).length,
  };
}

describe.each([...operations(item).map((o) => [o.name, o] as const)])('%s', (_name, operation) => {
  const target =
    operation.name.endsWith('CreateItem') || operation.name.endsWith('CreateItemJobInstance')
      ? operations(unwritten).find((o) => o.name === operation.name)!
      : operation;

  it('rejects every attack of authCases.ts with 401 and reads and writes nothing', async () => {
    const before = await snapshot();
    const cases = REJECTED.filter((c) => appliesTo(operation, c.rule, c.name));
    expect(cases.length).toBeGreaterThan(operation.appOnly ? 40 : 50);
    for (const authCase of cases) {
      const answer = await call(target, authCase.request(ctx));
      expect(answer.status, authCase.name).toBe(401);
      expect(answer.json).toEqual({
        errorCode: 'AuthError',
        message: 'The request could not be authenticated.',
        source: 'External',
        isPermanent: false,
      });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('accepts every accepted case of authCases.ts', async () => {
    for (const authCase of ACCEPTED) {
      const answer = await call(
        operation.name === 'ItemLifecycle_DeleteItem' ? operations(unwritten)[2] : operation,
        authCase.request(ctx),
      );
      expect(answer.status, authCase.name).toBeLessThan(500);
      expect(answer.status, authCase.name).not.toBe(401);
    }
  });
});

describe('endpoint resolution authentication', () => {
  const resolve = operations(item)[7];

  it('accepts the app token alone: an empty subject token and no x-ms-client-tenant-id', async () => {
    const answer = await call(resolve, {
      authorization: `SubjectAndAppToken1.0 subjectToken="", appToken="${ctx.appToken()}"`,
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ url: 'https://backend.contoso.example/api', ttlInMinutes: 60 });
  });

  it('still checks a subject token that is sent', async () => {
    const answer = await call(resolve, {
      authorization: subjectAndAppHeader(ctx.subjectToken({ scp: 'Item.Read' }), ctx.appToken()),
    });
    expect(answer.status).toBe(401);
  });

  it('is refused to an item operation with an empty subject token (SubjectAndApp operations need the user)', async () => {
    const answer = await call(operations(item)[3], {
      authorization: `SubjectAndAppToken1.0 subjectToken="", appToken="${ctx.appToken()}"`,
      tenant: ctx.subjectClaims().tid as string,
    });
    expect(answer.status).toBe(401);
  });
});

describe('hostile bodies', () => {
  const withBodies = operations(item).filter((o) => o.body !== undefined);
  const raw = (operation: OperationCall, body: string | Buffer) =>
    stack.send(operation.method, operation.path, body, stack.headers());

  it.each(withBodies.map((o) => [o.name, o] as const))(
    '%s: a well-formed 400 InvalidRequestBody for each broken body, nothing written',
    async (_name, operation) => {
      const before = await snapshot();
      const bodies: (string | Buffer)[] = [
        '',
        'not json',
        '[]',
        '"text"',
        '42',
        'null',
        '{"a":',
        Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
        deepJsonText(200),
        `{"x":"${'a'.repeat(70 * 1024)}"}`,
      ];
      for (const body of bodies) {
        const answer = await raw(operation, body);
        expect(answer.status, String(body).slice(0, 40)).toBe(400);
        expect(answer.json.errorCode).toBe('InvalidRequestBody');
        expect(isErrorResponse(answer.json)).toBe(true);
      }
      const after = await snapshot();
      expect(after.unwrittenItem).toBeUndefined();
      expect(after).toEqual(before);
    },
  );

  it.each(withBodies.map((o) => [o.name, o] as const))(
    '%s: any JSON value is answered, never with a 5xx',
    async (_name, operation) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue({ maxDepth: 4 }),
            fc.dictionary(
              fc.constantFrom(
                'displayName',
                'description',
                'creationPayload',
                'updatePayload',
                'invokeType',
                'context',
              ),
              fc.jsonValue({ maxDepth: 3 }),
            ),
          ),
          async (value) => {
            const answer = await raw(operation, JSON.stringify(value));
            expect([200, 202, 400, 404, 409]).toContain(answer.status);
            if (answer.status >= 400) expect(isErrorResponse(answer.json), answer.text).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    },
  );
});
