/**
 * The Application Insights endpoint failing under the export form, with the
 * real exporter in the compiled host process: answers to Fabric never wait
 * for telemetry, the failure is said in the Functions log, and a shutdown
 * does not hang on it. Times are printed as figures, never asserted.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeIngestion, type FakeIngestion } from '../../dev/fakeIngestion';
import { figure } from '../fixtures/faultRun';
import { startHostProcess, type HostProcess } from '../fixtures/hostProcess';
import { get } from '../fixtures/http';
import { jobPath, SEED, startBackends, USER_TENANT, type Backends } from '../fixtures/stack';
import { toJobEntity } from '../../src/jobs/jobRow';
import { SEED_RECORD } from '../fixtures/stack';
import { tokenFactory } from '../fixtures/tokens';
import { until } from '../fixtures/until';

let backends: Backends | undefined;
let ingestion: FakeIngestion | undefined;
let host: HostProcess | undefined;
afterEach(async () => {
  await host?.stop();
  await ingestion?.close();
  await backends?.jwks.close();
  await backends?.table.deleteTable();
  backends = ingestion = host = undefined;
});

describe('an Application Insights endpoint that takes requests and never answers', () => {
  it(
    'leaves every answer to Fabric unaffected, is said in the Functions log once its 30 s bound passes, and does not hold up a shutdown',
    { timeout: 90_000 },
    async () => {
      backends = await startBackends();
      await backends.table.createEntity(toJobEntity(SEED_RECORD));
      ingestion = await startFakeIngestion();
      ingestion.hang();
      host = await startHostProcess({ ...backends.settings, ...ingestion.exporterEnv, LOCAL_HOST_QUEUES: 'off' });
      const tokens = tokenFactory(backends.issuer);
      const headers = { authorization: tokens.header(), 'x-ms-client-tenant-id': USER_TENANT };

      const statuses: number[] = [];
      let slowest = 0;
      const started = Date.now();
      while (
        !host.output().includes('summary records not sent to Application Insights') &&
        Date.now() - started < 50_000
      ) {
        const before = Date.now();
        statuses.push((await get(`${host.baseUrl}${jobPath(SEED)}`, { ...headers, requestid: randomUUID() })).status);
        slowest = Math.max(slowest, Date.now() - before);
        await sleep(250);
      }
      figure(
        `ingestion hanging: ${statuses.length} requests in ${Date.now() - started} ms, slowest answer ${slowest} ms; ${ingestion.unanswered()} send(s) waiting`,
      );
      expect(statuses.length).toBeGreaterThan(10);
      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(host.output()).toMatch(/summary records not sent to Application Insights: .*(timed out|timeout|aborted)/i);
      expect(ingestion.envelopes()).toEqual([]);

      const stopping = Date.now();
      expect(await host.stop()).toBe(0); // hostProcess kills it (exit code null) if it has not stopped 5 s after SIGTERM
      figure(`stop with the endpoint hanging: ${Date.now() - stopping} ms`);
      await until(
        async () => ingestion!.unanswered(),
        (n) => n === 0,
        'the hung sends to end with the process',
      );
    },
  );
});
