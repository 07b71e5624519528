import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import type { AuthenticatedApp, AuthenticatedCaller, AuthHeaders } from '../../../src/auth/subjectAndAppAuthenticator';
import { AuthError, ItemNotFoundError, StorageUnavailableError } from '../../../src/fabric/errors';
import { parseCreateItemJobInstanceRequest } from '../../../src/fabric/requests';
import { jsonResponse } from '../../../src/fabric/responses';
import { ITEM_ROUTE, parseItemPath, type ItemPath } from '../../../src/http/itemPath';
import { toHttpHandler, type Authenticator, type Operation, type OperationInput } from '../../../src/http/operation';
import type { SummaryEvent, SummaryFields } from '../../../src/telemetry/summary';
import type { SummaryWriter } from '../../../src/telemetry/summaryWriter';

const PATH = {
  workspaceId: 'E5EF604D-E14F-4A59-9133-75D5A0CB9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
};
const TENANT = '3c9e4a1b-2222-4222-8222-00000000cccc';
const CALLER: AuthenticatedCaller = { appId: 'app', tenantId: TENANT };
const ACTIVITY_ID = '0b7a1d52-5d1c-4a53-b6bb-3c1f3e0f4d11';
const REQUEST_ID = 'c2f7a4e0-9a55-4bd0-8f3d-7e2f5e6b1a22';
const AUTHORIZATION = 'SubjectAndAppToken1.0 subjectToken="s", appToken="a"';

type Run = (input: OperationInput<ItemPath, unknown, AuthenticatedApp>) => Promise<HttpResponseInit>;

interface Harness {
  /** Every step the pipeline took, in order. */
  steps: string[];
  logs: { level: string; line: string }[];
  summaries: { event: SummaryEvent; fields: SummaryFields }[];
  response: HttpResponseInit;
  request: HttpRequest;
  /** The body of the answer, parsed. */
  body: any;
  summary: SummaryFields;
}

interface Setup {
  auth?: 'subjectAndApp' | 'appOnly';
  path?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** What the authenticator does: a caller to return, or an error to throw. */
  authenticates?: AuthenticatedApp | Error;
  /** Absent: the operation reads no body. */
  parseBody?: (body: unknown) => unknown;
  run?: Run;
}

/** Runs one request through toHttpHandler with a fake authenticator and a collecting SummaryWriter. */
async function handle(setup: Setup = {}): Promise<Harness> {
  const steps: string[] = [];
  const logs: Harness['logs'] = [];
  const summaries: Harness['summaries'] = [];
  const authenticates = setup.authenticates ?? CALLER;
  const answer = async (step: string) => {
    steps.push(step);
    if (authenticates instanceof Error) throw authenticates;
    return authenticates;
  };
  const authenticator: Authenticator = {
    authenticate: (headers: AuthHeaders) => answer(`authenticate ${JSON.stringify(headers)}`) as never,
    authenticateApp: (authorization) => answer(`authenticateApp ${authorization}`),
    authenticateWithOptionalSubject: (headers: AuthHeaders) =>
      answer(`authenticateWithOptionalSubject ${JSON.stringify(headers)}`) as never,
  };
  const writer: SummaryWriter = {
    write: (_context, event, fields) => void summaries.push({ event, fields }),
    flush: async () => undefined,
  };
  const parseBody = setup.parseBody;
  const operation: Operation<ItemPath, unknown, AuthenticatedApp> = {
    name: 'Test_Operation',
    method: 'POST',
    auth: setup.auth,
    route: ITEM_ROUTE,
    parsePath: (params) => {
      steps.push('parsePath');
      return parseItemPath(params);
    },
    ...(parseBody && {
      parseBody: (body: unknown) => {
        steps.push('parseBody');
        return parseBody(body);
      },
    }),
    run: async (input) => {
      steps.push('run');
      return (setup.run ?? (async () => jsonResponse({ ok: true })))(input);
    },
  };
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/x',
    headers: {
      authorization: AUTHORIZATION,
      'x-ms-client-tenant-id': TENANT,
      activityid: ACTIVITY_ID,
      requestid: REQUEST_ID,
      ...setup.headers,
    },
    params: setup.path ?? PATH,
    body: setup.body === undefined ? undefined : { string: setup.body },
  });
  const context = new InvocationContext({
    logHandler: (level, ...args) => logs.push({ level, line: args.map(String).join(' ') }),
  });
  const response = await toHttpHandler(operation, authenticator, writer)(request, context);
  const requestSummaries = summaries.filter((s) => s.event === 'RequestSummary');
  expect(requestSummaries).toHaveLength(1);
  const body = typeof response.body === 'string' ? JSON.parse(response.body) : undefined;
  return { steps, logs, summaries, response, request, body, summary: requestSummaries[0].fields };
}

const parseInvoke = (body: unknown) => parseCreateItemJobInstanceRequest(body);

