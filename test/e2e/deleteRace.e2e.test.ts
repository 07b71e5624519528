/**
 * The delete race (the hardening issue, item 1) over HTTP: job Creates for an
 * item sent on three connections while the item is being deleted. A delete
 * marks the item row first and a Create reads the mark after its insert
 * (src/items/itemDeletion.ts), so no job of a deleted item survives the
 * delete: v1 DeleteItem and the toolkit's Hard delete leave no job row, the
 * toolkit's Soft delete leaves no job running or queued. Also the delete's
 * smaller races: Cancel and a Create retry racing DeleteItem.
 *
 * The job runner is off (queues: false): a job left NotStarted is a job left
 * queued, which is what these tests look for.
 */
import { randomUUID } from 'node:crypto';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectTombstone,
  ITEM,
  itemPath,
  OWNER,
  partitionRows,
  seedJobRows,
  testHandlers,
  waitForAbort,
} from '../fixtures/items';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';
import { itemRow, lifecyclePath, toolkitJobPath } from '../fixtures/toolkit';

type DeleteKind = 'v1 DeleteItem' | 'toolkit Hard' | 'toolkit Soft';

/** Runs of each race in one test; each a fresh item. */
const RUNS = 3;
/** Creates one connection may send during one delete (a bound, never reached in practice). */
const MAX_CREATES_PER_CONNECTION = 300;
const SEEDED_JOBS = 60;

let stack: TestStack;
let queue: QueueClient;

beforeAll(async () => {
  stack = await startStack({}, { handlers: testHandlers(waitForAbort().handler), queues: false });
  // Without the queue host nothing creates the job queue: Creates still enqueue, so it must exist.
  queue = QueueServiceClient.fromConnectionString(stack.settings.JobQueue).getQueueClient(
    stack.settings.JOB_QUEUE_NAME,
  );
  await queue.createIfNotExists();
});
afterAll(async () => {
  await queue?.deleteIfExists().catch(() => undefined);
  await stack?.close();
});

const newItem = () => ({ ...ITEM, itemId: randomUUID() });
type Item = ReturnType<typeof newItem>;

/** An item with a row (created through the contract the delete belongs to) and 60 NotStarted job rows. */
async function itemWithJobs(kind: DeleteKind): Promise<{ item: Item; seeded: string[] }> {
  const item = newItem();
  const created =
    kind === 'v1 DeleteItem'
      ? await stack.send('POST', itemPath(item), { displayName: 'race' }, stack.headers())
      : await stack.send('POST', lifecyclePath(item, 'OnCreateItem'), {}, stack.headers());
  expect(created.status).toBe(200);
  const seeded = await seedJobRows(
    stack.table,
    { ...item, tenantId: OWNER.tenantId, jobType: SEED.jobType, status: 'NotStarted' },
    SEEDED_JOBS,
  );
  return { item, seeded };
}

function sendDelete(item: Item, kind: DeleteKind) {
  return kind === 'v1 DeleteItem'
    ? stack.send('DELETE', itemPath(item), undefined, stack.headers())
    : stack.send(
        'POST',
        lifecyclePath(item, 'OnDeleteItem'),
        { deleteType: kind === 'toolkit Hard' ? 'Hard' : 'Soft' },
        stack.headers(),
      );
}

/** A job Create of either contract (they alternate by connection). */
function sendCreate(item: Item, jobInstanceId: string, contract: 'v1' | 'toolkit') {
  return contract === 'v1'
    ? stack.send(
        'POST',
        jobPath({ ...item, jobType: SEED.jobType, jobInstanceId }),
        { invokeType: 'Manual', creationPayload: { durationSeconds: 0 } },
        stack.headers(),
      )
    : stack.send(
        'POST',
        toolkitJobPath(item, 'onCreateJobInstance'),
        { jobType: SEED.jobType, jobInstanceId, executionData: { durationSeconds: 0 } },
        stack.headers(),
      );
}

interface CreateOutcome {
  id: string;
  status: number;
  errorCode?: string;
  /** Whether the delete had answered when this Create's answer came. */
  afterDelete: boolean;
}

/** The delete, and three connections sending Creates with fresh ids until it answers. */
async function race(item: Item, kind: DeleteKind): Promise<CreateOutcome[]> {
  let deleteAnswered = false;
  const outcomes: CreateOutcome[] = [];
  const connection = async (contract: 'v1' | 'toolkit') => {
    for (let i = 0; i < MAX_CREATES_PER_CONNECTION && !deleteAnswered; i++) {
      const id = randomUUID();
      const answer = await sendCreate(item, id, contract);
      outcomes.push({ id, status: answer.status, errorCode: answer.json?.errorCode, afterDelete: deleteAnswered });
    }
  };
  const creators = [connection('v1'), connection('toolkit'), connection('v1')];
  const deleted = await sendDelete(item, kind);
  deleteAnswered = true;
  await Promise.all(creators);
  expect(deleted.status, deleted.text).toBe(200);
  return outcomes;
}

function expectOnlyAcceptedOrItemDeleted(outcomes: CreateOutcome[]) {
  for (const o of outcomes) {
    if (o.status === 409) expect(o.errorCode).toBe('ItemDeleted');
    else expect([201, 202], JSON.stringify(o)).toContain(o.status);
  }
}

