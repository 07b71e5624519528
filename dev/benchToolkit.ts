/**
 * The Extensibility Toolkit's part of `npm run bench`: each of its operations'
 * CPU per call against its own floor (dev/benchOperation.ts), in process,
 * without the validated-token cache, each call on fresh state (a new item or
 * job where the operation changes one) so every call does the same work.
 * Each operation has tables of its own: Azurite slows down as a table grows.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { encodeJobMessage } from '../src/execution/jobQueue';
import { itemPath } from '../src/http/itemPath';
import { ITEM_ROW_KEY, toItemEntity, type Deletion, type ItemRecord } from '../src/items/itemRow';
import { ITEM_PURGE_COLUMNS, itemPartitionFilter, toJobEntity } from '../src/jobs/jobRow';
import { createTableClient } from '../src/storage/tableClient';
import {
  invocation,
  measureOperation,
  verifier,
  type BenchOperation,
  type CpuPerCall,
  type OperationCost,
} from './benchOperation';
import { benchHandlers, UNSCOPED_JOB_TYPE } from './benchHandlers';
import { demoItemRecord, seedNotStarted, type JobBenchFixture } from './benchJobs';
import { DEMO_JOB } from './devSettings';
import type { FunctionsModule } from './localHost';
import { sourceFunctions } from './sourceFunctions';

/** A small definition: one InlineBase64 part, the forecast's settings. */
const DEFINITION = {
  parts: [
    {
      path: 'forecast.json',
      payload: Buffer.from(JSON.stringify({ horizonMonths: 24 })).toString('base64'),
      payloadType: 'InlineBase64',
    },
  ],
};
const DEFINITION_BODY = JSON.stringify({ definition: DEFINITION });
const DEFINITION_TEXT = JSON.stringify(DEFINITION);
/** The demo job registered without scopes (dev/benchHandlers.ts): its Create's floor has no token exchange. */
const JOB = { jobType: UNSCOPED_JOB_TYPE, executionData: { durationSeconds: 0 } };

/** Every toolkit operation against its floor, in the order of the contract. */
export async function toolkitOperationCpu(fixture: JobBenchFixture, cpuPerCall: CpuPerCall): Promise<OperationCost[]> {
  const builders = [onCreateItem, onUpdateItem, onDeleteItem('Soft'), onDeleteItem('Hard'), onRestoreItem];
  const jobBuilders = [onCreateJobInstance, onGetJobInstanceStatus, onCancelJobInstance, resolveEndpoint];
  const costs: OperationCost[] = [];
  for (const build of [...builders, ...jobBuilders]) {
    const operation = await build(await stage(fixture, build.name));
    costs.push(await measureOperation(operation, cpuPerCall));
  }
  return costs;
}

interface Stage {
  fixture: JobBenchFixture;
  functions: FunctionsModule;
  items: TableClient;
  jobs: TableClient;
  queue: QueueClient;
}

/** The app built from the sources on tables of the operation's own, the validated-token cache off. */
async function stage(fixture: JobBenchFixture, name: string): Promise<Stage> {
  const tables = name.replace(/[^A-Za-z]/g, '');
  const config = readConfig({
    ...fixture.settings,
    JOB_QUEUE_NAME: 'bench-operations', // the host's runner never sees these messages
    JOB_STATE_TABLE_NAME: `Bench${tables}Jobs`,
    ITEMS_TABLE_NAME: `Bench${tables}Items`,
  });
  const items = createTableClient(config.table, config.itemsTableName, {});
  const jobs = createTableClient(config.table, config.tableName, {});
  await Promise.all([items.createTable(), jobs.createTable()]);
  const queue = new QueueClient(fixture.settings.JobQueue, config.queueName);
  await queue.createIfNotExists();
  const functions = sourceFunctions(
    createDependencies(config, { env: {}, validatedTokenCacheSize: 0, handlers: benchHandlers }),
  );
  return { fixture, functions, items, jobs, queue };
}

/** The row a toolkit notification leaves: what is kept of the definition, and when. */
/** The floor of a notification that rewrites the item's row: one read, one ETag-conditional replace. */
async function replaceItemRow(stage: Stage, itemId: string): Promise<void> {
  const entity = await stage.items.getEntity(itemId, ITEM_ROW_KEY);
  await stage.items.updateEntity(toItemEntity(notifiedItem(itemId, stage.fixture.tenantId)), 'Replace', {
    etag: entity.etag,
  });
}

