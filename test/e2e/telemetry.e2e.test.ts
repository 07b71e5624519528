/**
 * The summaries an operator queries, read back from the real host process
 * (`npm run host`, serving the bundle) in both of their forms:
 * - log: the JSON lines of its output (`--json`), the form without
 *   Application Insights;
 * - export: the records the real Azure Monitor exporter sent to a loopback
 *   ingestion endpoint, each field a custom dimension.
 * One RequestSummary per request with its named fields for each kind of
 * answer, and one JobTransition per job state change, the runner's included.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@azure/storage-queue';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../dev/azurite';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { startFakeIngestion, type Envelope, type FakeIngestion } from '../../dev/fakeIngestion';
import type { JwksServer, TokenIssuer } from '../../dev/tokenIssuer';
import { encodeJobMessage, poisonQueueName } from '../../src/execution/jobQueue';
import { toJobEntity } from '../../src/jobs/jobRow';
import { readableSummary, SUMMARY_FIELDS, type SummaryFields } from '../../src/telemetry/summary';
import { get } from '../fixtures/http';
import { startHostProcess, type HostProcess } from '../fixtures/hostProcess';
import { itemPath } from '../fixtures/items';
import { jobPath, SEED, SEED_RECORD, startBackends, USER_TENANT, withAzureCredential } from '../fixtures/stack';
import { tokenFactory, type TokenFactory } from '../fixtures/tokens';

type Line = SummaryFields & { level: string; message?: string; traceId?: string };

/** Where a host's summaries are read from. */
interface SummarySource {
  start(settings: Record<string, string>): Promise<HostProcess>;
  /** Every summary the host has written so far. */
  summaries(host: HostProcess): Line[];
}

/** The JSON lines of the host's output (--json). */
function outputLines(output: string): Line[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line)
    .filter((line) => line.event !== undefined);
}

const NUMERIC_FIELDS = new Set(['statusCode', 'durationMs']);

/** A trace's custom dimensions as summary fields (Application Insights keeps every value as a string). */
function fromEnvelope(envelope: Envelope): Line {
  const { properties = {}, severityLevel, message } = envelope.data.baseData;
  const fields = Object.fromEntries(
    Object.entries(properties).map(([name, value]) => [name, NUMERIC_FIELDS.has(name) ? Number(value) : value]),
  );
  return { ...fields, level: String(severityLevel).toLowerCase(), message, traceId: envelope.tags['ai.operation.id'] };
}

let ingestion: FakeIngestion;
const FORMS: [string, SummarySource][] = [
  [
    'log',
    { start: (settings) => startHostProcess(settings, ['--json']), summaries: (host) => outputLines(host.output()) },
  ],
  [
    'export',
    {
      start: (settings) =>
        startHostProcess({
          ...withAzureCredential(settings),
          ...ingestion.exporterEnv,
          WEBSITE_SITE_NAME: 'func-telemetry-test',
        }),
      summaries: () =>
        ingestion
          .envelopes()
          .filter((e) => e.data.baseType === 'MessageData')
          .map(fromEnvelope),
    },
  ],
];

let issuer: TokenIssuer;
let jwks: JwksServer;
let table: TableClient;
let settings: Record<string, string>;
let tokens: TokenFactory;

beforeAll(async () => {
  ({ issuer, jwks, table, settings } = await startBackends());
  tokens = tokenFactory(issuer);
  await table.createEntity(toJobEntity(SEED_RECORD));
  ingestion = await startFakeIngestion();
});
afterAll(async () => {
  await ingestion?.close();
  await jwks?.close();
  await table?.deleteTable();
});

