/**
 * The bundle as the Functions Node.js worker loads it: the worker provides
 * `@azure/functions-core` (registerFunction, registerHook, …), which outside
 * the worker is missing and puts @azure/functions in test mode. Here a
 * stand-in records what the bundle registers, so the app.hook.appTerminate
 * registration is seen, and calling it as the worker does at shutdown sends
 * the buffered summaries (the real exporter, to the loopback ingestion).
 */
import { freeLoopbackPort } from '../../dev/azurite';
import { startFakeIngestion, type FakeIngestion } from '../../dev/fakeIngestion';
import { BUNDLE_ENTRY } from '../../dev/bundle';
import { OPERATIONS, QUEUE_FUNCTIONS } from '../../src/functions/catalog';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../fixtures/nodeScript';
import { appSettings } from '../fixtures/stack';

let ingestion: FakeIngestion;
beforeAll(async () => {
  ingestion = await startFakeIngestion();
});
afterAll(async () => {
  await ingestion?.close();
});

/**
 * Loads the bundle under a stand-in core API, answers one request through its
 * exported route (a 401: no storage or keys needed), then runs the registered
 * appTerminate hook at once, well inside the exporter's 1 s batch interval.
 */
const WORKER = `
const Module = require('node:module');
const hooks = {};
const functions = [];
const core = {
  setProgrammingModel() {},
  registerFunction(metadata) { functions.push(metadata.name); return { dispose() {} }; },
  registerHook(name, callback) { (hooks[name] ??= []).push(callback); return { dispose() {} }; },
  log() {},
};
const load = Module._load;
Module._load = function (request, ...rest) { return request === '@azure/functions-core' ? core : load.call(this, request, ...rest); };
const app = require(${JSON.stringify(BUNDLE_ENTRY)});
const route = app.routes.find((r) => r.name === 'Jobs_GetItemJobInstanceState');
const request = new app.HttpRequest({ method: 'GET', url: 'http://localhost/api/x', headers: { requestid: 'worker-request' }, params: {
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334', itemType: 'Contoso.FinanceAnalytics.Forecast', itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  jobType: 'calculateForecast', jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072' } });
const context = new app.InvocationContext({ functionName: route.name, logHandler: () => {} });
route.handler(request, context)
  .then((response) => new Promise((resolve) => setImmediate(() => resolve(response))))
  .then(async (response) => {
    for (const hook of hooks.appTerminate ?? []) await hook({ hookData: {} });
    console.log(JSON.stringify({ status: response.status, functions, hooks: Object.keys(hooks) }));
    process.exit(0);
  });
`;

describe('the bundle in the Functions worker', () => {
  it('registers every function and an appTerminate hook that sends the buffered summaries', async () => {
    const dead = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const settings = appSettings(
      `${dead}/keys`,
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=${dead}/devstoreaccount1;`,
      'JobInstances',
    );
    const run = await runNodeScript(WORKER, { ...settings, ...ingestion.exporterEnv });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      status: number;
      functions: string[];
      hooks: string[];
    };
    expect(result.status).toBe(401);
    // Every operation of the catalog and every queue function, by name: the bundle registers what src/ declares.
    const declared = [
      ...OPERATIONS.map((declare) => declare({ config: { itemDefinitionMaxBytes: 4194304 } } as never).name),
      ...QUEUE_FUNCTIONS.map((declare) => declare({ config: { queueName: 'jobs' } } as never).name),
    ];
    expect([...result.functions].sort()).toEqual(declared.sort());
    expect(result.hooks).toEqual(['appTerminate']);
    const summaries = ingestion.envelopes().map((e) => e.data.baseData.properties ?? {});
    expect(summaries).toEqual([
      expect.objectContaining({ event: 'RequestSummary', requestId: 'worker-request', statusCode: '401' }),
    ]);
  });
});
