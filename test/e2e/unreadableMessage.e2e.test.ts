/**
 * A queue message that the storage service cannot return (raw text with an
 * ESC, which XML 1.0 cannot carry: Azurite answers every receive of a batch
 * holding it with HTTP 500, after hiding the whole batch) must not stall the
 * local host: the problem is logged, the message parked with a marker on the
 * poison queue, and the good jobs beside it run. Real Azurite, real queue.
 */
import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import type { TableClient } from '@azure/data-tables';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeJobMessage } from '../../src/execution/jobQueue';
import { toJobEntity } from '../../src/jobs/jobRow';
import { HandlerRegistry } from '../../src/handlers/registry';
import { SEED, startStack, testQueueName, USER_TENANT, type TestStack } from '../fixtures/stack';
import { azuriteConnectionString, createTestTable } from '../fixtures/tables';
import { until } from '../fixtures/until';

let stack: TestStack | undefined;
let table: TableClient | undefined;
afterAll(async () => {
  await stack?.close();
  await table?.deleteTable();
});

describe('a queue message the storage service cannot return', () => {
  it('is logged and parked with a marker on the poison queue, and the good jobs in its batch complete', async () => {
    // The jobs and their messages wait before the host starts, so that all of them share its first batch.
    table = await createTestTable();
    const queueName = testQueueName();
    const queue = new QueueClient(azuriteConnectionString(), queueName);
    await queue.create();
    const jobs = Array.from({ length: 3 }, () => ({ ...SEED, itemId: randomUUID(), jobInstanceId: randomUUID() }));
    for (const j of jobs) {
      await table.createEntity(
        toJobEntity({
          ...j,
          tenantId: USER_TENANT,
          status: 'NotStarted',
          invokeType: 'Manual',
          creationPayload: JSON.stringify({ durationSeconds: 0 }),
        }),
      );
    }
    await queue.sendMessage('bad\u001b[31mtext');
    for (const j of jobs) await queue.sendMessage(encodeJobMessage(j));

    stack = await startStack(
      { JOB_STATE_TABLE_NAME: table.tableName, JOB_QUEUE_NAME: queueName },
      {
        queueHostSettings: { leaseMs: 2000, maxPollingIntervalMs: 200 },
        // Rows written here carry no user token: a job type that needs none.
        handlers: new HandlerRegistry().job(SEED.itemType, SEED.jobType, async () => undefined),
      },
    );
    const statuses = () =>
      Promise.all(jobs.map(async (j) => (await table!.getEntity(j.itemId, j.jobInstanceId)).Status));
    expect(await until(statuses, (all) => all.every((s) => s === 'Completed'), 'the good jobs to complete')).toEqual(
      jobs.map(() => 'Completed'),
    );
    const logs = stack.logs;
    await until(
      async () => logs.some(({ line }) => line.startsWith('poison queue: a message that names no job was dropped')),
      Boolean,
      'the marker on the poison queue',
    );
    expect(logs.some(({ level, line }) => level === 'warning' && line.includes('failed with HTTP 500'))).toBe(true);
    const parked = logs.find(({ line }) => line.includes('cannot return (HTTP 500') && line.includes('is parked'));
    expect(parked?.level).toBe('error');
    expect(parked?.line).toContain(`"unreadable":true,"queue":"${queueName}"`);
  }, 60_000);
});
