import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_JOB, devSettings, type DevSettings } from '../../dev/devSettings';
import { seedDemoJob } from '../../dev/start';
import { JobStateStore } from '../../src/jobs/jobStateStore';
import { JobStateWriter } from '../../src/jobs/jobStateWriter';
import { createTableClient } from '../../src/storage/tableClient';
import { azuriteConnectionString } from '../fixtures/tables';

const ROOT = join(__dirname, '..', '..');
const TABLE = `Demo${randomUUID().replace(/-/g, '').slice(0, 20)}`;
const table = createTableClient({ kind: 'connectionString', connectionString: azuriteConnectionString() }, TABLE);
const store = new JobStateStore(table);
afterAll(() => table.deleteTable());

/** npm start's settings for a run whose development user is in `tenant`, pointed at the test Azurite. */
function runWithUserTenant(tenant: string): DevSettings {
  return {
    ...devSettings({ DEV_USER_TENANT_ID: tenant, JOB_STATE_TABLE_NAME: TABLE }, ROOT),
    JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(),
  };
}

/** What the printed curl line asks: the demo job, as the run's development user. */
function askAsThisRun(settings: DevSettings) {
  const { workspaceId, itemType, jobType } = DEMO_JOB;
  return store.readFor(DEMO_JOB.itemId, DEMO_JOB.jobInstanceId, {
    tenantId: settings.DEV_USER_TENANT_ID,
    workspaceId,
    itemType,
    jobType,
  });
}

describe("npm start's demo job", () => {
  const first = runWithUserTenant('bbbbbbbb-0000-4000-8000-000000000003');
  const second = runWithUserTenant('cccccccc-0000-4000-8000-000000000004');

  it("is created on the first run, as Fabric's example", async () => {
    expect(await seedDemoJob(first)).toBe('created');
    const found = await askAsThisRun(first);
    expect(found).toMatchObject({
      found: 'record',
      record: { status: 'InProgress', startTimeUtc: DEMO_JOB.startTimeUtc },
    });
  });

  it('is kept as it is on the next run with the same settings, whatever was done to it', async () => {
    await new JobStateWriter(table).setStatus(DEMO_JOB.itemId, DEMO_JOB.jobInstanceId, 'Completed');
    expect(await seedDemoJob(first)).toBe('already there');
    expect(await askAsThisRun(first)).toMatchObject({ found: 'record', record: { status: 'Completed' } });
  });

  it('is replaced when DEV_USER_TENANT_ID changed, so the printed curl line finds it', async () => {
    expect(await askAsThisRun(second)).toEqual({ found: 'foreign', unreadableOwner: false });
    expect(await seedDemoJob(second)).toBe(
      'replaced (it belonged to tenant "bbbbbbbb-0000-4000-8000-000000000003"; DEV_USER_TENANT_ID is cccccccc-0000-4000-8000-000000000004)',
    );
    const found = await askAsThisRun(second);
    expect(found).toMatchObject({
      found: 'record',
      record: { tenantId: second.DEV_USER_TENANT_ID, status: 'InProgress', startTimeUtc: DEMO_JOB.startTimeUtc },
    });
    expect(found.found === 'record' && found.record.endTimeUtc).toBe(undefined);
    expect(await seedDemoJob(second)).toBe('already there');
  });
});
