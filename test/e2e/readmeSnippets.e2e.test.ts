import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStateStore } from '../../src/jobs/jobStateStore';
import { JobStateWriter } from '../../src/jobs/jobStateWriter';
import { createConsumerProject, type ConsumerProject } from '../fixtures/consumerProject';
import { azuriteConnectionString, createTestTable } from '../fixtures/tables';

let project: ConsumerProject;
let table: TableClient;
let settings: Record<string, string>;
beforeAll(async () => {
  project = createConsumerProject();
  table = await createTestTable();
  settings = { JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(), JOB_STATE_TABLE_NAME: table.tableName };
}, 60_000);
afterAll(async () => {
  project?.remove();
  await table?.deleteTable();
});

function newJob() {
  return {
    itemId: randomUUID(),
    jobInstanceId: randomUUID(),
    tenantId: randomUUID(),
    workspaceId: randomUUID(),
    itemType: 'Contoso.FinanceAnalytics.Forecast',
    jobType: 'calculateForecast',
  };
}
const statusOf = async (job: { itemId: string; jobInstanceId: string }) =>
  (await new JobStateStore(table).read(job.itemId, job.jobInstanceId))?.status;

describe('the package as a job runner installs it (npm pack)', () => {
  it('exports the writer with its declarations, and ships no sources, tests, maps or dev tools', () => {
    expect(project.manifest.exports['./writer']).toEqual({
      types: './dist/src/writer.d.ts',
      default: './dist/src/writer.js',
    });
    for (const file of [
      'dist/src/writer.js',
      'dist/src/writer.d.ts',
      'dist/src/jobs/jobStateWriter.d.ts',
      'package.json',
    ])
      expect(project.packedFiles).toContain(file);
    for (const file of project.packedFiles)
      expect(file).not.toMatch(/^(src|test|dev|dist\/dev|infra|docs)\/|\.map$|(?<!\.d)\.ts$|local\.settings/);
  });

  it('has every exported entry point, with its declarations, in the tarball', () => {
    for (const [subpath, target] of Object.entries(project.manifest.exports)) {
      const paths = typeof target === 'string' ? [target] : Object.values(target as Record<string, string>);
      for (const path of paths) expect(project.packedFiles, subpath).toContain(path.replace(/^\.\//, ''));
    }
  });
});

/**
 * Every snippet the docs print (README.md and docs/*.md), by page. A block that
 * disappears, moves or loses its file= fails here; a new one is added here and
 * is compiled and checked at once.
 */
const PRINTED = [
  { page: 'docs/writer.md', file: 'runJob.ts' },
  { page: 'docs/writer.md', file: 'markCompleted.cjs' },
  { page: 'docs/writer.md', file: 'cancel.mjs' },
];

describe("the docs' code blocks, exactly as printed", () => {
  it('are all there: TypeScript, CommonJS and an ES module, each on its page', () => {
    expect(project.snippets.map(({ page, file }) => ({ page, file }))).toEqual(PRINTED);
  });

  it('use the package by its name', () => {
    for (const snippet of project.snippets) expect(snippet.code, snippet.file).toContain(`'${project.manifest.name}/`);
  });

  it('compile in strict TypeScript with node16+ resolution (exports) and with node10 resolution (typesVersions)', () => {
    const nodenext = project.compile({ module: 'nodenext', emit: true });
    expect(nodenext.output).toBe('');
    expect(nodenext.status).toBe(0);
    const node10 = project.compile({ module: 'commonjs', emit: false });
    expect(node10.output).toBe('');
    expect(node10.status).toBe(0);
  }, 90_000);

  it('are valid JavaScript where they are JavaScript', () => {
    for (const snippet of project.snippets.filter((s) => /\.(cjs|mjs|js)$/.test(s.file))) {
      const result = project.run('--check', [snippet.file], {});
      expect(result.stderr, snippet.file).toBe('');
      expect(result.status, snippet.file).toBe(0);
    }
  });

  it('runJob.ts records a job that works as Completed and one that throws as Failed', async () => {
    // A driver of the test's own: the function of docs/writer.md, compiled above, given two jobs.
    writeFileSync(
      join(project.dir, 'drive.cjs'),
      `const { runJob } = require('./out/runJob.js');
const [job, outcome] = [JSON.parse(process.argv[2]), process.argv[3]];
runJob(job, async () => { if (outcome === 'throws') throw new Error('no forecast today'); }).then(() => console.log('done'));`,
    );
    const works = newJob();
    const throws = newJob();
    expect(project.run('drive.cjs', [JSON.stringify(works), 'works'], settings).stdout).toBe('done\n');
    expect(project.run('drive.cjs', [JSON.stringify(throws), 'throws'], settings).stdout).toBe('done\n');
    expect(await statusOf(works)).toBe('Completed');
    const failed = await new JobStateStore(table).read(throws.itemId, throws.jobInstanceId);
    expect(failed).toMatchObject({
      status: 'Failed',
      errorDetails: { errorCode: 'ForecastFailed', message: 'no forecast today', source: 'System', isPermanent: false },
    });
  });

  it('markCompleted.cjs (CommonJS) completes a running job', async () => {
    const job = newJob();
    await new JobStateWriter(table).create({ ...job, status: 'InProgress' });
    const result = project.run('markCompleted.cjs', [job.itemId, job.jobInstanceId], settings);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${job.jobInstanceId}: Completed\n`);
    expect(await statusOf(job)).toBe('Completed');
  });

  it('cancel.mjs (ES module) cancels a running job and leaves an ended one alone', async () => {
    const running = newJob();
    const ended = newJob();
    const writer = new JobStateWriter(table);
    await writer.create({ ...running, status: 'InProgress' });
    await writer.create({ ...ended, status: 'InProgress' });
    await writer.setStatus(ended.itemId, ended.jobInstanceId, 'Completed');

    expect(project.run('cancel.mjs', [running.itemId, running.jobInstanceId], settings).stdout).toBe(
      `${running.jobInstanceId}: Cancelled\n`,
    );
    const refused = project.run('cancel.mjs', [ended.itemId, ended.jobInstanceId], settings);
    expect(refused.status).toBe(0);
    expect(refused.stdout).toMatch(/^not cancelled: job .* is Completed; it cannot become Cancelled/);
    expect(await statusOf(running)).toBe('Cancelled');
    expect(await statusOf(ended)).toBe('Completed');
  });

  it('the writer reads the environment, not local.settings.json (as docs/writer.md says)', () => {
    writeFileSync(join(project.dir, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: settings }));
    const result = project.run('markCompleted.cjs', [randomUUID(), randomUUID()], {});
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('JOB_STATE_TABLE_CONNECTION_STRING is required');
  });
});
