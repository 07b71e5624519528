/**
 * The curl commands `npm start` and `npm run stack` print: the long headers
 * set once as shell variables, then one short line per call, for both of
 * Fabric's contracts, and one that lists the demo item's OneLake folder in
 * the stand-in, where the demo job writes its result. Every line works as
 * printed once the variables are set (a test runs them).
 */
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { forecastPath } from '../src/handlers/forecast';
import { itemPath } from '../src/http/itemPath';
import { jobInstancePath } from '../src/http/jobPath';
import { TOOLKIT_ROUTES } from '../src/http/toolkitRoutes';
import { DEMO_JOB } from './devSettings';

/** A new item of the demo's item type (v1's CreateItem). */
export const DEMO_ITEM_BODY = {
  displayName: 'Q3 forecast',
  description: 'Created by npm start',
  creationPayload: { horizonMonths: 6 },
};
/** What Fabric sends to resolve the backend of a tenant in West Europe. */
export const DEMO_RESOLVE_BODY = {
  context: [
    { name: 'EndpointName', value: 'Workload' },
    { name: 'TenantRegion', value: 'westeurope' },
  ],
};
/** A new job of the demo's item: 30 s of simulated work, long enough to watch it and to cancel it. */
export const DEMO_CREATE_BODY = { invokeType: 'Manual', creationPayload: { durationSeconds: 15 } };
/** The toolkit's item definition of a demo forecast: one InlineBase64 part. */
export const DEMO_DEFINITION = {
  parts: [
    {
      path: 'forecast.json',
      payload: Buffer.from(JSON.stringify({ horizonMonths: 6 })).toString('base64'),
      payloadType: 'InlineBase64',
    },
  ],
};

export interface DemoCurlInput {
  /** e.g. http://127.0.0.1:7071/api */
  baseUrl: string;
  /** Fabric's SubjectAndApp header for the development user. */
  authorization: string;
  /** The same with the app token alone (endpoint resolution, a delete without a user). */
  appOnlyAuthorization: string;
  tenantId: string;
  /** OneLake's stand-in, for the listing line. */
  oneLake: {
    /** https://127.0.0.1:{port}/onelake */
    endpoint: string;
    /** The development certificate it serves (curl's --cacert). */
    certFile: string;
    /** A storage-audience bearer token of the development user (devStorageToken). */
    token: string;
  };
}

/** One step of the printed walk-through: what it does, and its line. */
export interface DemoStep {
  say: string;
  curl: string;
}

export interface DemoCurls {
  /** `NAME='value'` lines to paste into a shell first. */
  variables: string[];
  v1: DemoStep[];
  toolkit: DemoStep[];
  /** The demo item's OneLake folder, where the new v1 job writes its forecast. */
  oneLake: DemoStep[];
}

interface CurlRequest {
  method?: string;
  body?: unknown;
  /** `$APP_AUTH` instead of `$AUTH`; with `tenant: false` no tenant header either. */
  appOnly?: boolean;
  tenant?: boolean;
  /** Answers with no body: `-i` shows the status. */
  statusOnly?: boolean;
}

/** A curl line over the variables; our JSON bodies have no single quotes. */
function curl(url: string, request: CurlRequest = {}): string {
  const parts = ['curl -sS'];
  if (request.statusOnly) parts.push('-i');
  if (request.method && request.method !== 'GET') parts.push(`-X ${request.method}`);
  parts.push(`"${url}"`, `-H "Authorization: $${request.appOnly ? 'APP_AUTH' : 'AUTH'}"`);
  if (request.tenant !== false) parts.push('-H "x-ms-client-tenant-id: $TENANT"');
  if (request.body !== undefined)
    parts.push(`-H 'Content-Type: application/json' -d '${JSON.stringify(request.body)}'`);
  return parts.join(' ');
}

/** A shell assignment of a value without single quotes (tokens, GUIDs, URLs). */
function variable(name: string, value: string): string {
  return `${name}=${quoted(name, value)}`;
}

function quoted(name: string, value: string): string {
  if (value.includes("'")) throw new Error(`${name} has a single quote`);
  return `'${value}'`;
}

/** OneLake's Blob API: List Blobs of the workspace's container (`$LAKE`) under a prefix, as the development user. */
function oneLakeListing(certFile: string, prefix: string): string {
  return [
    `curl -sS --cacert ${quoted('the certificate file', certFile)}`,
    `"$LAKE?restype=container&comp=list&prefix=${prefix}"`,
    '-H "Authorization: Bearer $ONELAKE_AUTH" -H "x-ms-version: 2023-11-03"',
  ].join(' ');
}

