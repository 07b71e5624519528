import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStateStore } from '../../src/jobs/jobStateStore';
import { azuriteConnectionString, createTestTable } from '../fixtures/tables';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'jobstate.js');

let table: TableClient;
let store: JobStateStore;
let cwd: string;
let settings: Record<string, string>;
beforeAll(async () => {
  table = await createTestTable();
  store = new JobStateStore(table);
  cwd = mkdtempSync(join(tmpdir(), 'jobstate-'));
  settings = { JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(), JOB_STATE_TABLE_NAME: table.tableName };
});
afterAll(async () => {
  await table?.deleteTable();
  rmSync(cwd, { recursive: true, force: true });
});

function jobstate(args: string[], env: Record<string, string> = settings, dir = cwd) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  const json = result.status === 0 && /^[[{]/.test(result.stdout) ? JSON.parse(result.stdout) : undefined;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, json };
}

function newJob() {
  const ids = { item: randomUUID(), instance: randomUUID() };
  const create = [
    'create',
    '--item',
    ids.item,
    '--instance',
    ids.instance,
    '--tenant',
    randomUUID(),
    '--workspace',
    randomUUID(),
    '--item-type',
    'Contoso.Forecast',
    '--job-type',
    'calculate',
  ];
  return { ...ids, create, id: ['--item', ids.item, '--instance', ids.instance] };
}

/** Exactly one line on stderr, a non-zero exit, nothing on stdout (docs/writer.md promises one line). */
function expectOneLineFailure(result: ReturnType<typeof jobstate>, code: number, message: RegExp) {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.slice(0, -1)).not.toContain('\n');
  expect(result.stderr).toMatch(message);
}

