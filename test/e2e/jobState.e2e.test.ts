import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractValidator } from '../fixtures/contractSchema';
import { get } from '../fixtures/http';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

const isJobState = contractValidator('ItemJobInstanceState');
const isErrorResponse = contractValidator('ErrorResponse');

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
  await stack.seed();
});
afterAll(() => stack?.close());

/** A row of the seed item written as is (no schema help), with `change` applied; undefined removes a column. */
async function putRawRow(jobInstanceId: string, change: Record<string, unknown>): Promise<void> {
  const entity: Record<string, unknown> = {
    partitionKey: SEED.itemId,
    rowKey: jobInstanceId,
    TenantId: USER_TENANT,
    WorkspaceId: SEED.workspaceId,
    ItemType: SEED.itemType,
    JobType: SEED.jobType,
    Status: 'InProgress',
    ...change,
  };
  for (const key of Object.keys(entity)) if (entity[key] === undefined) delete entity[key];
  await stack.table.upsertEntity(entity as { partitionKey: string; rowKey: string });
}

describe('the seed example', () => {
  it('answers 200 with exactly the contract body', async () => {
    const answer = await stack.get(jobPath(SEED), stack.headers());
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(isJobState(answer.json)).toBe(true);
  });

  it('echoes RequestId and ActivityId and puts both on every log line of the request', async () => {
    const headers = {
      ...stack.headers(),
      requestid: '11111111-2222-4333-8444-555555555555',
      activityid: '66666666-7777-4888-8999-aaaaaaaaaaaa',
    };
    const answer = await stack.get(jobPath(SEED), headers);
    expect(answer.headers.requestid).toBe(headers.requestid);
    expect(answer.headers.activityid).toBe(headers.activityid);
    const lines = stack.logs.filter((l) => l.line.includes(headers.requestid));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.line.includes(headers.activityid))).toBe(true);
  });

  it('serves the request without correlation headers and logs their absence', async () => {
    const { activityid: _a, requestid: _r, ...headers } = stack.headers();
    const answer = await stack.get(jobPath(SEED), headers);
    expect(answer.status).toBe(200);
    expect(answer.headers.requestid).toBeUndefined();
    expect(stack.logs.some((l) => l.line.includes('no usable ActivityId or RequestId'))).toBe(true);
  });

  it('matches literal route segments and GUIDs in any letter case', async () => {
    const path = jobPath({ ...SEED, itemId: SEED.itemId.toUpperCase(), workspaceId: SEED.workspaceId.toUpperCase() })
      .replace('/items/', '/itemS/')
      .replace('/jobTypes/', '/JOBTYPES/');
    const answer = await get(stack.host.baseUrl.replace(/\/api$/, '/API') + path, stack.headers());
    expect(answer.status).toBe(200);
    expect(answer.json.status).toBe('InProgress');
  });
});

describe('job rows', () => {
  const notFound = {
    status: 'Failed',
    errorDetails: {
      errorCode: 'JobInstanceNotFound',
      message: 'The job instance was not found.',
      source: 'System',
      isPermanent: true,
    },
  };

  it('answers a missing row with 200 Failed JobInstanceNotFound', async () => {
    const answer = await stack.get(
      jobPath({ ...SEED, jobInstanceId: '00000000-0000-4000-8000-000000000404' }),
      stack.headers(),
    );
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(notFound);
    expect(isJobState(answer.json)).toBe(true);
  });

  const foreign = [
    ['another tenant', { tenantId: '99999999-9999-4999-8999-999999999999' }],
    ['another workspace', { workspaceId: '99999999-9999-4999-8999-999999999998' }],
    ['another item type', { itemType: 'Contoso.Other' }],
    ['another job type', { jobType: 'otherJob' }],
  ] as const;
  it.each(foreign)('answers a row of %s exactly like a missing row', async (_name, difference) => {
    const jobInstanceId = crypto.randomUUID();
    await stack.seed({ jobInstanceId, ...difference });
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(notFound);
  });

  it('compares item and job type case-insensitively', async () => {
    const answer = await stack.get(
      jobPath({ ...SEED, itemType: SEED.itemType.toLowerCase(), jobType: 'CALCULATEFORECAST' }),
      stack.headers(),
    );
    expect(answer.json.status).toBe('InProgress');
  });

  it('answers a failed job with its error details and both times', async () => {
    const jobInstanceId = crypto.randomUUID();
    const errorDetails = {
      errorCode: 'QuotaExceeded',
      message: 'The forecast ran out of quota.',
      source: 'User' as const,
      isPermanent: true,
    };
    await stack.seed({
      jobInstanceId,
      status: 'Failed',
      startTimeUtc: new Date('2023-12-10T14:41:39.412Z'),
      endTimeUtc: new Date('2023-12-10T15:00:00.000Z'),
      errorDetails,
    });
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.json).toEqual({
      status: 'Failed',
      startTimeUtc: '2023-12-10T14:41:39.412Z',
      endTimeUtc: '2023-12-10T15:00:00.000Z',
      errorDetails,
    });
    expect(isJobState(answer.json)).toBe(true);
  });

  it('answers a not yet started job with its status only', async () => {
    const jobInstanceId = crypto.randomUUID();
    await stack.seed({ jobInstanceId, status: 'NotStarted', startTimeUtc: undefined });
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.text).toBe('{"status":"NotStarted"}');
  });

  const corrupt = [
    ['an unknown Status', { Status: 'Running' }],
    ['a StartTimeUtc in local time', { StartTimeUtc: '2023-12-10 14:41:39' }],
    ['an EndTimeUtc that is no date', { Status: 'Completed', EndTimeUtc: 'soon' }],
    ['ErrorDetails that is not JSON', { ErrorDetails: '{not json' }],
    [
      'ErrorDetails that is not a contract object',
      { ErrorDetails: JSON.stringify({ errorCode: 'X', message: 'y', source: 'Nobody' }) },
    ],
  ] as const;
  it.each(corrupt)('answers a row with %s with 500 InvalidJobStateRecord and logs its keys', async (_name, change) => {
    const jobInstanceId = crypto.randomUUID();
    await putRawRow(jobInstanceId, change);
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.status).toBe(500);
    expect(answer.json).toMatchObject({ errorCode: 'InvalidJobStateRecord', source: 'System', isPermanent: false });
    expect(isErrorResponse(answer.json)).toBe(true);
    expect(
      stack.logs.some((l) => l.level === 'error' && l.line.includes(jobInstanceId) && l.line.includes(SEED.itemId)),
    ).toBe(true);
  });
});