describe.each(FORMS)('summaries, %s form', (form, source) => {
  let host: HostProcess;
  const PAYLOAD_MARKER = `payload-marker-${randomUUID()}`;
  const lines = () => source.summaries(host);

  beforeAll(async () => {
    host = await source.start(settings);
  });
  afterAll(async () => {
    expect(await host?.stop()).toBe(0);
  });

  async function summaryOf(requestId: string, of: () => Line[] = lines): Promise<Line> {
    for (let i = 0; i < 200; i++) {
      const found = of().find((l) => l.event === 'RequestSummary' && l.requestId === requestId);
      if (found) return found;
      await sleep(25); // the host writes its log once per turn of its event loop; the exporter sends once a second
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

  async function send(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; summary: Line }> {
    const requestId = randomUUID();
    const text = body === undefined ? undefined : JSON.stringify(body);
    const answer = await get(
      `${host.baseUrl}${path}`,
      { 'content-type': 'application/json', ...(headers ?? fabricHeaders(requestId)), requestid: requestId },
      method,
      undefined,
      text,
    );
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
      expect(summary).toMatchObject({
        operation: 'Jobs_GetItemJobInstanceState',
        statusCode: 400,
        errorCode: 'InvalidParameter',
      });
      expect(summary).not.toHaveProperty('itemId');
      expect(JSON.stringify(summary)).not.toContain('not-a-guid');
    });

    it('400 InvalidRequestBody and UnknownJobType on Create', async () => {
      const body = await send('POST', jobPath({ ...SEED, jobInstanceId: randomUUID() }), { creationPayload: {} });
      expect(body.summary).toMatchObject({
        operation: 'Jobs_CreateItemJobInstance',
        statusCode: 400,
        errorCode: 'InvalidRequestBody',
        tenantId: USER_TENANT,
      });
      const unknown = await send('POST', jobPath({ ...SEED, jobType: 'noSuchJob', jobInstanceId: randomUUID() }), {
        invokeType: 'Manual',
      });
      expect(unknown.summary).toMatchObject({ statusCode: 400, errorCode: 'UnknownJobType', jobType: 'noSuchJob' });
    });

    it('401: the failed rule and the tenant the request claimed, as warnings', async () => {
      const requestId = randomUUID();
      const wrongAudience = subjectAndAppHeader(tokens.subjectToken(), tokens.appToken({ aud: 'api://someone-else' }));
      const audience = await send('GET', jobPath(SEED), undefined, fabricHeaders(requestId, wrongAudience));
      expect(audience.status).toBe(401);
      expect(audience.summary).toMatchObject({
        level: 'warning',
        statusCode: 401,
        errorCode: 'AuthError',
        authRule: 'appToken.audience',
        tenantId: USER_TENANT,
      });
      const missing = await send('GET', jobPath(SEED), undefined, {
        'x-ms-client-tenant-id': 'not a guid',
        authorization: tokens.header(),
      });
      expect(missing.summary).toMatchObject({ statusCode: 401, authRule: 'tenantHeader.notGuid' });
      expect(missing.summary).not.toHaveProperty('tenantId');
      for (const segment of wrongAudience.split(/[ ",=.]+/).filter((s) => s.length > 20))
        expect(host.output() + JSON.stringify(ingestion.envelopes())).not.toContain(segment);
    });

    it('404 ItemNotFound and 409 JobInstanceConflict', async () => {
      const notFound = await send('GET', `${itemPath({ ...SEED, itemId: randomUUID() })}/payload`);
      expect(notFound.summary).toMatchObject({
        operation: 'ItemLifecycle_GetItemPayload',
        statusCode: 404,
        errorCode: 'ItemNotFound',
      });
      const conflict = await send(
        'POST',
        jobPath({ ...SEED, jobType: 'calculateForecast', itemType: SEED.itemType, workspaceId: randomUUID() }),
        {
          invokeType: 'Manual',
        },
      );
      expect(conflict.summary).toMatchObject({
        operation: 'Jobs_CreateItemJobInstance',
        statusCode: 409,
        errorCode: 'JobInstanceConflict',
      });
    });

    it('500 InvalidJobStateRecord, as an error', async () => {
      const jobInstanceId = randomUUID();
      await table.createEntity({ ...toJobEntity({ ...SEED_RECORD, jobInstanceId }), Status: 'Exploded' });
      const { status, summary } = await send('GET', jobPath({ ...SEED, jobInstanceId }));
      expect(status).toBe(500);
      expect(summary).toMatchObject({
        level: 'error',
        statusCode: 500,
        errorCode: 'InvalidJobStateRecord',
        jobInstanceId,
      });
    });

    it('503 SigningKeysUnavailable, from a host whose keys endpoint is down', async () => {
      const deadJwks = `http://127.0.0.1:${await freeLoopbackPort()}/keys`;
      const other = await source.start({
        ...settings,
        ENTRA_JWKS_URI: deadJwks,
        JOB_QUEUE_NAME: `unused-${randomUUID().slice(0, 8)}`,
      });
      try {
        const requestId = randomUUID();
        const answer = await get(`${other.baseUrl}${jobPath(SEED)}`, fabricHeaders(requestId));
        expect(answer.status).toBe(503);
        const summary = await summaryOf(requestId, () => source.summaries(other));
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
      const created = await send('POST', jobPath({ ...SEED, jobInstanceId }), {
        invokeType: 'Manual',
        creationPayload: { durationSeconds: 0, note: PAYLOAD_MARKER },
      });
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
      expect(host.output() + JSON.stringify(ingestion.envelopes())).not.toContain(PAYLOAD_MARKER);
    });

    it('a handler failure: InProgress → Failed with the errorCode', async () => {
      const jobInstanceId = randomUUID();
      await send('POST', jobPath({ ...SEED, jobInstanceId }), {
        invokeType: 'Manual',
        creationPayload: { durationSeconds: 0, failWith: { errorCode: 'BadInput', message: 'no' } },
      });
      const seen = await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'Failed'));
      expect(seen.at(-1)).toMatchObject({
        operation: 'JobRunner',
        previousStatus: 'InProgress',
        jobStatus: 'Failed',
        errorCode: 'BadInput',
      });
    });

    it('Cancel: InProgress → Cancelled, from the request', async () => {
      const jobInstanceId = randomUUID();
      await send('POST', jobPath({ ...SEED, jobInstanceId }), {
        invokeType: 'Manual',
        creationPayload: { durationSeconds: 60 },
      });
      await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'InProgress'));
      const cancel = await send('POST', `${jobPath({ ...SEED, jobInstanceId })}/cancel`);
      expect(cancel.summary).toMatchObject({
        operation: 'Jobs_CancelItemJobInstance',
        statusCode: 200,
        jobStatus: 'Cancelled',
      });
      const seen = await transitions(jobInstanceId, (s) => s.some((l) => l.jobStatus === 'Cancelled'));
      expect(seen.at(-1)).toMatchObject({
        operation: 'Jobs_CancelItemJobInstance',
        previousStatus: 'InProgress',
        requestId: cancel.summary.requestId,
      });
    });

    it('a lost runner found by Get: InProgress → Failed JobRunnerLost', async () => {
      const jobInstanceId = randomUUID();
      await table.createEntity(
        // Lost after four beats of 1 s without a write, by the storage service's clock.
        toJobEntity({ ...SEED_RECORD, jobInstanceId, heartbeatUtc: new Date(), heartbeatSeconds: 1 }),
      );
      let get = await send('GET', jobPath({ ...SEED, jobInstanceId }));
      for (let i = 0; i < 40 && get.summary.jobStatus === 'InProgress'; i++) {
        await sleep(250);
        get = await send('GET', jobPath({ ...SEED, jobInstanceId }));
      }
      expect(get.summary).toMatchObject({ statusCode: 200, jobStatus: 'Failed' });
      const seen = await transitions(jobInstanceId, (s) => s.length > 0);
      expect(seen).toEqual([
        expect.objectContaining({
          operation: 'Jobs_GetItemJobInstanceState',
          previousStatus: 'InProgress',
          jobStatus: 'Failed',
          errorCode: 'JobRunnerLost',
        }),
      ]);
    });

    it('a poisoned message: NotStarted → Failed JobCouldNotStart', async () => {
      const jobInstanceId = randomUUID();
      await table.createEntity(
        toJobEntity({ ...SEED_RECORD, jobInstanceId, status: 'NotStarted', startTimeUtc: undefined }),
      );
      const poison = new QueueClient(settings.JobQueue, poisonQueueName(settings.JOB_QUEUE_NAME));
      await poison.createIfNotExists();
      await poison.sendMessage(encodeJobMessage({ itemId: SEED.itemId, jobInstanceId }));
      const seen = await transitions(jobInstanceId, (s) => s.length > 0);
      expect(seen).toEqual([
        expect.objectContaining({
          operation: 'JobRunnerPoison',
          previousStatus: 'NotStarted',
          jobStatus: 'Failed',
          errorCode: 'JobCouldNotStart',
        }),
      ]);
    });
  });

  describe('every summary', () => {
    it('holds only the named fields, and no token', () => {
      const summaries = lines();
      expect(summaries.length).toBeGreaterThan(15);
      const allowed = new Set<string>([...SUMMARY_FIELDS, 'time', 'level', 'message', 'traceId']);
      for (const line of summaries) for (const key of Object.keys(line)) expect(allowed).toContain(key);
      const everything = host.output() + JSON.stringify(ingestion.envelopes());
      expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(everything).not.toContain('SubjectAndAppToken1.0 subjectToken');
    });
  });

  if (form === 'log') {
    it('one JSON object a line', () => {
      const jsonLines = host
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{"'));
      expect(jsonLines.length).toBeGreaterThan(15);
      for (const line of jsonLines) expect(() => JSON.parse(line)).not.toThrow();
    });
  }

  if (form === 'export') {
    describe('as Application Insights traces', () => {
      it('each summary is sent once, not also to the Functions log', async () => {
        const { summary } = await send('GET', jobPath(SEED));
        expect(lines().filter((l) => l.requestId === summary.requestId)).toHaveLength(1);
        // Other lines of the request carry its RequestId too; no summary does, in either form of the console.
        expect(host.output()).not.toContain(`requestId=${summary.requestId}`);
        expect(host.output()).not.toContain(`"requestId":"${summary.requestId}"`);
      });

      it('the message is the readable line; the severity, the instrumentation key and the role name are set', async () => {
        const { summary } = await send('GET', jobPath(SEED));
        const envelope = ingestion
          .envelopes()
          .find((e) => e.data.baseData.properties?.requestId === summary.requestId)!;
        expect(envelope).toMatchObject({
          name: 'Microsoft.ApplicationInsights.Message',
          iKey: ingestion.instrumentationKey,
        });
        expect(envelope.tags['ai.operation.name']).toBe('Jobs_GetItemJobInstanceState');
        expect(envelope.tags['ai.cloud.role']).toBe('func-telemetry-test');
        expect(envelope.data.baseData.severityLevel).toBe('Information');
        const { level, message, traceId, ...fields } = summary;
        expect(message).toBe(readableSummary(fields));
        expect([level, traceId]).toEqual(['information', expect.stringMatching(/^[0-9a-f]{32}$/)]);
      });

      it("joins the invocation's trace: operation_Id is the caller's W3C trace id", async () => {
        const traceId = randomBytes(16).toString('hex');
        const requestId = randomUUID();
        const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
        await get(`${host.baseUrl}${jobPath(SEED)}`, { ...fabricHeaders(requestId), traceparent });
        expect((await summaryOf(requestId)).traceId).toBe(traceId);
      });

      it('a batch refused for want of a role (403) is said in the Functions log', async () => {
        // The exporter keeps a 403ed batch on disk and reports success: only the app's watch on the request sees it.
        ingestion.failNext(403);
        const requestId = randomUUID();
        expect((await get(`${host.baseUrl}${jobPath(SEED)}`, fabricHeaders(requestId))).status).toBe(200);
        for (let i = 0; i < 100 && !host.output().includes('Application Insights answered'); i++) await sleep(50);
        expect(host.output()).toContain('Application Insights answered 403 to a batch of summary records');
        expect(host.output().match(/Application Insights answered/g)).toHaveLength(1);
      });

      it('what is buffered when the host stops is sent first (the appTerminate hook)', async () => {
        const other = await source.start({
          ...settings,
          JOB_QUEUE_NAME: `unused-${randomUUID().slice(0, 8)}`,
          LOCAL_HOST_QUEUES: 'off',
        });
        const requestId = randomUUID();
        expect((await get(`${other.baseUrl}${jobPath(SEED)}`, fabricHeaders(requestId))).status).toBe(200);
        await sleep(100); // the pipeline loads after the first summary
        expect(await other.stop()).toBe(0);
        expect(lines().filter((l) => l.requestId === requestId)).toHaveLength(1);
      });
    });
  }
});
