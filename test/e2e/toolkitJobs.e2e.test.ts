/**
 * The Extensibility Toolkit's job operations and /resolve-endpoint (FET.md
 * "Jobs" and "Endpoint resolution", provisional) over HTTP through the local
 * host: one job engine for both contracts, answers checked against
 * contract/extensibility-toolkit.swagger.json.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateForecast, FORECAST_SCOPES } from '../../src/handlers/forecast';
import { forecastItem } from '../../src/handlers/forecastItem';
import { HandlerRegistry } from '../../src/handlers/registry';
import { contractValidator, toolkitValidator } from '../fixtures/contractSchema';
import { ITEM, OWNER, partitionRows } from '../fixtures/items';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';
import { base64, recordingJob, toolkitJobPath, type ToolkitJobOperation } from '../fixtures/toolkit';
import { until } from '../fixtures/until';

const isState = toolkitValidator('ItemJobInstanceState');
const isError = toolkitValidator('ErrorResponse');
const isResolution = toolkitValidator('EndpointResolutionResponse');
const isV1Resolution = contractValidator('EndpointResolutionResponse');
const OTHER_WORKSPACE = '0f0f0f0f-1111-4222-8333-444444444444';
const JOB_NOT_FOUND = {
  status: 'Failed',
  errorDetails: {
    errorCode: 'JobInstanceNotFound',
    message: 'The job instance was not found.',
    source: 'System',
    isPermanent: true,
  },
};

let stack: TestStack;
const recorded = recordingJob();

beforeAll(async () => {
  // No ENDPOINT_RESOLUTION_URLS: both resolution routes answer the app's own base URL.
  stack = await startStack(
    { JOB_HEARTBEAT_SECONDS: '1' },
    {
      handlers: new HandlerRegistry()
        .item(SEED.itemType, forecastItem)
        .job(SEED.itemType, SEED.jobType, calculateForecast, { scopes: FORECAST_SCOPES })
        .job(SEED.itemType, 'recorded', recorded.handler),
    },
  );
});
afterAll(() => stack?.close());

const newItem = () => ({ ...ITEM, itemId: randomUUID() });
type Item = ReturnType<typeof newItem>;

function toolkit(item: Item, operation: ToolkitJobOperation, body: unknown, spelling: 'as is' | 'upper' = 'as is') {
  return stack.send('POST', toolkitJobPath(item, operation, spelling), body, stack.headers());
}
const demo = (jobInstanceId: string, executionData: unknown = { durationSeconds: 0 }) => ({
  jobType: SEED.jobType,
  jobInstanceId,
  executionData,
});
const v1Path = (item: Item, jobInstanceId: string, jobType = SEED.jobType) =>
  jobPath({ ...item, jobType, jobInstanceId });
const v1Get = (item: Item, jobInstanceId: string, jobType = SEED.jobType) =>
  stack.get(v1Path(item, jobInstanceId, jobType), stack.headers());
const toolkitGet = (item: Item, jobInstanceId: string, jobType = SEED.jobType) =>
  toolkit(item, 'onGetJobInstanceStatus', { jobType, jobInstanceId });
const completed = (item: Item, id: string, jobType = SEED.jobType) =>
  until(
    () => toolkitGet(item, id, jobType),
    (a) => a.json.status === 'Completed',
    `job ${id} to complete`,
  );

function expectState(answer: { status: number; json: any; text: string }, status: number) {
  expect(answer.status, answer.text).toBe(status);
  expect(isState(answer.json), JSON.stringify(isState.errors)).toBe(true);
}

describe('routes: the literal segment in either letter case', () => {
  it.each(['as is', 'upper'] as const)(
    '%s: onCreateJobInstance, onGetJobInstanceStatus, onCancelJobInstance',
    async (spelling) => {
      const item = newItem();
      const id = randomUUID();
      const created = await toolkit(item, 'onCreateJobInstance', demo(id, { durationSeconds: 30 }), spelling);
      expectState(created, 201);
      const state = await toolkit(
        item,
        'onGetJobInstanceStatus',
        { jobType: SEED.jobType, jobInstanceId: id },
        spelling,
      );
      expectState(state, 200);
      expect(state.json.status).toMatch(/NotStarted|InProgress/);
      const cancelled = await toolkit(
        item,
        'onCancelJobInstance',
        { jobType: SEED.jobType, jobInstanceId: id },
        spelling,
      );
      expectState(cancelled, 200);
      expect(cancelled.json.status).toBe('Cancelled');
    },
  );

  it("resolve-endpoint and Resolve-Endpoint, with no ENDPOINT_RESOLUTION_URLS, answer what v1 answers: the app's own base URL", async () => {
    const appOnly = { authorization: `SubjectAndAppToken1.0 subjectToken="", appToken="${stack.tokens.appToken()}"` };
    const v1 = await stack.send('POST', '/resolve-api-path-placeholder', { context: [] }, appOnly);
    expect(v1.status, v1.text).toBe(200);
    expect(isV1Resolution(v1.json)).toBe(true);
    expect(v1.json.url).toBe(stack.host.baseUrl);
    for (const route of ['/resolve-endpoint', '/Resolve-Endpoint', '/RESOLVE-ENDPOINT']) {
      const answer = await stack.send('POST', route, { context: [] }, appOnly);
      expect(answer.status, `${route}: ${answer.text}`).toBe(200);
      expect(isResolution(answer.json)).toBe(true);
      expect(answer.json).toEqual(v1.json);
    }
  });
});

describe('onCreateJobInstance', () => {
  it('answers 201 NotStarted and the demo job runs to Completed', async () => {
    const item = newItem();
    const id = randomUUID();
    const created = await toolkit(item, 'onCreateJobInstance', demo(id));
    expectState(created, 201);
    expect(created.json).toEqual({ status: 'NotStarted' });
    const done = await completed(item, id);
    expectState(done, 200);
    const [row] = await partitionRows(stack.table, item.itemId);
    expect(row).toMatchObject({ rowKey: id, InvokeType: 'Manual', Contract: 'toolkit', TenantId: OWNER.tenantId });
  });

  it('a retry with the same id and owner answers 201 with its current state: one row, one run', async () => {
    const item = newItem();
    const id = randomUUID();
    const body = { jobType: 'recorded', jobInstanceId: id, executionData: { n: 1 } };
    // Retries at once (the row most likely NotStarted: each enqueues again), then after the job ended.
    const first = await Promise.all([1, 2, 3].map(() => toolkit(item, 'onCreateJobInstance', body)));
    for (const answer of first) expectState(answer, 201);
    await completed(item, id, 'recorded');
    const retry = await toolkit(item, 'onCreateJobInstance', body);
    expectState(retry, 201);
    expect(retry.json.status).toBe('Completed');
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(1);
    // A second run of a duplicate message would show here after the runner's next poll.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(recorded.runs.filter((r) => r === id)).toHaveLength(1);
  });

  it('the same id under another owner is 409 JobInstanceConflict', async () => {
    const item = newItem();
    const id = randomUUID();
    expectState(await toolkit(item, 'onCreateJobInstance', demo(id)), 201);
    const other = await toolkit({ ...item, workspaceId: OTHER_WORKSPACE }, 'onCreateJobInstance', demo(id));
    expect(other.status).toBe(409);
    expect(other.json.errorCode).toBe('JobInstanceConflict');
    expect(isError(other.json)).toBe(true);
    const rows = await partitionRows(stack.table, item.itemId);
    expect(rows.map((r) => r.WorkspaceId)).toEqual([item.workspaceId]);
  });

  it('an unknown jobType is 400 UnknownJobType and writes nothing', async () => {
    const item = newItem();
    const answer = await toolkit(item, 'onCreateJobInstance', { jobType: 'noSuchJob', jobInstanceId: randomUUID() });
    expect(answer.status).toBe(400);
    expect(answer.json.errorCode).toBe('UnknownJobType');
    expect(isError(answer.json)).toBe(true);
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(0);
  });

  it("the handler sees contract 'toolkit', its executionData as sent (any JSON value) and the definition when one came", async () => {
    const item = newItem();
    const values: unknown[] = [[1, 'two', { three: 3 }], 'just text', 42, { nested: { a: [true, null] } }, null];
    const ids = values.map(() => randomUUID());
    const definition = {
      format: 'json',
      parts: [{ path: 'forecast.json', payload: base64('{"horizonMonths":4}'), payloadType: 'InlineBase64' }],
    };
    for (const [i, executionData] of values.entries()) {
      const body = { jobType: 'recorded', jobInstanceId: ids[i], executionData, ...(i === 0 ? { definition } : {}) };
      expectState(await toolkit(item, 'onCreateJobInstance', body), 201);
    }
    const noData = randomUUID();
    expectState(await toolkit(item, 'onCreateJobInstance', { jobType: 'recorded', jobInstanceId: noData }), 201);
    const v1 = randomUUID();
    const v1Created = await stack.send(
      'POST',
      v1Path(item, v1, 'recorded'),
      { invokeType: 'Scheduled', creationPayload: { from: 'v1' } },
      stack.headers(),
    );
    expect(v1Created.status).toBe(202);
    for (const id of [...ids, noData, v1]) await completed(item, id, 'recorded');

    for (const [i, executionData] of values.entries()) {
      const job = recorded.seen.get(ids[i])!;
      expect(job.contract).toBe('toolkit');
      expect(job.invokeType).toBe('Manual');
      expect(job.executionData).toEqual(executionData);
      if (i === 0) {
        expect(job.definition).toMatchObject({ format: 'json', parts: [{ path: 'forecast.json' }] });
        expect(Buffer.from(job.definition!.parts[0].bytes!).toString()).toBe('{"horizonMonths":4}');
      } else expect(job.definition).toBeUndefined();
    }
    expect(recorded.seen.get(ids[3])!.creationPayload).toEqual({ nested: { a: [true, null] } });
    expect(recorded.seen.get(noData)!).toMatchObject({ contract: 'toolkit', creationPayload: {} });
    expect('executionData' in recorded.seen.get(noData)!).toBe(false);
    const v1Job = recorded.seen.get(v1)!;
    expect(v1Job).toMatchObject({ contract: 'v1', invokeType: 'Scheduled', creationPayload: { from: 'v1' } });
    expect(v1Job.executionData).toBeUndefined();
  });
});

describe('onGetJobInstanceStatus is exactly v1 Get', () => {
  it('a missing job and a foreign one answer the JobInstanceNotFound state', async () => {
    const item = newItem();
    const id = randomUUID();
    const missing = await toolkitGet(item, id);
    expectState(missing, 200);
    expect(missing.json).toEqual(JOB_NOT_FOUND);
    expect((await v1Get(item, id)).json).toEqual(missing.json);
    expectState(await toolkit(item, 'onCreateJobInstance', demo(id)), 201);
    const foreign = await toolkitGet({ ...item, workspaceId: OTHER_WORKSPACE }, id);
    expect(foreign.json).toEqual(JOB_NOT_FOUND);
    const otherType = await toolkitGet(item, id, 'recorded');
    expect(otherType.json).toEqual(JOB_NOT_FOUND);
  });

  it('a lost runner is answered Failed JobRunnerLost and recorded, as v1 Get does', async () => {
    const item = newItem();
    const id = randomUUID();
    await stack.seed({
      ...item,
      jobInstanceId: id,
      jobType: SEED.jobType,
      status: 'InProgress',
      startTimeUtc: new Date(Date.now() - 60_000),
      heartbeatUtc: new Date(Date.now() - 60_000),
      // Four of the runner's 1 s beats without a write, by the storage service's clock.
      heartbeatSeconds: 1,
    });
    const answer = await until(
      () => toolkitGet(item, id),
      (a) => a.json?.status !== 'InProgress',
      'the lost runner recorded',
    );
    expectState(answer, 200);
    expect(answer.json).toMatchObject({
      status: 'Failed',
      errorDetails: { errorCode: 'JobRunnerLost', source: 'System' },
    });
    const [row] = await partitionRows(stack.table, item.itemId);
    expect(row.Status).toBe('Failed');
    expect((await v1Get(item, id)).json).toEqual(answer.json);
  });
});

describe('onCancelJobInstance', () => {
  it('answers the state after the cancel; a terminal job stays as it is; a missing one is JobInstanceNotFound', async () => {
    const item = newItem();
    const id = randomUUID();
    expectState(await toolkit(item, 'onCreateJobInstance', demo(id, { durationSeconds: 60 })), 201);
    await until(
      () => toolkitGet(item, id),
      (a) => a.json.status === 'InProgress',
      'the job to start',
    );
    const cancelled = await toolkit(item, 'onCancelJobInstance', { jobType: SEED.jobType, jobInstanceId: id });
    expectState(cancelled, 200);
    expect(cancelled.json.status).toBe('Cancelled');
    expect(cancelled.json.endTimeUtc).toEqual(expect.any(String));
    expect((await toolkitGet(item, id)).json).toEqual(cancelled.json);

    const done = randomUUID();
    expectState(await toolkit(item, 'onCreateJobInstance', demo(done)), 201);
    const finished = await completed(item, done);
    const again = await toolkit(item, 'onCancelJobInstance', { jobType: SEED.jobType, jobInstanceId: done });
    expect(again.json).toEqual(finished.json);

    const missing = await toolkit(item, 'onCancelJobInstance', { jobType: SEED.jobType, jobInstanceId: randomUUID() });
    expectState(missing, 200);
    expect(missing.json).toEqual(JOB_NOT_FOUND);
  });
});

describe('one job engine: a toolkit job and a v1 job of the same id and owner are the same job', () => {
  it('created with the toolkit, read and cancelled with v1; a v1 Create retry is 202 with no second row', async () => {
    const item = newItem();
    const id = randomUUID();
    expectState(await toolkit(item, 'onCreateJobInstance', demo(id, { durationSeconds: 60 })), 201);
    const retry = await stack.send(
      'POST',
      v1Path(item, id),
      { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
      stack.headers(),
    );
    expect(retry.status).toBe(202);
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(1);
    const v1State = await v1Get(item, id);
    expect(v1State.json.status).toMatch(/NotStarted|InProgress/);
    const cancelled = await stack.send('POST', `${v1Path(item, id)}/cancel`, undefined, stack.headers());
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('Cancelled');
    expect((await toolkitGet(item, id)).json).toEqual(cancelled.json);
    const [row] = await partitionRows(stack.table, item.itemId);
    expect(row).toMatchObject({ Contract: 'toolkit', Status: 'Cancelled' });
  });

  it('created with v1, read and cancelled with the toolkit; a toolkit Create retry answers its state', async () => {
    const item = newItem();
    const id = randomUUID();
    const created = await stack.send(
      'POST',
      v1Path(item, id),
      { invokeType: 'Manual', creationPayload: { durationSeconds: 60 } },
      stack.headers(),
    );
    expect(created.status).toBe(202);
    const retry = await toolkit(item, 'onCreateJobInstance', demo(id));
    expectState(retry, 201);
    expect(retry.json.status).toMatch(/NotStarted|InProgress/);
    // Once it runs (before, the two reads could straddle its claim and differ by its start time).
    await until(
      () => v1Get(item, id),
      (answer) => answer.json.status === 'InProgress',
      'the job to start',
    );
    expect((await toolkitGet(item, id)).json).toEqual((await v1Get(item, id)).json);
    const cancelled = await toolkit(item, 'onCancelJobInstance', { jobType: SEED.jobType, jobInstanceId: id });
    expect(cancelled.json.status).toBe('Cancelled');
    expect((await v1Get(item, id)).json).toEqual(cancelled.json);
    expect(await partitionRows(stack.table, item.itemId)).toHaveLength(1);
  });
});

describe('/resolve-endpoint', () => {
  const appOnlyHeader = () => `SubjectAndAppToken1.0 subjectToken="", appToken="${stack.tokens.appToken()}"`;
  const noSubjectKey = () => `SubjectAndAppToken1.0 appToken="${stack.tokens.appToken()}"`;

  it('takes the app token alone (an empty subject token or none at all, no tenant header), with a body or none', async () => {
    const expected = { url: stack.host.baseUrl, ttlInMinutes: expect.any(Number) };
    for (const authorization of [appOnlyHeader(), noSubjectKey(), stack.headers().authorization]) {
      for (const body of [undefined, {}, { context: [{ name: 'TenantRegion', value: 'westeurope' }] }]) {
        const answer = await stack.send('POST', '/resolve-endpoint', body, { authorization });
        expect(answer.status, answer.text).toBe(200);
        expect(answer.json).toEqual(expected);
        expect(isResolution(answer.json)).toBe(true);
      }
    }
  });

  it('still requires a valid app token, and checks a subject token that is sent', async () => {
    const badApp = `SubjectAndAppToken1.0 subjectToken="", appToken="${stack.tokens.appToken({ appid: randomUUID(), azp: randomUUID() })}"`;
    expect((await stack.send('POST', '/resolve-endpoint', {}, { authorization: badApp })).status).toBe(401);
    const badSubject = `SubjectAndAppToken1.0 subjectToken="${stack.tokens.subjectToken({ scp: 'Item.Read' })}", appToken="${stack.tokens.appToken()}"`;
    expect((await stack.send('POST', '/resolve-endpoint', {}, { authorization: badSubject })).status).toBe(401);
    expect((await stack.send('POST', '/resolve-endpoint', {}, {})).status).toBe(401);
  });
});
