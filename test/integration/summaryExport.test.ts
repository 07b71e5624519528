/**
 * The export pipeline (compiled, in a process of its own so that it trusts
 * the loopback ingestion's certificate through NODE_EXTRA_CA_CERTS, read only
 * at start) against the loopback ingestion endpoint: the Entra token of an
 * Application Insights resource that refuses keys, and flush. The host
 * process's export is in e2e/telemetry.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeIngestion, type FakeIngestion } from '../../dev/fakeIngestion';
import { PROJECT_ROOT } from '../../dev/projectRoot';
import { runNodeScript } from '../fixtures/nodeScript';

let ingestion: FakeIngestion;
beforeAll(async () => {
  ingestion = await startFakeIngestion();
});
afterAll(async () => {
  await ingestion?.close();
});

const PIPELINE = join(PROJECT_ROOT, 'dist', 'src', 'telemetry', 'exportPipeline.js');

/** Emits one record with a credential that hands out a fixed token, flushes, prints the scopes asked for and the failures. */
const PROBE = `
const { startSummaryExport } = require(${JSON.stringify(PIPELINE)});
const scopes = [], failures = [];
const credential = { getToken: async (scope) => { scopes.push(...[scope].flat()); return { token: 'entra-token-for-ingestion', expiresOnTimestamp: Date.now() + 3600000 }; } };
const pipeline = startSummaryExport({ connectionString: process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, credential, roleName: 'func-x', onFailure: (m) => failures.push(m) });
pipeline.emit({ body: 'Op 200', severity: 'info', attributes: { event: 'RequestSummary', operation: 'Op', statusCode: 200 }, time: new Date() });
pipeline.flush().then(() => { console.log(JSON.stringify({ scopes, failures })); process.exit(0); });
`;

describe('startSummaryExport', () => {
  it('sends with a bearer token from the credential, for the Monitor scope, on flush', async () => {
    const run = await runNodeScript(PROBE, ingestion.exporterEnv);
    expect(run.status, run.stderr).toBe(0);
    const { scopes, failures } = JSON.parse(run.stdout) as { scopes: string[]; failures: string[] };
    expect(failures).toEqual([]);
    expect(scopes).toEqual(['https://monitor.azure.com/.default']);
    expect(ingestion.authorizations()).toEqual(['Bearer entra-token-for-ingestion']);
    const [envelope] = ingestion.envelopes();
    expect(envelope.data.baseData).toMatchObject({
      message: 'Op 200',
      properties: { event: 'RequestSummary', operation: 'Op', statusCode: '200' },
    });
    expect(envelope.tags['ai.cloud.role']).toBe('func-x');
  });
});
