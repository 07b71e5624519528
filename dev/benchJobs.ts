/**
 * The jobs part of `npm run bench`: Create's and Cancel's CPU against their
 * floors (dev/benchOperation.ts), in process and without the validated-token
 * cache (both RS256 checks every time, as the floor does them), and job latency through a host
 * process that runs the queue trigger: Create's 202 to InProgress and to
 * Completed for a 0 s job, at 1 and 16 jobs at a time.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { jobInstancePath } from '../src/http/jobPath';
import { encodeJobMessage } from '../src/execution/jobQueue';
import { ITEM_ROW_KEY, toItemEntity, type ItemRecord } from '../src/items/itemRow';
import { toJobEntity } from '../src/jobs/jobRow';
import { createTableClient } from '../src/storage/tableClient';
import { benchHandlers, UNSCOPED_JOB_TYPE } from './benchHandlers';
import { round } from './benchReport';
import { DEMO_JOB } from './devSettings';
import {
  invocation,
  measureOperation,
  verifier,
  type BenchOperation,
  type CpuPerCall,
  type OperationCost,
} from './benchOperation';
import { sourceFunctions } from './sourceFunctions';

export interface JobLatency {
  concurrency: number;
  jobs: number;
  /** Milliseconds from Create's 202 to StartTimeUtc and to EndTimeUtc. */
  toInProgress: { p50: number; p99: number };
  toCompleted: { p50: number; p99: number };
  jobsPerSecond: number;
}

export interface JobFigures {
  createUs: { invocation: number; floor: number };
  cancelUs: { invocation: number; floor: number };
  latency: JobLatency[];
}

export interface JobBenchFixture {
  settings: Record<string, string>;
  headers: Record<string, string>;
  subjectToken: string;
  appToken: string;
  publicKey: import('node:crypto').KeyObject;
  tenantId: string;
}

const CREATE_BODY = JSON.stringify({ invokeType: 'Manual', creationPayload: { durationSeconds: 0 } });

/**
 * Create and Cancel, each against the irreducible work it must do. The demo
 * item has its row (Fabric creates an item before its jobs), so Create's read
 * of it after the insert finds it, as the floor's does. Create is of the demo
 * job registered without scopes: the floor has no token exchange (what one
 * costs is acting for the user's part, dev/benchUser.ts).
 */
export async function operationCpu(
  fixture: JobBenchFixture,
  cpuPerCall: CpuPerCall,
): Promise<Pick<JobFigures, 'createUs' | 'cancelUs'>> {
  // A queue of their own: the thousands of messages these Creates leave must not reach the host's runner.
  // And tables of their own: Azurite's reads slow down as a table grows, and the warm runs read the demo table.
  const config = readConfig({
    ...fixture.settings,
    JOB_QUEUE_NAME: 'bench-operations',
    JOB_STATE_TABLE_NAME: 'BenchOperations',
    ITEMS_TABLE_NAME: 'BenchOperationsItems',
  });
  const table = createTableClient(config.table, config.tableName, {});
  const items = createTableClient(config.table, config.itemsTableName, {});
  await Promise.all([table.createTable(), items.createTable()]);
  await items.createEntity(toItemEntity(demoItemRecord(fixture.tenantId)));
  const queue = new QueueClient(fixture.settings.JobQueue, config.queueName);
  await queue.createIfNotExists();
  const functions = sourceFunctions(
    createDependencies(config, { env: {}, validatedTokenCacheSize: 0, handlers: benchHandlers }),
  );
  const verifyBoth = verifier(fixture, 2);

  const create: BenchOperation = {
    operation: 'Create',
    calls: { insert: 1, read: 1, enqueue: 1 },
    verifications: 2,
    floor: async () => {
      const job = {
        ...DEMO_JOB,
        jobType: UNSCOPED_JOB_TYPE,
        jobInstanceId: randomUUID(),
        tenantId: fixture.tenantId,
        status: 'NotStarted' as const,
        startTimeUtc: undefined,
      };
      await table.createEntity(toJobEntity(job));
      await items.getEntity(DEMO_JOB.itemId, ITEM_ROW_KEY);
      await queue.sendMessage(encodeJobMessage(job));
      verifyBoth();
    },
    invocation: invocation(
      functions,
      'POST',
      () => jobInstancePath({ ...DEMO_JOB, jobType: UNSCOPED_JOB_TYPE, jobInstanceId: randomUUID() }),
      fixture.headers,
      202,
      CREATE_BODY,
    ),
  };

  // Each call on a job that is still NotStarted.
  const pool: string[] = [];
  const cancel: BenchOperation = {
    operation: 'Cancel',
    calls: { read: 1, replace: 1 },
    verifications: 2,
    prepare: async (count) => void pool.push(...(await seedNotStarted(table, fixture.tenantId, count))),
    floor: async () => {
      const id = pool.pop()!;
      const entity = await table.getEntity(DEMO_JOB.itemId, id);
      await table.updateEntity(
        { ...entity, partitionKey: DEMO_JOB.itemId, rowKey: id, Status: 'Cancelled', EndTimeUtc: new Date() },
        'Replace',
        { etag: entity.etag },
      );
      verifyBoth();
    },
    invocation: invocation(
      functions,
      'POST',
      () => `${jobInstancePath({ ...DEMO_JOB, jobInstanceId: pool.pop()! })}/cancel`,
      fixture.headers,
      200,
    ),
  };
  const toUs = ({ invocationUs, floorUs }: OperationCost) => ({ invocation: invocationUs, floor: floorUs });
  return {
    createUs: toUs(await measureOperation(create, cpuPerCall)),
    cancelUs: toUs(await measureOperation(cancel, cpuPerCall)),
  };
}