function notifiedItem(itemId: string, tenantId: string, deletion?: Deletion): ItemRecord {
  const record: ItemRecord = {
    itemId,
    tenantId,
    workspaceId: DEMO_JOB.workspaceId,
    itemType: DEMO_JOB.itemType,
    displayName: '',
    payload: '{}',
    lastNotifiedUtc: new Date(),
    definitionDigest: createHash('sha256').update(DEFINITION_TEXT).digest('base64'),
    definitionBytes: Buffer.byteLength(DEFINITION_TEXT),
  };
  return deletion ? { ...record, deletion, deletedUtc: new Date() } : record;
}

/** Item rows inserted ahead of the calls that use them up, one each. */
function itemPool(stage: Stage, deletion?: Deletion) {
  const ids: string[] = [];
  return {
    prepare: async (count: number) => {
      const fresh = Array.from({ length: count }, () => randomUUID());
      for (let i = 0; i < fresh.length; i += 16) {
        await Promise.all(
          fresh
            .slice(i, i + 16)
            .map((id) => stage.items.createEntity(toItemEntity(notifiedItem(id, stage.fixture.tenantId, deletion)))),
        );
      }
      ids.push(...fresh);
    },
    take: () => ids.pop()!,
  };
}

const itemUrl = (itemId: string, operation: string) => `${itemPath({ ...DEMO_JOB, itemId })}/${operation}`;

async function onCreateItem(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  return {
    operation: 'OnCreateItem',
    calls: { insert: 1 },
    verifications: 2,
    floor: async () => {
      await stage.items.createEntity(toItemEntity(notifiedItem(randomUUID(), stage.fixture.tenantId)));
      verify();
    },
    invocation: invocation(
      stage.functions,
      'POST',
      () => itemUrl(randomUUID(), 'OnCreateItem'),
      stage.fixture.headers,
      200,
      DEFINITION_BODY,
    ),
  };
}

/** The same item every call: a read and a replace of the same row do the same work each time. */
async function onUpdateItem(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  const itemId = randomUUID();
  await stage.items.createEntity(toItemEntity(notifiedItem(itemId, stage.fixture.tenantId)));
  return {
    operation: 'OnUpdateItem',
    calls: { read: 1, replace: 1 },
    verifications: 2,
    floor: async () => {
      await replaceItemRow(stage, itemId);
      verify();
    },
    invocation: invocation(
      stage.functions,
      'POST',
      () => itemUrl(itemId, 'OnUpdateItem'),
      stage.fixture.headers,
      200,
      DEFINITION_BODY,
    ),
  };
}

/** An active item with no jobs: read, mark, one query of its job partition; Hard replaces the row with its tombstone too. */
function onDeleteItem(deleteType: Deletion) {
  const build = async (stage: Stage): Promise<BenchOperation> => {
    const verify = verifier(stage.fixture, 2);
    const pool = itemPool(stage);
    return {
      operation: `OnDeleteItem ${deleteType}`,
      calls: { read: 1, merge: 1, query: 1, ...(deleteType === 'Hard' ? { replace: 1 } : {}) },
      verifications: 2,
      prepare: pool.prepare,
      floor: async () => {
        const itemId = pool.take();
        await stage.items.getEntity(itemId, ITEM_ROW_KEY);
        const mark = { partitionKey: itemId, rowKey: ITEM_ROW_KEY, Deletion: deleteType, DeletedUtc: new Date() };
        await stage.items.updateEntity(mark, 'Merge', { etag: '*' });
        const queryOptions = { filter: itemPartitionFilter(itemId), select: [...ITEM_PURGE_COLUMNS] };
        for await (const page of stage.jobs.listEntities({ queryOptions }).byPage({ maxPageSize: 1000 })) void page;
        if (deleteType === 'Hard') {
          const tombstone = { partitionKey: itemId, rowKey: ITEM_ROW_KEY, Deletion: 'Hard', DeletedUtc: new Date() };
          await stage.items.upsertEntity(tombstone, 'Replace');
        }
        verify();
      },
      invocation: invocation(
        stage.functions,
        'POST',
        () => itemUrl(pool.take(), 'OnDeleteItem'),
        stage.fixture.headers,
        200,
        JSON.stringify({ deleteType }),
      ),
    };
  };
  return Object.defineProperty(build, 'name', { value: `onDeleteItem${deleteType}` });
}