describe('the order of the steps', () => {
  it('path, authentication, body, then the operation with all three', async () => {
    let input: OperationInput<ItemPath, unknown, AuthenticatedApp> | undefined;
    const h = await handle({
      body: '{"invokeType":"Manual"}',
      parseBody: parseInvoke,
      run: async (given) => {
        input = given;
        return jsonResponse({});
      },
    });
    expect(h.steps).toEqual([
      'parsePath',
      `authenticate ${JSON.stringify({ authorization: AUTHORIZATION, clientTenantId: TENANT })}`,
      'parseBody',
      'run',
    ]);
    expect(input).toMatchObject({
      path: { ...PATH, workspaceId: PATH.workspaceId.toLowerCase() },
      caller: CALLER,
      body: { invokeType: 'Manual', creationPayload: '{}' },
    });
    expect(h.response.status).toBe(200);
  });

  it('a bad path answers 400 without calling the authenticator', async () => {
    const h = await handle({ path: { ...PATH, itemId: 'not-a-guid' }, body: '{}', parseBody: parseInvoke });
    expect(h.steps).toEqual(['parsePath']);
    expect(h.response.status).toBe(400);
    expect(h.body).toMatchObject({ errorCode: 'InvalidParameter', messageParameters: ['itemId'] });
  });

  it('an authentication failure answers 401 before the body is read', async () => {
    const h = await handle({
      authenticates: new AuthError('appToken.audience', 'app token: aud is wrong'),
      body: 'not even JSON',
      parseBody: parseInvoke,
    });
    expect(h.steps).toEqual(['parsePath', expect.stringMatching(/^authenticate /)]);
    expect(h.request.bodyUsed).toBe(false);
    expect(h.response.status).toBe(401);
    expect(h.body.errorCode).toBe('AuthError');
  });

  it('a bad body answers 400 after authentication, and the operation does not run', async () => {
    const h = await handle({ body: '{"invokeType":7}', parseBody: parseInvoke });
    expect(h.steps).toEqual(['parsePath', expect.stringMatching(/^authenticate /), 'parseBody']);
    expect(h.response.status).toBe(400);
    expect(h.body.errorCode).toBe('InvalidRequestBody');
  });

  it('an operation without parseBody reads no body', async () => {
    const h = await handle({ body: 'not JSON' });
    expect(h.steps).toEqual(['parsePath', expect.stringMatching(/^authenticate /), 'run']);
    expect(h.request.bodyUsed).toBe(false);
    expect(h.response.status).toBe(200);
  });

  it("auth 'appOnly' calls authenticateApp with the Authorization header alone", async () => {
    const h = await handle({ auth: 'appOnly', authenticates: { appId: 'app' } });
    expect(h.steps).toEqual(['parsePath', `authenticateApp ${AUTHORIZATION}`, 'run']);
    expect(h.summary).not.toHaveProperty('tenantId');
  });
});