/** The walk-through of both contracts, with fresh ids for the new item and jobs of this run. */
export function demoCurls(input: DemoCurlInput): DemoCurls {
  const { workspaceId, itemType, jobType } = DEMO_JOB;
  const newJob = randomUUID();
  const v1Item = { workspaceId, itemType, itemId: randomUUID() };
  const toolkitItem = { workspaceId, itemType, itemId: randomUUID() };
  const toolkitJob = randomUUID();
  const jobs = jobInstancePath({ ...DEMO_JOB, jobInstanceId: '' }).replace(/\/$/, '');
  const route = (name: keyof typeof TOOLKIT_ROUTES) =>
    TOOLKIT_ROUTES[name].route.replace(/^.*\{itemId\}/, '').replace(/^\/?/, '/');
  const variables = [
    variable('BASE', input.baseUrl),
    variable('AUTH', input.authorization),
    variable('APP_AUTH', input.appOnlyAuthorization),
    variable('TENANT', input.tenantId),
    variable('JOBS', `${input.baseUrl}${jobs}`),
    variable('ITEM', `${input.baseUrl}${itemPath(v1Item)}`),
    variable('TK_ITEM', `${input.baseUrl}${itemPath(toolkitItem)}`),
    // OneLake: the workspace is the container, the item the first segment of a path.
    variable('LAKE', `${input.oneLake.endpoint}/${workspaceId}`),
    variable('ONELAKE_AUTH', input.oneLake.token),
  ];
  // The v1 job lines are of the demo item (b14cb7e7-…, in the demo workspace, whose container npm start creates).
  const forecasts = `${posix.dirname(forecastPath(newJob))}/`;
  const toolkitJobBody = { jobType, jobInstanceId: toolkitJob };
  return {
    variables,
    v1: [
      { say: "The demo job (Fabric's example):", curl: curl(`$JOBS/${DEMO_JOB.jobInstanceId}`) },
      { say: 'A job that does not exist:', curl: curl(`$JOBS/${MISSING_JOB_INSTANCE_ID}`) },
      {
        say: 'Create a new job (202; it runs about 30 s: NotStarted, InProgress, Completed):',
        curl: curl(`$JOBS/${newJob}`, { method: 'POST', body: DEMO_CREATE_BODY, statusOnly: true }),
      },
      { say: 'Its state:', curl: curl(`$JOBS/${newJob}`) },
      { say: 'Cancel it (200 with its state):', curl: curl(`$JOBS/${newJob}/cancel`, { method: 'POST' }) },
      { say: 'Create an item (200):', curl: curl('$ITEM', { method: 'POST', body: DEMO_ITEM_BODY, statusOnly: true }) },
      {
        say: 'Update it; what the PATCH leaves out keeps its value (200):',
        curl: curl('$ITEM', { method: 'PATCH', body: { displayName: 'Q4 forecast' }, statusOnly: true }),
      },
      { say: "The payload Fabric's item editor gets:", curl: curl('$ITEM/payload') },
      { say: 'Delete it with its jobs (200):', curl: curl('$ITEM', { method: 'DELETE', statusOnly: true }) },
      {
        say: "Resolve the backend URL (Fabric's app token alone, no tenant header):",
        curl: curl('$BASE/resolve-api-path-placeholder', {
          method: 'POST',
          body: DEMO_RESOLVE_BODY,
          appOnly: true,
          tenant: false,
        }),
      },
    ],
    toolkit: [
      {
        say: 'OnCreateItem, with an item definition (200 {}):',
        curl: curl(`$TK_ITEM${route('onCreateItem')}`, { method: 'POST', body: { definition: DEMO_DEFINITION } }),
      },
      {
        say: 'OnUpdateItem (200 {}):',
        curl: curl(`$TK_ITEM${route('onUpdateItem')}`, { method: 'POST', body: { definition: DEMO_DEFINITION } }),
      },
      {
        say: 'Start a job of it (201 with its state; it runs about 30 s) [provisional route]:',
        curl: curl(`$TK_ITEM${route('onCreateJobInstance')}`, {
          method: 'POST',
          body: { ...toolkitJobBody, executionData: { durationSeconds: 15 } },
        }),
      },
      {
        say: 'Its state [provisional route]:',
        curl: curl(`$TK_ITEM${route('onGetJobInstanceStatus')}`, { method: 'POST', body: toolkitJobBody }),
      },
      {
        say: 'Cancel it (200 with its state after the cancel) [provisional route]:',
        curl: curl(`$TK_ITEM${route('onCancelJobInstance')}`, { method: 'POST', body: toolkitJobBody }),
      },
      {
        say: 'Soft-delete the item (200 {}; its jobs are cancelled, their rows kept, new jobs refused):',
        curl: curl(`$TK_ITEM${route('onDeleteItem')}`, { method: 'POST', body: { deleteType: 'Soft' } }),
      },
      {
        say: 'Restore it (200 {}):',
        curl: curl(`$TK_ITEM${route('onRestoreItem')}`, { method: 'POST', body: { definition: DEMO_DEFINITION } }),
      },
      {
        say: 'Hard-delete it as Fabric may, with no user: the app token and the tenant header alone (200 {}):',
        curl: curl(`$TK_ITEM${route('onDeleteItem')}`, { method: 'POST', body: { deleteType: 'Hard' }, appOnly: true }),
      },
      {
        say: 'Resolve the backend URL (app token alone) [provisional route]:',
        curl: curl(`$BASE/${TOOLKIT_ROUTES.resolveEndpoint.route}`, {
          method: 'POST',
          body: DEMO_RESOLVE_BODY,
          appOnly: true,
          tenant: false,
        }),
      },
    ],
    oneLake: [
      {
        say: `The demo item's ${forecasts} (XML, a <Name> per file): the new job's ${newJob}.json appears when it completes, unless cancelled:`,
        curl: oneLakeListing(input.oneLake.certFile, `${DEMO_JOB.itemId}/${forecasts}`),
      },
    ],
  };
}

/** A job instance id that no demo ever creates. */
export const MISSING_JOB_INSTANCE_ID = '00000000-0000-4000-8000-000000000000';

/** The printed walk-through, line by line. */
export function demoCurlText(curls: DemoCurls): string[] {
  const steps = (steps: DemoStep[]) => steps.flatMap((step) => [step.say, step.curl]);
  return [
    'Set these once in your shell (tokens last an hour; `npm run token` prints fresh ones):',
    ...curls.variables,
    '',
    "Fabric's workload API v1 (contract/workload-api-v1.swagger.json):",
    ...steps(curls.v1),
    '',
    "The Extensibility Toolkit's contract (contract/extensibility-toolkit.swagger.json):",
    ...steps(curls.toolkit),
    '',
    "OneLake's stand-in (the demo job writes its result to its item's folder, as the user):",
    ...steps(curls.oneLake),
  ];
}
