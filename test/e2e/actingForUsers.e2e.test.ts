/**
 * Jobs that act for their user, end to end: real HTTP through the local host,
 * real MSAL against the development token endpoint (loopback HTTPS), real
 * Azurite (tables, queue, and its Blob service over HTTPS with OAuth as
 * OneLake), a fake Fabric REST API on loopback HTTPS. Both contracts' Create
 * and status calls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { AssertionKeys, AssertionSealError } from '../../src/auth/assertionKeys';
import { FABRIC_API_SCOPE } from '../../src/clients/fabricApi';
import { ONELAKE_SCOPE } from '../../src/clients/oneLake';
import { calculateForecast, FORECAST_SCOPES, forecastPath } from '../../src/handlers/forecast';
import type { JobHandler } from '../../src/handlers/jobHandler';
import { HandlerRegistry } from '../../src/handlers/registry';
import { isTerminal } from '../../src/jobs/lifecycle';
import type { JobInstanceStatus } from '../../src/fabric/contract';
import { developmentTls } from '../../dev/devTls';
import { startFakeFabricApi, type FakeFabricApi } from '../../dev/fakeFabricApi';
import { MFA_CLAIMS_CHALLENGE } from '../../dev/tokenEndpoint';
import { contractValidator } from '../fixtures/contractSchema';
import {
  jobPath,
  SEED,
  startBackends,
  startStack,
  TEST_ASSERTION_KEY,
  TEST_CLIENT_SECRET,
  USER_TENANT,
  type Backends,
  type TestStack,
} from '../fixtures/stack';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { tokenFactory } from '../fixtures/tokens';
import { toolkitJobPath } from '../fixtures/toolkit';
import { until } from '../fixtures/until';

const HOLD = 'holdUserToken';
const FABRIC_JOB = 'readItemFromFabric';
const DOWNSTREAM = 'callDownstream';
const USER_OID = 'a1a1a1a1-0000-4000-8000-00000000a001';
const OTHER_OID = 'b2b2b2b2-0000-4000-8000-00000000b002';
/** A subject token this short-lived is valid for a Create but never usable by the runner (2 min margin). */
const SHORT_SECONDS = 90;

/** Waits `waitSeconds`, then asks for a token every 250 ms for `seconds`: a job that needs its user's token late. */
const holdUserToken: JobHandler = async (job, { user, signal }) => {
  const { waitSeconds = 0, seconds = 0 } = job.creationPayload as { waitSeconds?: number; seconds?: number };
  await pause(waitSeconds * 1000, signal);
  const end = Date.now() + seconds * 1000;
  do {
    await user.token();
    await pause(250, signal);
  } while (Date.now() < end && !signal.aborted);
};

/** Reads its item through Fabric's API, as its user. */
const readItemFromFabric: JobHandler = async (job, { fabric, log }) => {
  const item = await fabric.get<{ displayName: string }>(`/workspaces/${job.workspaceId}/items/${job.itemId}`);
  log.info(`the item is called ${item.displayName}`);
};

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

let stack: TestStack;
let fabricApi: FakeFabricApi;
const registry = new HandlerRegistry()
  .job(SEED.itemType, SEED.jobType, calculateForecast, { scopes: FORECAST_SCOPES })
  .job(SEED.itemType, HOLD, holdUserToken, { scopes: [ONELAKE_SCOPE] })
  .job(SEED.itemType, FABRIC_JOB, readItemFromFabric, { scopes: [FABRIC_API_SCOPE] })
  .job(SEED.itemType, 'compute', async () => undefined)
  // Only the token-service-down case uses it: MSAL then throttles its scopes for a minute (every user of the tenant).
  .job(SEED.itemType, DOWNSTREAM, async () => undefined, { scopes: ['api://contoso-downstream/user_impersonation'] });
const validErrorResponse = contractValidator('ErrorResponse');

beforeAll(async () => {
  fabricApi = await startFakeFabricApi({ tls: developmentTls(inject('devTlsDir')) });
  // Heartbeats every second: a poll's refresh races the runner's own writes of the row.
  stack = await startStack({ FABRIC_API_URL: fabricApi.baseUrl, JOB_HEARTBEAT_SECONDS: '1' }, { handlers: registry });
});
afterAll(async () => {
  await stack?.close();
  await fabricApi?.close();
});

const newJob = (jobType = SEED.jobType) => ({ ...SEED, jobType, itemId: randomUUID(), jobInstanceId: randomUUID() });
type Job = ReturnType<typeof newJob>;