describe('errors', () => {
  it('a FabricError answers with its status, body and headers', async () => {
    const h = await handle({
      run: async () => {
        throw new StorageUnavailableError('the table answered 503', 7);
      },
    });
    expect(h.response.status).toBe(503);
    expect(h.body).toEqual({
      errorCode: 'StorageUnavailable',
      message: 'The state store is temporarily unavailable. Try again later.',
      source: 'System',
      isPermanent: false,
    });
    expect(h.response.headers).toMatchObject({ 'Retry-After': '7', ActivityId: ACTIVITY_ID, RequestId: REQUEST_ID });
    expect(h.logs).toContainEqual({
      level: 'error',
      line: `503 StorageUnavailable: the table answered 503 [ActivityId=${ACTIVITY_ID} RequestId=${REQUEST_ID}]`,
    });
  });

  it('a 4xx FabricError is logged as information, an AuthError as a warning with its reason', async () => {
    const notFound = await handle({
      run: async () => {
        throw new ItemNotFoundError('no row');
      },
    });
    expect(notFound.logs.filter((l) => l.line.includes('no row')).map((l) => l.level)).toEqual(['information']);
    const denied = await handle({ authenticates: new AuthError('appToken.audience', 'app token: aud is wrong') });
    expect(denied.logs).toContainEqual({
      level: 'warning',
      line: expect.stringMatching(/^authentication failed: app token: aud is wrong \[/),
    });
  });

  it('any other throw answers 500 InternalError with nothing of the error, its stack logged as one escaped line', async () => {
    const thrown = new TypeError('secret detail\r\nforged line\u2028more');
    const h = await handle({
      run: async () => {
        throw thrown;
      },
    });
    expect(h.response.status).toBe(500);
    expect(h.body).toEqual({
      errorCode: 'InternalError',
      message: 'An unexpected error occurred.',
      source: 'System',
      isPermanent: false,
    });
    expect(String(h.response.body)).not.toMatch(/secret|forged|TypeError|at /);
    const [logged] = h.logs.filter((l) => l.line.startsWith('unexpected error: '));
    expect(logged.level).toBe('error');
    expect(logged.line).toContain(JSON.stringify(thrown.stack!.split('\n')[1].slice(0, 20)).slice(1, -1));
    expect(logged.line).toContain('secret detail\\r\\nforged line');
    expect(logged.line).not.toMatch(/[\r\n]/);
    expect(h.summary.errorCode).toBe('InternalError');
  });

  it('a thrown non-Error is a 500 too', async () => {
    const h = await handle({
      run: async () => {
        throw 'a string';
      },
    });
    expect(h.response.status).toBe(500);
    expect(h.logs).toContainEqual({ level: 'error', line: expect.stringContaining('unexpected error: "a string"') });
  });
});

describe('correlation', () => {
  it('echoes ActivityId and RequestId on success and on failure, and logs nothing about them', async () => {
    for (const h of [await handle(), await handle({ path: { ...PATH, itemId: 'x' } })]) {
      expect(h.response.headers).toMatchObject({ ActivityId: ACTIVITY_ID, RequestId: REQUEST_ID });
      expect(h.logs.map((l) => l.line)).not.toContainEqual(expect.stringContaining('no usable ActivityId'));
    }
  });

  it.each([
    ['absent', { activityid: '', requestid: '' }],
    ['unsafe to echo', { activityid: 'a b', requestid: 'x'.repeat(129) }],
  ])('leaves out ids that are %s, and logs their absence', async (_name, headers) => {
    const h = await handle({ headers });
    expect(h.response.headers).not.toHaveProperty('ActivityId');
    expect(h.response.headers).not.toHaveProperty('RequestId');
    expect(h.logs).toContainEqual({
      level: 'information',
      line: 'request has no usable ActivityId or RequestId header [ActivityId=(none) RequestId=(none)]',
    });
    expect(h.summary.activityId).toBeUndefined();
    expect(h.summary.requestId).toBeUndefined();
  });

  it('logs the absence of either one', async () => {
    const h = await handle({ headers: { requestid: '' } });
    expect(h.response.headers).toMatchObject({ ActivityId: ACTIVITY_ID });
    expect(h.logs.map((l) => l.line)).toContainEqual(expect.stringContaining('no usable ActivityId or RequestId'));
  });
});

describe('the RequestSummary', () => {
  it('of a success: the operation, the parsed path ids, the caller’s tenant, the status and the correlation', async () => {
    const h = await handle();
    expect(h.summary).toEqual({
      operation: 'Test_Operation',
      workspaceId: PATH.workspaceId.toLowerCase(),
      itemType: PATH.itemType,
      itemId: PATH.itemId,
      tenantId: TENANT,
      statusCode: 200,
      activityId: ACTIVITY_ID,
      requestId: REQUEST_ID,
      durationMs: expect.any(Number),
    });
  });

  it('of a bad path: no path ids at all, the 400 and its code', async () => {
    const h = await handle({ path: { ...PATH, itemType: 'bad type' } });
    expect(h.summary).toMatchObject({ operation: 'Test_Operation', statusCode: 400, errorCode: 'InvalidParameter' });
    for (const field of ['workspaceId', 'itemType', 'itemId', 'tenantId']) expect(h.summary).not.toHaveProperty(field);
  });

  it('of an operation failure: the tenant, the status and the code', async () => {
    const h = await handle({
      run: async () => {
        throw new ItemNotFoundError('x');
      },
    });
    expect(h.summary).toMatchObject({ tenantId: TENANT, statusCode: 404, errorCode: 'ItemNotFound' });
    expect(h.summary).not.toHaveProperty('authRule');
  });

  it('of a 401: the failed rule, and the claimed tenant lower-cased when it is a GUID', async () => {
    const h = await handle({
      headers: { 'x-ms-client-tenant-id': TENANT.toUpperCase() },
      authenticates: new AuthError('subjectToken.tid', 'reason'),
    });
    expect(h.summary).toMatchObject({
      statusCode: 401,
      errorCode: 'AuthError',
      authRule: 'subjectToken.tid',
      tenantId: TENANT,
    });
  });

  it.each([
    ['not a GUID', { 'x-ms-client-tenant-id': 'contoso.onmicrosoft.com' }],
    ['absent', { 'x-ms-client-tenant-id': '' }],
  ])('of a 401: no tenant when the claimed one is %s', async (_name, headers) => {
    const h = await handle({ headers, authenticates: new AuthError('header.tenant', 'reason') });
    expect(h.summary).toMatchObject({ authRule: 'header.tenant' });
    expect(h.summary.tenantId).toBeUndefined();
  });

  it('of an error that is not an AuthError: no authRule', async () => {
    const h = await handle({ path: { ...PATH, workspaceId: 'x' } });
    expect(h.summary).not.toHaveProperty('authRule');
  });
});
