/**
 * Every operation of both contracts (v1 and the Extensibility Toolkit's), served by one local host: the
 * authentication cases of authCases.ts against each (a rejected call reads and
 * writes nothing), and hostile bodies against each that takes one.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { JOB_CREATE_MAX_BODY_BYTES } from '../../src/fabric/toolkitRequests';
import { deepJsonText } from '../fixtures/hostileInput';
import { ACCEPTED, REJECTED, type AuthContext, type AuthRequest } from '../fixtures/authCases';
import { createAuthContext } from '../fixtures/authContext';
import { contractValidator, toolkitValidator } from '../fixtures/contractSchema';
import { lifecyclePath, toolkitJobPath } from '../fixtures/toolkit';
import { parseSummaryLine } from '../../src/telemetry/summary';
import { ITEM, itemPath, partitionRows, testHandlers, waitForAbort } from '../fixtures/items';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

const isV1ErrorResponse = contractValidator('ErrorResponse');
const isToolkitErrorResponse = toolkitValidator('ErrorResponse');
const isErrorResponse = (value: unknown) => isV1ErrorResponse(value) && isToolkitErrorResponse(value);

interface OperationCall {
  name: string;
  method: string;
  path: string;
  body?: object;
  /** Endpoint resolution: no tenant header, the subject token optional. */
  appOnly?: boolean;
  /** The toolkit's OnDeleteItem and OnRestoreItem: the tenant header required, the subject token optional. */
  subjectOptional?: boolean;
  /** The largest body it reads (default 64 KiB). */
  maxBodyBytes?: number;
  /** An empty body reads as an empty object (the toolkit's /resolve-endpoint, and its notifications whose definition is optional). */
  emptyBodyOk?: boolean;
}

const DEFINITION_MAX_BYTES = 4 * 1024 * 1024;

let stack: TestStack;
let ctx: AuthContext;
/** An item with a row and a job, which rejected calls must leave exactly as they are. */
const item = { ...ITEM, itemId: randomUUID() };
const job = { ...item, jobType: SEED.jobType, jobInstanceId: randomUUID() };
/** Where a rejected CreateItem or CreateItemJobInstance would write. */
const unwritten = { ...ITEM, itemId: randomUUID() };
/** What an accepted delete deletes: a hard delete leaves a tombstone row, so never `unwritten`'s id. */
const deletable = { ...ITEM, itemId: randomUUID() };

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
    {
      name: 'ItemLifecycle_OnCreateItem',
      method: 'POST',
      path: lifecyclePath(target, 'OnCreateItem'),
      body: {},
      maxBodyBytes: DEFINITION_MAX_BYTES,
      emptyBodyOk: true,
    },
    {
      name: 'ItemLifecycle_OnUpdateItem',
      method: 'POST',
      path: lifecyclePath(target, 'OnUpdateItem'),
      body: {},
      maxBodyBytes: DEFINITION_MAX_BYTES,
      emptyBodyOk: true,
    },
    {
      name: 'ItemLifecycle_OnDeleteItem',
      method: 'POST',
      path: lifecyclePath(target, 'OnDeleteItem'),
      body: { deleteType: 'Hard' },
      subjectOptional: true,
    },
    {
      name: 'ItemLifecycle_OnRestoreItem',
      method: 'POST',
      path: lifecyclePath(target, 'OnRestoreItem'),
      body: {},
      subjectOptional: true,
      maxBodyBytes: DEFINITION_MAX_BYTES,
      emptyBodyOk: true,
    },
    {
      name: 'Jobs_OnCreateJobInstance',
      method: 'POST',
      path: toolkitJobPath(target, 'onCreateJobInstance'),
      body: { jobType: SEED.jobType, jobInstanceId: job.jobInstanceId, executionData: { durationSeconds: 0 } },
      maxBodyBytes: JOB_CREATE_MAX_BODY_BYTES,
    },
    {
      name: 'Jobs_OnGetJobInstanceStatus',
      method: 'POST',
      path: toolkitJobPath(target, 'onGetJobInstanceStatus'),
      body: { jobType: SEED.jobType, jobInstanceId: job.jobInstanceId },
    },
    {
      name: 'Jobs_OnCancelJobInstance',
      method: 'POST',
      path: toolkitJobPath(target, 'onCancelJobInstance'),
      body: { jobType: SEED.jobType, jobInstanceId: job.jobInstanceId },
    },
    {
      name: 'EndpointResolution_ResolveEndpoint',
      method: 'POST',
      path: '/resolve-endpoint',
      body: { context: [{ name: 'TenantRegion', value: 'westeurope' }] },
      appOnly: true,
      emptyBodyOk: true,
    },
  ];
};

/** Operations whose rejected calls go to an item nothing has written (their accepted calls would create it). */
const writesNewItem = (name: string) => /CreateItem$|CreateItemJobInstance$|OnCreateJobInstance$/.test(name);
/** Operations whose accepted calls go to that item too (they would delete the kept one). */
const deletesItem = (name: string) => /DeleteItem$/.test(name);

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

/**
 * Cases about the tenant header or the subject token's presence do not apply to a call Fabric makes for no tenant;
 * an empty subject token is accepted where the subject is optional (its own rules below).
 */