/** Fabric's headers for `backends`' issuer, of user `oid`. */
function headersFrom(backends: Backends, oid: string): Record<string, string> {
  const tokens = tokenFactory(backends.issuer);
  return {
    authorization: subjectAndAppHeader(tokens.subjectToken({ oid }), tokens.appToken()),
    'x-ms-client-tenant-id': USER_TENANT,
  };
}

/** Headers of the job's user (USER_OID) or another, their subject token living `seconds`. */
function headersOf(oid = USER_OID, seconds = 3600): Record<string, string> {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return stack.headers({ subject: { oid, exp } });
}

const createV1 = (job: Job, payload: unknown = {}, headers = headersOf()) =>
  stack.send('POST', jobPath(job), { invokeType: 'Manual', creationPayload: payload }, headers);
const createToolkit = (job: Job, payload: unknown = {}, headers = headersOf()) =>
  stack.send(
    'POST',
    toolkitJobPath(job, 'onCreateJobInstance'),
    { jobType: job.jobType, jobInstanceId: job.jobInstanceId, executionData: payload },
    headers,
  );
const poll = (job: Job, headers = headersOf()) => stack.get(jobPath(job), headers);

async function rowOf(job: Job): Promise<Record<string, unknown> | undefined> {
  return stack.table.getEntity<Record<string, unknown>>(job.itemId, job.jobInstanceId).catch(() => undefined);
}

/** The row once it is terminal, read from the table (a poll by the user would refresh its token). */
async function terminalRow(job: Job, table = stack.table): Promise<Record<string, unknown>> {
  const read = () => table.getEntity<Record<string, unknown>>(job.itemId, job.jobInstanceId).catch(() => undefined);
  const row = await until(read, (r) => r !== undefined && isTerminal(r.Status as JobInstanceStatus), 'a terminal row');
  return row!;
}

