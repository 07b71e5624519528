/**
 * The summary lines an operator queries, read from the output of the real
 * host process (`npm run host -- --json`, serving the bundle): one
 * RequestSummary per request with its named fields for each kind of answer,
 * and one JobTransition per job state change, the runner's included.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@azure/storage-queue';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../dev/azurite';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import type { JwksServer, TokenIssuer } from '../../dev/tokenIssuer';
import { encodeJobMessage, poisonQueueName } from '../../src/jobs/jobQueue';
import { toJobEntity } from '../../src/jobs/jobRow';
import { SUMMARY_FIELDS, type SummaryFields } from '../../src/telemetry/summary';
import { get } from '../fixtures/http';
import { startHostProcess, type HostProcess } from '../fixtures/hostProcess';
import { itemPath } from '../fixtures/items';
import { jobPath, SEED, SEED_RECORD, startBackends, USER_TENANT } from '../fixtures/stack';
import { tokenFactory, type TokenFactory } from '../fixtures/tokens';

type Line = SummaryFields & { time: string; level: string; message?: string };

let issuer: TokenIssuer;
let jwks: JwksServer;
let table: TableClient;
let settings: Record<string, string>;
let host: HostProcess;
let tokens: TokenFactory;
const PAYLOAD_MARKER = `payload-marker-${randomUUID()}`;

beforeAll(async () => {
  ({ issuer, jwks, table, settings } = await startBackends());
  tokens = tokenFactory(issuer);
  await table.createEntity(toJobEntity(SEED_RECORD));
  host = await startHostProcess(settings, ['--json']);
});
afterAll(async () => {
  expect(await host?.stop()).toBe(0);
  await jwks?.close();
  await table?.deleteTable();
});

/** Every line of the host's output so far, parsed: with --json each one is a JSON object. */
function lines(output = host.output()): Line[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
}

async function summaryOf(requestId: string): Promise<Line> {
  for (let i = 0; i < 100; i++) {
    const found = lines().find((l) => l.event === 'RequestSummary' && l.requestId === requestId);
    if (found) return found;
    await sleep(20); // the host writes its log once per turn of its event loop
  }
  throw new Error(`no RequestSummary for ${requestId} in:\n${host.output()}`);
}

async function transitions(jobInstanceId: string, until: (seen: Line[]) => boolean): Promise<Line[]> {
  for (let i = 0; i < 300; i++) {
    const seen = lines().filter((l) => l.event === 'JobTransition' && l.jobInstanceId === jobInstanceId);
    if (until(seen)) return seen;
    await sleep(50);
  }
  throw new Error(`JobTransitions of ${jobInstanceId} did not arrive:\n${host.output()}`);
}

function fabricHeaders(requestId: string, authorization = tokens.header()): Record<string, string> {
  return { authorization, 'x-ms-client-tenant-id': USER_TENANT, activityid: randomUUID(), requestid: requestId };
}

async function send(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; summary: Line }> {
  const requestId = randomUUID();
  const text = body === undefined ? undefined : JSON.stringify(body);
  const answer = await get(`${host.baseUrl}${path}`, { 'content-type': 'application/json', ...(headers ?? fabricHeaders(requestId)), requestid: requestId }, method, undefined, text);
  return { status: answer.status, summary: await summaryOf(requestId) };
}