const appliesTo = (operation: OperationCall, rule: string, name: string) =>
  (!operation.appOnly ||
    (rule !== 'tenant header' && rule !== 'empty subject' && !/x-ms-client-tenant-id/.test(name))) &&
  (!operation.subjectOptional || rule !== 'empty subject');

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
  const target = writesNewItem(operation.name)
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
        deletesItem(operation.name) ? operations(deletable).find((o) => o.name === operation.name)! : operation,
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
      const limit = operation.maxBodyBytes ?? 64 * 1024;
      const bodies: (string | Buffer)[] = [
        ...(operation.emptyBodyOk ? [] : ['']),
        'not json',
        '[]',
        '"text"',
        '42',
        'null',
        '{"a":',
        Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
        deepJsonText(200),
        // Over the operation's bound (the toolkit's definitions may reach ITEM_DEFINITION_MAX_BYTES, 4 MiB).
        `{"x":"${'a'.repeat(limit + 6 * 1024)}"}`,
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
                'definition',
                'deleteType',
                'jobType',
                'jobInstanceId',
                'executionData',
              ),
              fc.jsonValue({ maxDepth: 3 }),
            ),
          ),
          async (value) => {
            // A delete that happened to be well-formed must not delete the kept item.
            const target = deletesItem(operation.name)
              ? operations(deletable).find((o) => o.name === operation.name)!
              : operation;
            const answer = await raw(target, JSON.stringify(value));
            expect([200, 201, 202, 400, 404, 409]).toContain(answer.status);
            if (answer.status >= 400) expect(isErrorResponse(answer.json), answer.text).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    },
  );
});

describe('OnDeleteItem and OnRestoreItem: the subject token optional, the tenant header and app token required', () => {
  const OTHER_TENANT = '77777777-7777-4777-8777-777777777777';
  const subjectOptional = ['ItemLifecycle_OnDeleteItem', 'ItemLifecycle_OnRestoreItem'];
  /** A fresh item each call: an accepted delete or restore writes. */
  const fresh = (name: string) => operations({ ...ITEM, itemId: randomUUID() }).find((o) => o.name === name)!;
  const emptySubject = () => `SubjectAndAppToken1.0 subjectToken="", appToken="${ctx.appToken()}"`;
  const noSubjectKey = () => `SubjectAndAppToken1.0 appToken="${ctx.appToken()}"`;

  async function summaryOf(operation: OperationCall, request: AuthRequest) {
    const requestId = randomUUID();
    const headers: Record<string, string | string[]> = { requestid: requestId, activityid: randomUUID() };
    if (request.authorization !== undefined) headers.authorization = request.authorization;
    if (request.tenant !== undefined) headers['x-ms-client-tenant-id'] = request.tenant;
    const answer = await stack.send(operation.method, operation.path, operation.body, headers);
    const summary = stack.logs
      .filter((l) => l.line.includes(requestId))
      .map((l) => parseSummaryLine(l.line))
      .find((s) => s?.event === 'RequestSummary');
    return { answer, summary };
  }

  it.each(subjectOptional)(
    '%s: an empty subject token or none at all is accepted, and the summary says subject none; a user says user',
    async (name) => {
      for (const authorization of [emptySubject(), noSubjectKey()]) {
        const { answer, summary } = await summaryOf(fresh(name), { authorization, tenant: USER_TENANT });
        expect(answer.status, answer.text).toBe(200);
        expect(answer.json).toEqual({});
        expect(summary).toMatchObject({ statusCode: 200, subject: 'none', tenantId: USER_TENANT });
      }
      const { answer, summary } = await summaryOf(fresh(name), { authorization: ctx.header(), tenant: USER_TENANT });
      expect(answer.status).toBe(200);
      expect(summary).toMatchObject({ statusCode: 200, subject: 'user' });
    },
  );

  it.each(subjectOptional)(
    '%s: without a subject, no tenant header or a bad app token is 401; a subject token that is sent is fully checked',
    async (name) => {
      const before = await snapshot();
      const rejected: [string, AuthRequest][] = [
        ['no tenant header, empty subject', { authorization: emptySubject() }],
        ['no tenant header, no subject key', { authorization: noSubjectKey() }],
        ['a tenant header that is not a GUID', { authorization: emptySubject(), tenant: 'not-a-guid' }],
        [
          "an app token of an app that is not Fabric's",
          {
            authorization: `SubjectAndAppToken1.0 subjectToken="", appToken="${ctx.appToken({}, { appId: '11111111-2222-4333-8444-555555555555' })}"`,
            tenant: USER_TENANT,
          },
        ],
        [
          'an app token from another tenant than the publisher',
          {
            authorization: `SubjectAndAppToken1.0 appToken="${ctx.appToken({ tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` })}"`,
            tenant: USER_TENANT,
          },
        ],
        [
          'an expired app token',
          {
            authorization: `SubjectAndAppToken1.0 subjectToken="", appToken="${ctx.appToken({ exp: Math.floor(Date.now() / 1000) - 600, nbf: Math.floor(Date.now() / 1000) - 3600 })}"`,
            tenant: USER_TENANT,
          },
        ],
        ['a subject token of another tenant than the header', { authorization: ctx.header(), tenant: OTHER_TENANT }],
        [
          'a subject token without FabricWorkloadControl',
          {
            authorization: subjectAndAppHeader(ctx.subjectToken({ scp: 'Item.Read' }), ctx.appToken()),
            tenant: USER_TENANT,
          },
        ],
        [
          'an expired subject token',
          {
            authorization: subjectAndAppHeader(
              ctx.subjectToken({ exp: Math.floor(Date.now() / 1000) - 600, nbf: Math.floor(Date.now() / 1000) - 3600 }),
              ctx.appToken(),
            ),
            tenant: USER_TENANT,
          },
        ],
      ];
      const operation = operations(item).find((o) => o.name === name)!;
      for (const [what, request] of rejected) {
        const answer = await call(operation, request);
        expect(answer.status, what).toBe(401);
        expect(answer.json.errorCode, what).toBe('AuthError');
      }
      expect(await snapshot()).toEqual(before);
    },
  );
});