describe('jobstate, the happy path', () => {
  it('creates, shows, moves and lists a job', async () => {
    const job = newJob();
    const created = jobstate(job.create);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ itemId: job.item, jobInstanceId: job.instance, status: 'NotStarted' });

    expect(jobstate(['set', 'InProgress', ...job.id]).json.status).toBe('InProgress');
    const failed = jobstate([
      'set',
      'Failed',
      ...job.id,
      '--error-code',
      'Quota',
      '--error-message',
      'Out of quota',
      '--error-source',
      'User',
      '--permanent',
    ]);
    expect(failed.code).toBe(0);
    expect(failed.json.errorDetails).toEqual({
      errorCode: 'Quota',
      message: 'Out of quota',
      source: 'User',
      isPermanent: true,
    });

    const shown = jobstate(['show', ...job.id]);
    expect(shown.json).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'Quota' } });
    expect(shown.json.endTimeUtc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    expect((await store.read(job.item, job.instance))?.status).toBe('Failed');

    const listed = jobstate(['list', '--item', job.item]);
    expect(listed.json).toHaveLength(1);
    expect(listed.json[0]).toMatchObject({ jobInstanceId: job.instance, record: { status: 'Failed' } });
  });

  it('shows the invoke type, the heartbeat and the payload size of a job created by Fabric, never the payload', async () => {
    const id = { itemId: randomUUID(), jobInstanceId: randomUUID() };
    await table.createEntity({
      partitionKey: id.itemId,
      rowKey: id.jobInstanceId,
      TenantId: randomUUID(),
      WorkspaceId: randomUUID(),
      ItemType: 'T',
      JobType: 'J',
      Status: 'InProgress',
      InvokeType: 'Scheduled',
      CreationPayload: '{"secret":"customer data"}',
      HeartbeatUtc: new Date('2026-01-01T00:00:00Z'),
    });
    const shown = jobstate(['show', '--item', id.itemId, '--instance', id.jobInstanceId]);
    expect(shown.json).toMatchObject({
      invokeType: 'Scheduled',
      heartbeatUtc: '2026-01-01T00:00:00.000Z',
      creationPayloadCharacters: 26,
    });
    expect(shown.stdout).not.toContain('customer data');
  });

  it("shows when a running job's sealed user token expires, never the sealed value", async () => {
    const id = { itemId: randomUUID(), jobInstanceId: randomUUID() };
    const sealed = `a1.AbCdEfGh.${'n'.repeat(16)}.${'c'.repeat(400)}.${'t'.repeat(22)}`;
    await table.createEntity({
      partitionKey: id.itemId,
      rowKey: id.jobInstanceId,
      TenantId: randomUUID(),
      WorkspaceId: randomUUID(),
      ItemType: 'T',
      JobType: 'J',
      Status: 'InProgress',
      UserAssertion: sealed,
      UserAssertionExpiresUtc: new Date('2026-01-01T01:00:00Z'),
    });
    const shown = jobstate(['show', '--item', id.itemId, '--instance', id.jobInstanceId]);
    expect(shown.json).toMatchObject({ status: 'InProgress', userAssertionExpiresUtc: '2026-01-01T01:00:00.000Z' });
    expect(shown.json).not.toHaveProperty('userAssertion');
    expect(shown.stdout).not.toContain('c'.repeat(400));
  });

  it('reads its settings from ./local.settings.json when the environment has none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobstate-local-'));
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: settings }));
    const job = newJob();
    expect(jobstate(job.create, {}, dir).code).toBe(0);
    expect(jobstate(['show', ...job.id], {}, dir).json.status).toBe('NotStarted');
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['create', 'set', 'show', 'list'])('explains "%s --help"', (command) => {
    const result = jobstate([command, '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: jobstate ${command}`));
  });

  it('explains itself with --help', () => {
    const result = jobstate(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Commands:');
  });
});

describe('jobstate, bad input: a one-line error, a non-zero exit, nothing written', () => {
  it('rejects an item id that is not a GUID', async () => {
    const job = newJob();
    const bad = job.create.map((arg) => (arg === job.item ? 'item-42' : arg));
    expectOneLineFailure(jobstate(bad), 2, /itemId must be a GUID/);
    expectOneLineFailure(jobstate(['list', '--item', 'item-42']), 2, /--item must be a GUID/);
  });

  it('rejects an unknown status and leaves the row alone', async () => {
    const job = newJob();
    jobstate(job.create);
    expectOneLineFailure(jobstate(['set', 'Running', ...job.id]), 2, /unknown status "Running"/);
    expect((await store.read(job.item, job.instance))?.status).toBe('NotStarted');
  });

  it('refuses an illegal transition and leaves the row alone', async () => {
    const job = newJob();
    jobstate(job.create);
    expectOneLineFailure(jobstate(['set', 'Completed', ...job.id]), 1, /is NotStarted; it cannot become Completed/);
    expect((await store.read(job.item, job.instance))?.status).toBe('NotStarted');
  });

  it('refuses Failed without an error code and message', async () => {
    const job = newJob();
    jobstate(job.create);
    expectOneLineFailure(jobstate(['set', 'Failed', ...job.id]), 2, /Failed needs --error-code and --error-message$/m);
    expectOneLineFailure(jobstate(['set', 'Failed', ...job.id, '--error-code', 'X']), 2, /go together/);
    expectOneLineFailure(
      jobstate(['set', 'Completed', ...job.id, '--error-code', 'X', '--error-message', 'm']),
      2,
      /only Failed takes --error-code and --error-message, not "Completed"/,
    );
    expectOneLineFailure(
      jobstate(['set', ...job.id]),
      2,
      /the status \(InProgress, Completed, Failed or Cancelled\) is missing/,
    );
    expect((await store.read(job.item, job.instance))?.status).toBe('NotStarted');
  });

  it('refuses ErrorDetails too large to store before any storage call, and keeps a message of 4096 characters', async () => {
    const job = newJob();
    jobstate(job.create);
    const failed = (code: string, message: string, env?: Record<string, string>) =>
      jobstate(['set', 'Failed', ...job.id, '--error-code', code, '--error-message', message], env);
    expectOneLineFailure(
      failed('TooLong', 'm'.repeat(40_000)),
      2,
      /--error-message is 40000 characters long; at most 4096/,
    );
    expectOneLineFailure(
      failed('c'.repeat(40_000), 'm'),
      2,
      /ErrorDetails take \d+ characters as stored; .* at most 32768/,
    );
    // Refused before the settings are even read: no storage call at all.
    expectOneLineFailure(failed('TooLong', 'm'.repeat(40_000), {}), 2, /--error-message is 40000 characters long/);
    expect((await store.read(job.item, job.instance))?.status).toBe('NotStarted');
    expect(jobstate(['set', '--help']).stdout).toMatch(/--error-message: at most 4096 characters/);
    expect(failed('AtTheBound', 'm'.repeat(4096)).code).toBe(0);
    expect((await store.read(job.item, job.instance))?.errorDetails?.message).toHaveLength(4096);
  });

  it('refuses to create a job twice', () => {
    const job = newJob();
    expect(jobstate(job.create).code).toBe(0);
    expectOneLineFailure(jobstate(job.create), 1, /already exists/);
  });

  it('reports a job that does not exist', () => {
    const job = newJob();
    expectOneLineFailure(jobstate(['show', ...job.id]), 1, /does not exist/);
    expectOneLineFailure(jobstate(['set', 'InProgress', ...job.id]), 1, /does not exist/);
  });

  it('checks the input before it reads any setting', () => {
    expectOneLineFailure(
      jobstate(['set', 'Running', '--item', randomUUID(), '--instance', randomUUID()], {}),
      2,
      /unknown status "Running"/,
    );
    expectOneLineFailure(
      jobstate(['list', '--item', randomUUID(), '--limit', '500'], {}),
      2,
      /--limit must be 1 to 100/,
    );
  });

  it('names the missing setting and, in a folder without local.settings.json, says what to do', async () => {
    const job = newJob();
    expectOneLineFailure(
      jobstate(job.create, {}),
      2,
      /JOB_STATE_TABLE_ENDPOINT or JOB_STATE_TABLE_CONNECTION_STRING is required: set one in the environment, or copy local.settings.sample.json to .\/local.settings.json \(it points at the Azurite that npm start runs\)/,
    );
    expect(await store.read(job.item, job.instance)).toBeUndefined();
  });

  it('says where it looked when local.settings.json has no table either', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobstate-empty-'));
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { JOB_STATE_TABLE_NAME: 'JobInstances' } }),
    );
    expectOneLineFailure(
      jobstate(newJob().create, {}, dir),
      2,
      /is required: neither is in the environment or in .\/local.settings.json$/m,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects unknown options, missing options and unknown commands', () => {
    expectOneLineFailure(
      jobstate(['show', '--item', randomUUID(), '--bogus', 'x']),
      2,
      /^jobstate show: Unknown option '--bogus' \(jobstate show --help lists the options\)$/m,
    );
    expectOneLineFailure(jobstate(['show', '--item', randomUUID()]), 2, /--instance is required/);
    expectOneLineFailure(jobstate(['frobnicate']), 2, /unknown command "frobnicate"/);
  });
});

describe('npx jobstate', () => {
  it("runs the project's CLI by name", () => {
    const result = spawnSync('npx', ['--no-install', 'jobstate', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: jobstate <command>');
  });
});