describe('RequestSummary, one per request', () => {
  it('200: the operation, the ids, the job status answered, correlation and duration', async () => {
    const { status, summary } = await send('GET', jobPath(SEED));
    expect(status).toBe(200);
    expect(summary).toMatchObject({
      level: 'information',
      event: 'RequestSummary',
      operation: 'Jobs_GetItemJobInstanceState',
      statusCode: 200,
      tenantId: USER_TENANT,
      ...SEED,
      jobStatus: 'InProgress',
    });
    expect(summary.activityId).toMatch(/^[0-9a-f-]{36}$/);
    expect(summary.durationMs).toBeTypeOf('number');
    expect(summary).not.toHaveProperty('errorCode');
  });

  it('400 InvalidParameter: the errorCode, and nothing of the path that failed its checks', async () => {
    const { status, summary } = await send('GET', jobPath({ ...SEED, itemId: 'not-a-guid' }));
    expect(status).toBe(400);
    expect(summary).toMatchObject({ operation: 'Jobs_GetItemJobInstanceState', statusCode: 400, errorCode: 'InvalidParameter' });
    expect(summary).not.toHaveProperty('itemId');
    expect(JSON.stringify(summary)).not.toContain('not-a-guid');
  });

  it('400 InvalidRequestBody and UnknownJobType on Create', async () => {
    const body = await send('POST', jobPath({ ...SEED, jobInstanceId: randomUUID() }), { creationPayload: {} });
    expect(body.summary).toMatchObject({ operation: 'Jobs_CreateItemJobInstance', statusCode: 400, errorCode: 'InvalidRequestBody', tenantId: USER_TENANT });
    const unknown = await send('POST', jobPath({ ...SEED, jobType: 'noSuchJob', jobInstanceId: randomUUID() }), { invokeType: 'Manual' });
    expect(unknown.summary).toMatchObject({ statusCode: 400, errorCode: 'UnknownJobType', jobType: 'noSuchJob' });
  });

  it('401: the failed rule and the tenant the request claimed, as warnings', async () => {
    const requestId = randomUUID();
    const wrongAudience = subjectAndAppHeader(tokens.subjectToken(), tokens.appToken({ aud: 'api://someone-else' }));
    const audience = await send('GET', jobPath(SEED), undefined, fabricHeaders(requestId, wrongAudience));
    expect(audience.status).toBe(401);
    expect(audience.summary).toMatchObject({ level: 'warning', statusCode: 401, errorCode: 'AuthError', authRule: 'appToken.audience', tenantId: USER_TENANT });
    const missing = await send('GET', jobPath(SEED), undefined, { 'x-ms-client-tenant-id': 'not a guid', authorization: tokens.header() });
    expect(missing.summary).toMatchObject({ statusCode: 401, authRule: 'tenantHeader.notGuid' });
    expect(missing.summary).not.toHaveProperty('tenantId');
    for (const segment of wrongAudience.split(/[ ",=.]+/).filter((s) => s.length > 20)) expect(host.output()).not.toContain(segment);
  });

  it('404 ItemNotFound and 409 JobInstanceConflict', async () => {
    const notFound = await send('GET', `${itemPath({ ...SEED, itemId: randomUUID() })}/payload`);
    expect(notFound.summary).toMatchObject({ operation: 'ItemLifecycle_GetItemPayload', statusCode: 404, errorCode: 'ItemNotFound' });
    const conflict = await send('POST', jobPath({ ...SEED, jobType: 'calculateForecast', itemType: SEED.itemType, workspaceId: randomUUID() }), {
      invokeType: 'Manual',
    });
    expect(conflict.summary).toMatchObject({ operation: 'Jobs_CreateItemJobInstance', statusCode: 409, errorCode: 'JobInstanceConflict' });
  });

  it('500 InvalidJobStateRecord, as an error', async () => {
    const jobInstanceId = randomUUID();
    await table.createEntity({ ...toJobEntity({ ...SEED_RECORD, jobInstanceId }), Status: 'Exploded' });
    const { status, summary } = await send('GET', jobPath({ ...SEED, jobInstanceId }));
    expect(status).toBe(500);
    expect(summary).toMatchObject({ level: 'error', statusCode: 500, errorCode: 'InvalidJobStateRecord', jobInstanceId });
  });

  it('503 SigningKeysUnavailable, from a host whose keys endpoint is down', async () => {
    const deadJwks = `http://127.0.0.1:${await freeLoopbackPort()}/keys`;
    const other = await startHostProcess({ ...settings, ENTRA_JWKS_URI: deadJwks, JOB_QUEUE_NAME: `unused-${randomUUID().slice(0, 8)}` }, ['--json']);
    try {
      const requestId = randomUUID();
      const answer = await get(`${other.baseUrl}${jobPath(SEED)}`, fabricHeaders(requestId));
      expect(answer.status).toBe(503);
      let summary: Line | undefined;
      for (let i = 0; i < 100 && !summary; i++, await sleep(20))
        summary = lines(other.output()).find((l) => l.requestId === requestId && l.event === 'RequestSummary');
      expect(summary).toMatchObject({ level: 'error', statusCode: 503, errorCode: 'SigningKeysUnavailable' });
      expect(summary).not.toHaveProperty('authRule');
    } finally {
      await other.stop();
    }
  });
});

describe('JobTransition, one per job state change', () => {
  it('Create, claim and completion: None → NotStarted → InProgress → Completed, without the creation payload', async () => {
    const jobInstanceId = randomUUID();
    const created = await send('POST', jobPath({ ...SEED, jobInstanceId }), { invokeType: 'Manual', creationPayload: { durationSeconds: 0, note: PAYLOAD_MARKER } });
    expect(created.status).toBe(202);
    const seen = await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'Completed'));
    expect(seen.map((l) => [l.operation, l.previousStatus, l.jobStatus])).toEqual([
      ['Jobs_CreateItemJobInstance', 'None', 'NotStarted'],
      ['JobRunner', 'NotStarted', 'InProgress'],
      ['JobRunner', 'InProgress', 'Completed'],
    ]);
    expect(seen[0].requestId).toBe(created.summary.requestId);
    expect(seen[2]).toMatchObject({ tenantId: USER_TENANT, itemType: SEED.itemType, jobType: SEED.jobType });
    expect(seen[2].durationMs).toBeTypeOf('number');
    expect(host.output()).not.toContain(PAYLOAD_MARKER);
  });

  it('a handler failure: InProgress → Failed with the errorCode', async () => {
    const jobInstanceId = randomUUID();
    await send('POST', jobPath({ ...SEED, jobInstanceId }), { invokeType: 'Manual', creationPayload: { durationSeconds: 0, failWith: { errorCode: 'BadInput', message: 'no' } } });
    const seen = await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'Failed'));
    expect(seen.at(-1)).toMatchObject({ operation: 'JobRunner', previousStatus: 'InProgress', jobStatus: 'Failed', errorCode: 'BadInput' });
  });

  it('Cancel: InProgress → Cancelled, from the request', async () => {
    const jobInstanceId = randomUUID();
    await send('POST', jobPath({ ...SEED, jobInstanceId }), { invokeType: 'Manual', creationPayload: { durationSeconds: 60 } });
    await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'InProgress'));
    const cancel = await send('POST', `${jobPath({ ...SEED, jobInstanceId })}/cancel`);
    expect(cancel.summary).toMatchObject({ operation: 'Jobs_CancelItemJobInstance', statusCode: 200, jobStatus: 'Cancelled' });
    const seen = await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'Cancelled'));
    expect(seen.at(-1)).toMatchObject({ operation: 'Jobs_CancelItemJobInstance', previousStatus: 'InProgress', requestId: cancel.summary.requestId });
  });

  it('a lost runner found by Get: InProgress → Failed JobRunnerLost', async () => {
    const jobInstanceId = randomUUID();
    await table.createEntity(toJobEntity({ ...SEED_RECORD, jobInstanceId, heartbeatUtc: new Date(Date.now() - 3600_000) }));
    const get = await send('GET', jobPath({ ...SEED, jobInstanceId }));
    expect(get.summary).toMatchObject({ statusCode: 200, jobStatus: 'Failed' });
    const seen = await transitions(jobInstanceId, (s) => s.length > 0);
    expect(seen).toEqual([expect.objectContaining({ operation: 'Jobs_GetItemJobInstanceState', previousStatus: 'InProgress', jobStatus: 'Failed', errorCode: 'JobRunnerLost' })]);
  });

  it('a poisoned message: NotStarted → Failed JobCouldNotStart', async () => {
    const jobInstanceId = randomUUID();
    await table.createEntity(toJobEntity({ ...SEED_RECORD, jobInstanceId, status: 'NotStarted', startTimeUtc: undefined }));
    const poison = new QueueClient(settings.JobQueue, poisonQueueName(settings.JOB_QUEUE_NAME));
    await poison.createIfNotExists();
    await poison.sendMessage(encodeJobMessage({ itemId: SEED.itemId, jobInstanceId }));
    const seen = await transitions(jobInstanceId, (s) => s.length > 0);
    expect(seen).toEqual([expect.objectContaining({ operation: 'JobRunnerPoison', previousStatus: 'NotStarted', jobStatus: 'Failed', errorCode: 'JobCouldNotStart' })]);
  });
});

describe('every summary line', () => {
  it('holds only the named fields, one JSON object a line, and no token', () => {
    const summaries = lines().filter((l) => l.event);
    expect(summaries.length).toBeGreaterThan(15);
    const allowed = new Set<string>([...SUMMARY_FIELDS, 'time', 'level']);
    for (const line of summaries) for (const key of Object.keys(line)) expect(allowed).toContain(key);
    expect(host.output()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(host.output()).not.toContain('SubjectAndAppToken1.0 subjectToken');
  });
});