async function queuedMessages(): Promise<number> {
  const queue = new QueueClient(stack.settings.JobQueue, stack.settings.JOB_QUEUE_NAME);
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

describe("a job type with scopes: Create's pre-flight", () => {
  it.each(['v1', 'toolkit'] as const)(
    '%s: consent missing → 401 AuthUIRequired with the scopes and the header, nothing written or enqueued',
    async (contract) => {
      stack.tokenEndpoint.failure = 'consent';
      try {
        const job = newJob();
        const messages = await queuedMessages();
        const answer = contract === 'v1' ? await createV1(job) : await createToolkit(job);
        expect(answer.status).toBe(401);
        expect(validErrorResponse(answer.json)).toBe(true);
        expect(answer.json).toMatchObject({
          errorCode: 'AuthUIRequired',
          source: 'System',
          isPermanent: false,
          moreDetails: [
            {
              errorCode: 'AuthUIRequired',
              additionalParameters: [{ name: 'additionalScopesToConsent', value: ONELAKE_SCOPE }],
            },
          ],
        });
        expect(answer.json.message).toMatch(/^AADSTS65001/);
        expect(answer.headers['www-authenticate']).toMatch(/^Bearer error="invalid_grant"$/);
        expect(await rowOf(job)).toBeUndefined();
        expect(await queuedMessages()).toBe(messages);
      } finally {
        stack.tokenEndpoint.failure = undefined;
      }
    },
  );

  it('MFA required → 401 with the claims challenge echoed in both spellings and in WWW-Authenticate', async () => {
    stack.tokenEndpoint.failure = 'mfa';
    try {
      const job = newJob();
      const answer = await createV1(job);
      expect(answer.status).toBe(401);
      const parameters = answer.json.moreDetails[0].additionalParameters;
      expect(parameters).toEqual([
        { name: 'additionalScopesToConsent', value: ONELAKE_SCOPE },
        { name: 'claimsForConditionalAccessPolicy', value: MFA_CLAIMS_CHALLENGE },
        { name: 'claimsForCondtionalAccessPolicy', value: MFA_CLAIMS_CHALLENGE },
      ]);
      const quoted = MFA_CLAIMS_CHALLENGE.replace(/["\\]/g, '\\$&');
      expect(answer.headers['www-authenticate']).toBe(`Bearer claims="${quoted}", error="interaction_required"`);
      expect(await rowOf(job)).toBeUndefined();
    } finally {
      stack.tokenEndpoint.failure = undefined;
    }
  });

  it('blocked by a policy → 401 AuthUIRequired; token service down → 503 TokenServiceUnavailable; nothing written', async () => {
    try {
      stack.tokenEndpoint.failure = 'policy';
      const blocked = newJob();
      const answer = await createToolkit(blocked);
      expect(answer.status).toBe(401);
      expect(answer.json.message).toMatch(/^AADSTS53003/);
      stack.tokenEndpoint.failure = 'unavailable';
      const down = newJob(DOWNSTREAM);
      const unavailable = await createV1(down);
      expect(unavailable.status).toBe(503);
      expect(unavailable.json.errorCode).toBe('TokenServiceUnavailable');
      expect(unavailable.headers['retry-after']).toBeDefined();
      // Entra is back, but MSAL holds the same request back for a while (its throttle): still 503, and no call.
      stack.tokenEndpoint.failure = undefined;
      const calls = stack.tokenEndpoint.requests.length;
      const throttled = await createToolkit(newJob(DOWNSTREAM));
      expect(throttled.status).toBe(503);
      expect(throttled.json.errorCode).toBe('TokenServiceUnavailable');
      expect(stack.tokenEndpoint.requests.length).toBe(calls);
      expect(await rowOf(blocked)).toBeUndefined();
      expect(await rowOf(down)).toBeUndefined();
    } finally {
      stack.tokenEndpoint.failure = undefined;
    }
  });

  it('a job type without scopes never asks for a token', async () => {
    const before = stack.tokenEndpoint.requests.length;
    const job = newJob('compute');
    expect((await createV1(job)).status).toBe(202);
    expect((await terminalRow(job)).Status).toBe('Completed');
    expect(stack.tokenEndpoint.requests.length).toBe(before);
    expect((await rowOf(job))?.UserAssertion).toBeUndefined();
  });
});

describe("the job's work as its user", () => {
  it("writes its result to the item's OneLake folder with its user's token", async () => {
    const job = newJob();
    const before = stack.tokenEndpoint.requests.length;
    expect((await createToolkit(job, { durationSeconds: 0 })).status).toBe(201);
    expect((await terminalRow(job)).Status).toBe('Completed');
    const container = BlobServiceClient.fromConnectionString(inject('oneLakeConnectionString')).getContainerClient(
      job.workspaceId,
    );
    const blob = await container.getBlobClient(`${job.itemId}/${forecastPath(job.jobInstanceId)}`).downloadToBuffer();
    expect(JSON.parse(blob.toString('utf8'))).toMatchObject({ itemId: job.itemId, jobInstanceId: job.jobInstanceId });
    // Every token asked for on the job's behalf was the user's (the pre-flight's and the runner's).
    const exchanges = stack.tokenEndpoint.requests
      .slice(before)
      .filter((r) => r.grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    expect(exchanges.length).toBeGreaterThanOrEqual(1);
    for (const exchange of exchanges) {
      expect(exchange.userObjectId).toBe(USER_OID);
      expect(exchange.error).toBeUndefined();
    }
  });

  it("calls Fabric's API as its user, backing off on 429 with Retry-After", async () => {
    const job = newJob(FABRIC_JOB);
    fabricApi.addItem({ id: job.itemId, workspaceId: job.workspaceId, type: SEED.itemType, displayName: 'Q3' });
    fabricApi.throttleNext(2, 1);
    const before = fabricApi.requests.length;
    expect((await createV1(job)).status).toBe(202);
    expect((await terminalRow(job)).Status).toBe('Completed');
    const calls = fabricApi.requests.slice(before);
    expect(calls.map((call) => call.status)).toEqual([429, 429, 200]);
    for (const call of calls) expect(call.oid).toBe(USER_OID);
    expect(stack.logs.some(({ line }) => line.includes('the item is called Q3'))).toBe(true);
  });

  it('outlives its first token and completes, because its own user’s poll refreshed it', async () => {
    const job = newJob(HOLD);
    expect((await createV1(job, { waitSeconds: 1.5, seconds: 2.5 }, headersOf(USER_OID, SHORT_SECONDS))).status).toBe(
      202,
    );
    const first = await rowOf(job);
    expect((await poll(job)).status).toBe(200);
    const refreshed = await rowOf(job);
    expect(refreshed?.UserAssertion).not.toBe(first?.UserAssertion);
    expect((refreshed?.UserAssertionExpiresUtc as Date).getTime()).toBeGreaterThan(
      (first?.UserAssertionExpiresUtc as Date).getTime(),
    );
    expect(stack.logs.some(({ line }) => line.includes('"userToken":"refreshed"'))).toBe(true);
    const done = await terminalRow(job);
    expect(done.Status).toBe('Completed');
  });

  it('fails UserTokenExpired (not permanent) when no poll refreshes its token; another user’s poll never does', async () => {
    const job = newJob(HOLD);
    expect((await createV1(job, { waitSeconds: 1.5 }, headersOf(USER_OID, SHORT_SECONDS))).status).toBe(202);
    const stored = await rowOf(job);
    // Another user of the same tenant polls: answered, but the stored token stays the first user's.
    expect((await poll(job, headersOf(OTHER_OID))).status).toBe(200);
    const after = await rowOf(job);
    expect(after?.UserAssertion).toBe(stored?.UserAssertion);
    expect(after?.UserAssertionExpiresUtc).toEqual(stored?.UserAssertionExpiresUtc);
    const done = await terminalRow(job);
    expect(done.Status).toBe('Failed');
    expect(JSON.parse(String(done.ErrorDetails))).toMatchObject({
      errorCode: 'UserTokenExpired',
      source: 'System',
      isPermanent: false,
    });
  });

  it('a stolen row is useless: ciphertext bound to its row, which another key does not open', async () => {
    const job = newJob(HOLD);
    const headers = headersOf();
    const subjectToken = headers.authorization.match(/subjectToken="([^"]+)"/)![1]!;
    expect((await createV1(job, { waitSeconds: 3 }, headers)).status).toBe(202);
    const sealed = String((await rowOf(job))?.UserAssertion);
    for (const part of subjectToken.split('.')) expect(sealed).not.toContain(part);
    expect(new AssertionKeys(TEST_ASSERTION_KEY).open(sealed, job)).toBe(subjectToken);
    expect(() => new AssertionKeys(randomBytes(32).toString('base64')).open(sealed, job)).toThrow(AssertionSealError);
    expect(() => new AssertionKeys(TEST_ASSERTION_KEY).open(sealed, { ...job, jobInstanceId: randomUUID() })).toThrow(
      AssertionSealError,
    );
    expect((await terminalRow(job)).Status).toBe('Completed');
  });

  it('keeps in-flight jobs working across a key rotation', async () => {
    // On data of their own: a host with the old key creates the jobs and runs none; one with the new key (the old as previous) runs them.
    const backends = await startBackends();
    const oldKey = randomBytes(32).toString('base64');
    const headers = () => headersFrom(backends, USER_OID);
    const jobs = [newJob(), newJob()];
    // The creating host runs no queue functions, so nothing made the queue yet.
    await new QueueClient(backends.settings.JobQueue, backends.settings.JOB_QUEUE_NAME).createIfNotExists();
    try {
      const creating = await startStack(
        { USER_ASSERTION_KEY: oldKey },
        { backends, queues: false, handlers: registry },
      );
      try {
        for (const job of jobs) {
          const answer = await creating.send(
            'POST',
            jobPath(job),
            { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
            headers(),
          );
          expect(answer.status, answer.text).toBe(202);
        }
      } finally {
        await creating.close();
      }
      const rotated = await startStack(
        { USER_ASSERTION_KEY: randomBytes(32).toString('base64'), USER_ASSERTION_KEY_PREVIOUS: oldKey },
        { backends, handlers: registry },
      );
      try {
        for (const job of jobs) expect((await terminalRow(job, backends.table)).Status).toBe('Completed');
      } finally {
        await rotated.close();
      }
    } finally {
      await backends.jwks.close();
      await backends.tokenEndpoint.close();
    }
  });
});

describe('what the runs left behind', () => {
  it('no terminal row holds a user token, and the running ones did', async () => {
    const rows: Record<string, unknown>[] = [];
    for await (const row of stack.table.listEntities<Record<string, unknown>>()) rows.push(row);
    const terminal = rows.filter((row) => isTerminal(row.Status as JobInstanceStatus));
    expect(terminal.length).toBeGreaterThan(5);
    for (const row of terminal) {
      expect(row.UserAssertion, String(row.rowKey)).toBeUndefined();
      expect(row.UserAssertionExpiresUtc, String(row.rowKey)).toBeUndefined();
    }
  });

  it('no log line, summary or answer carries a token, a sealed value, the key or the secret', () => {
    const everything = stack.logs.map(({ line }) => line).join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(everything).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
    expect(everything).not.toMatch(/a1\.[\w-]{8}\.[\w-]{16}\./);
    expect(everything).not.toContain(TEST_ASSERTION_KEY);
    expect(everything).not.toContain(TEST_CLIENT_SECRET);
  });
});