/** The demo item's row, as v1's CreateItem leaves it. */
export function demoItemRecord(tenantId: string): ItemRecord {
  const { workspaceId, itemType, itemId } = DEMO_JOB;
  return { workspaceId, itemType, itemId, tenantId, displayName: 'Demo forecast', payload: '{}' };
}

/** NotStarted rows in the demo item's partition, written 100 to a transaction. */
export async function seedNotStarted(table: TableClient, tenantId: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 100) {
    const rows = ids
      .slice(i, i + 100)
      .map((jobInstanceId) =>
        toJobEntity({ ...DEMO_JOB, jobInstanceId, tenantId, status: 'NotStarted', startTimeUtc: undefined }),
      );
    await table.submitTransaction(rows.map((row) => ['create', row]));
  }
  return ids;
}

/** Create's 202 to InProgress and Completed through a host running the queue trigger, `jobs` of 0 s, `concurrency` at a time. */
export async function jobLatency(
  baseUrl: string,
  fixture: JobBenchFixture,
  concurrency: number,
  jobs: number,
): Promise<JobLatency> {
  const config = readConfig(fixture.settings);
  const table = createTableClient(config.table, config.tableName, {});
  const accepted = new Map<string, number>();
  const ids = Array.from({ length: jobs }, () => randomUUID());
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const response = await fetch(`${baseUrl}${jobInstancePath({ ...DEMO_JOB, jobInstanceId: id })}`, {
          method: 'POST',
          headers: { ...fixture.headers, 'content-type': 'application/json' },
          body: CREATE_BODY,
        });
        await response.arrayBuffer();
        accepted.set(id, Date.now());
        if (response.status !== 202) throw new Error(`Create answered ${response.status}`);
        for (let i = 0; i < 3000; i++) {
          const row = await table.getEntity(DEMO_JOB.itemId, id);
          if (row.Status === 'Completed') break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }),
  );
  const toInProgress: number[] = [];
  const toCompleted: number[] = [];
  let last = started;
  for (const id of ids) {
    const row = await table.getEntity<{ StartTimeUtc: Date; EndTimeUtc: Date; Status: string }>(DEMO_JOB.itemId, id);
    if (row.Status !== 'Completed') throw new Error(`job ${id} ended ${row.Status}`);
    toInProgress.push(Math.max(0, row.StartTimeUtc.getTime() - accepted.get(id)!));
    toCompleted.push(Math.max(0, row.EndTimeUtc.getTime() - accepted.get(id)!));
    last = Math.max(last, row.EndTimeUtc.getTime());
  }
  const pct = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))];
  return {
    concurrency,
    jobs,
    toInProgress: { p50: pct(toInProgress, 0.5), p99: pct(toInProgress, 0.99) },
    toCompleted: { p50: pct(toCompleted, 0.5), p99: pct(toCompleted, 0.99) },
    jobsPerSecond: round(jobs / ((last - started) / 1000), 1),
  };
}