describe('corrupt rows of others', () => {
  it.each([
    ['another tenant', { TenantId: '99999999-9999-4999-8999-999999999999', Status: 'Running' }],
    ['no tenant at all', { TenantId: undefined, Status: 'Running' }],
  ])('answers a corrupt row of %s exactly like a missing row, never with a 500', async (_name, change) => {
    const jobInstanceId = crypto.randomUUID();
    await putRawRow(jobInstanceId, change);
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.status).toBe(200);
    expect(answer.json.errorDetails.errorCode).toBe('JobInstanceNotFound');
  });

  it('logs an error for a row whose owner cannot be read, while answering it like a missing row', async () => {
    const jobInstanceId = crypto.randomUUID();
    await putRawRow(jobInstanceId, { TenantId: undefined });
    const answer = await stack.get(jobPath({ ...SEED, jobInstanceId }), stack.headers());
    expect(answer.json.errorDetails.errorCode).toBe('JobInstanceNotFound');
    expect(
      stack.logs.some(
        (l) => l.level === 'error' && l.line.includes(jobInstanceId) && l.line.includes('missing or malformed'),
      ),
    ).toBe(true);
  });
});

describe('path parameters', () => {
  const bad = [
    ['workspaceId', { workspaceId: 'not-a-guid' }],
    ['itemType', { itemType: 'bad type!' }],
    ['itemType', { itemType: 'x'.repeat(257) }],
    ['itemId', { itemId: '{b14cb7e7-d346-4751-9cfd-8c2767d53111}' }],
    ['jobType', { jobType: 'calc%00' }],
    ['jobInstanceId', { jobInstanceId: '63f77191432d4ee69c5f31a1a6987072' }],
  ] as const;
  it.each(bad)('rejects a bad %s with 400 InvalidParameter before authentication', async (name, change) => {
    const answer = await stack.get(jobPath({ ...SEED, ...change }), {});
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({
      errorCode: 'InvalidParameter',
      source: 'User',
      isPermanent: true,
      messageParameters: [name],
    });
    expect(answer.json.message).toContain(name);
    expect(isErrorResponse(answer.json)).toBe(true);
  });
});

describe('the local host', () => {
  it('answers unknown paths with 404 and an ErrorResponse', async () => {
    const answer = await stack.get('/workspaces/x', stack.headers());
    expect(answer.status).toBe(404);
    expect(isErrorResponse(answer.json)).toBe(true);
  });

  it('answers a malformed absolute request target with 404, not a crash', async () => {
    const { port } = new URL(stack.host.baseUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.end('GET http://[::1/api/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404 /);
    expect(raw).toContain('"errorCode":"NotFound"');
  });

  it('echoes ActivityId and RequestId on its own 404 and 405 answers too, and only values safe to echo', async () => {
    const correlation = { activityid: randomUUID(), requestid: randomUUID() };
    const notFound = await stack.get('/no/such/route', { ...stack.headers(), ...correlation });
    expect(notFound.status).toBe(404);
    const notAllowed = await stack.get(jobPath(SEED), { ...stack.headers(), ...correlation }, 'DELETE');
    expect(notAllowed.status).toBe(405);
    for (const answer of [notFound, notAllowed]) {
      expect(answer.headers.activityid).toBe(correlation.activityid);
      expect(answer.headers.requestid).toBe(correlation.requestid);
    }
    const unsafe = await stack.get('/no/such/route', { activityid: 'a b<script>', requestid: 'x'.repeat(200) });
    expect(unsafe.status).toBe(404);
    expect(unsafe.headers.activityid).toBeUndefined();
    expect(unsafe.headers.requestid).toBeUndefined();
  });

  it('answers other methods with 405 and an ErrorResponse', async () => {
    const answer = await stack.get(jobPath(SEED), stack.headers(), 'DELETE');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, POST');
    expect(isErrorResponse(answer.json)).toBe(true);
  });
});