/** A soft-deleted item: ItemDeletion.restore reads the row once, then replaces it. */
async function onRestoreItem(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  const pool = itemPool(stage, 'Soft');
  return {
    operation: 'OnRestoreItem',
    calls: { read: 1, replace: 1 },
    verifications: 2,
    prepare: pool.prepare,
    floor: async () => {
      const itemId = pool.take();
      await replaceItemRow(stage, itemId);
      verify();
    },
    invocation: invocation(
      stage.functions,
      'POST',
      () => itemUrl(pool.take(), 'OnRestoreItem'),
      stage.fixture.headers,
      200,
      DEFINITION_BODY,
    ),
  };
}

/** A new job of the demo item (which has its row): insert, the item row read after it, one message. */
async function onCreateJobInstance(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  const { tenantId } = stage.fixture;
  await stage.items.createEntity(toItemEntity(demoItemRecord(tenantId)));
  return {
    operation: 'onCreateJobInstance',
    calls: { insert: 1, read: 1, enqueue: 1 },
    verifications: 2,
    floor: async () => {
      const job = {
        ...DEMO_JOB,
        jobType: JOB.jobType,
        jobInstanceId: randomUUID(),
        tenantId,
        status: 'NotStarted' as const,
        startTimeUtc: undefined,
        invokeType: 'Manual',
        creationPayload: JSON.stringify(JOB.executionData),
        contract: 'toolkit' as const,
      };
      await stage.jobs.createEntity(toJobEntity(job));
      await stage.items.getEntity(DEMO_JOB.itemId, ITEM_ROW_KEY);
      await stage.queue.sendMessage(encodeJobMessage(job));
      verify();
    },
    invocation: jobInvocation(stage, 'onCreateJobInstance', randomUUID, 201, JOB),
  };
}

/** A NotStarted job, the same every call: one read, nothing to record. */
async function onGetJobInstanceStatus(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  const [jobInstanceId] = await seedNotStarted(stage.jobs, stage.fixture.tenantId, 1);
  return {
    operation: 'onGetJobInstanceStatus',
    calls: { read: 1 },
    verifications: 2,
    floor: async () => {
      await stage.jobs.getEntity(DEMO_JOB.itemId, jobInstanceId);
      verify();
    },
    invocation: jobInvocation(stage, 'onGetJobInstanceStatus', () => jobInstanceId, 200),
  };
}

/** A NotStarted job each call: read, conditional replace to Cancelled. */
async function onCancelJobInstance(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 2);
  const pool: string[] = [];
  return {
    operation: 'onCancelJobInstance',
    calls: { read: 1, replace: 1 },
    verifications: 2,
    prepare: async (count) => void pool.push(...(await seedNotStarted(stage.jobs, stage.fixture.tenantId, count))),
    floor: async () => {
      const id = pool.pop()!;
      const entity = await stage.jobs.getEntity(DEMO_JOB.itemId, id);
      await stage.jobs.updateEntity(
        { ...entity, partitionKey: DEMO_JOB.itemId, rowKey: id, Status: 'Cancelled', EndTimeUtc: new Date() },
        'Replace',
        { etag: entity.etag },
      );
      verify();
    },
    invocation: jobInvocation(stage, 'onCancelJobInstance', () => pool.pop()!, 200),
  };
}

/** The toolkit's job operations name the job in the body, under the item's path. */
function jobInvocation(
  stage: Stage,
  operation: string,
  jobInstanceId: () => string,
  expected: number,
  extra: Record<string, unknown> = { jobType: DEMO_JOB.jobType },
): () => Promise<void> {
  return invocation(
    stage.functions,
    'POST',
    () => itemUrl(DEMO_JOB.itemId, `jobs/${operation}`),
    stage.fixture.headers,
    expected,
    () => JSON.stringify({ ...extra, jobInstanceId: jobInstanceId() }),
  );
}

/** The app token alone (no tenant, no user), no body: one verification, no storage. */
async function resolveEndpoint(stage: Stage): Promise<BenchOperation> {
  const verify = verifier(stage.fixture, 1);
  return {
    operation: '/resolve-endpoint',
    calls: {},
    verifications: 1,
    floor: async () => verify(),
    invocation: invocation(
      stage.functions,
      'POST',
      () => '/resolve-endpoint',
      { authorization: `SubjectAndAppToken1.0 appToken="${stage.fixture.appToken}"` },
      200,
    ),
  };
}