describe('job Creates racing a delete', () => {
  it.each(['v1 DeleteItem', 'toolkit Hard'] as const)(
    '%s: no job row of the item is left (item with 60 jobs, 3 connections, %#)',
    async (kind) => {
      let refused = 0;
      for (let run = 0; run < RUNS; run++) {
        const { item } = await itemWithJobs(kind);
        const outcomes = await race(item, kind);
        expectOnlyAcceptedOrItemDeleted(outcomes);
        refused += outcomes.filter((o) => o.status === 409).length;
        const left = (await partitionRows(stack.table, item.itemId)).map((r) => r.rowKey as string);
        // The deletion mark outlives the delete (the item row stays as a tombstone): no job row is left at all,
        // not one of a Create answered before the delete, nor of one still in flight when it answered.
        expect(left, `job rows left by the ${kind}`).toEqual([]);
        expectTombstone(await itemRow(stack.itemsTable, item.itemId));
      }
      // The race was a race: Creates reached the item while it was marked.
      expect(refused).toBeGreaterThan(0);
    },
  );

  it('toolkit Soft: no job created during it is left running or queued; rows before it kept and cancelled; refused Creates left no row', async () => {
    let refused = 0;
    for (let run = 0; run < RUNS; run++) {
      const { item, seeded } = await itemWithJobs('toolkit Soft');
      const outcomes = await race(item, 'toolkit Soft');
      expectOnlyAcceptedOrItemDeleted(outcomes);
      refused += outcomes.filter((o) => o.status === 409).length;
      const rows = new Map((await partitionRows(stack.table, item.itemId)).map((r) => [r.rowKey as string, r.Status]));
      for (const id of seeded) expect(rows.get(id), `seeded job ${id}`).toBe('Cancelled');
      for (const o of outcomes) {
        if (o.status === 409) expect(rows.has(o.id), `refused job ${o.id} left a row`).toBe(false);
        else expect(rows.get(o.id), `job ${o.id} created during the delete`).toBe('Cancelled');
      }
      expect([...rows.values()].filter((status) => status !== 'Cancelled')).toEqual([]);
      expect((await itemRow(stack.itemsTable, item.itemId))?.Deletion).toBe('Soft');
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe("the delete's smaller races", () => {
  /** Three connections sending `call` for random seeded jobs until the delete answers; the answers. */
  async function during(
    item: Item,
    seeded: string[],
    call: (id: string, connection: number) => Promise<{ status: number; json: any; text: string }>,
  ) {
    let deleteAnswered = false;
    const answers: { status: number; json: any; text: string }[] = [];
    const connection = async (n: number) => {
      for (let i = 0; i < MAX_CREATES_PER_CONNECTION && !deleteAnswered; i++)
        answers.push(await call(seeded[Math.floor(Math.random() * seeded.length)], n));
    };
    const connections = [0, 1, 2].map(connection);
    const deleted = await sendDelete(item, 'v1 DeleteItem');
    deleteAnswered = true;
    await Promise.all(connections);
    expect(deleted.status, deleted.text).toBe(200);
    return answers;
  }

  it('Cancel racing DeleteItem answers the stored state or JobInstanceNotFound, never a 5xx', async () => {
    const seen = new Set<string>();
    for (let run = 0; run < RUNS; run++) {
      const { item, seeded } = await itemWithJobs('v1 DeleteItem');
      const answers = await during(item, seeded, (id, n) =>
        n === 1
          ? stack.send(
              'POST',
              toolkitJobPath(item, 'onCancelJobInstance'),
              { jobType: SEED.jobType, jobInstanceId: id },
              stack.headers(),
            )
          : stack.send(
              'POST',
              `${jobPath({ ...item, jobType: SEED.jobType, jobInstanceId: id })}/cancel`,
              undefined,
              stack.headers(),
            ),
      );
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(200);
        if (answer.json.status === 'Cancelled') seen.add('Cancelled');
        else {
          expect(answer.json).toMatchObject({ status: 'Failed', errorDetails: { errorCode: 'JobInstanceNotFound' } });
          seen.add('JobInstanceNotFound');
        }
      }
      expect(await partitionRows(stack.table, item.itemId)).toEqual([]);
    }
    expect(seen.has('Cancelled')).toBe(true);
  });

  it('a same-owner Create retry racing DeleteItem is never 409 JobInstanceConflict', async () => {
    const seen = new Set<number>();
    for (let run = 0; run < RUNS; run++) {
      const { item, seeded } = await itemWithJobs('v1 DeleteItem');
      const answers = await during(item, seeded, (id, n) => sendCreate(item, id, n === 1 ? 'toolkit' : 'v1'));
      for (const answer of answers) {
        seen.add(answer.status);
        if (answer.status === 409) expect(answer.json.errorCode, answer.text).toBe('ItemDeleted');
        else expect([201, 202], answer.text).toContain(answer.status);
      }
    }
    // Retries reached the jobs before the mark (accepted) and after it (refused).
    expect(seen.has(409)).toBe(true);
  });
});
