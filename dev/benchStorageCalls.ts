/**
 * Counts the storage requests a piece of work makes, by kind, through every
 * TableClient and QueueClient of this process: how `npm run bench` checks that
 * each floor does exactly the storage calls of the operation it stands for.
 */
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';

export const STORAGE_CALLS = [
  'read',
  'insert',
  'replace',
  'merge',
  'delete',
  'query',
  'transaction',
  'enqueue',
] as const;
export type StorageCall = (typeof STORAGE_CALLS)[number];
export type StorageCalls = Partial<Record<StorageCall, number>>;

/** Each counted method, and the kind of request one call of it is (a query counts once per page requested). */
const COUNTED: [object, string, (args: unknown[]) => StorageCall][] = [
  [TableClient.prototype, 'getEntity', () => 'read'],
  [TableClient.prototype, 'createEntity', () => 'insert'],
  // The SDK's default mode is Merge.
  [TableClient.prototype, 'updateEntity', (args) => (args[1] === 'Replace' ? 'replace' : 'merge')],
  [TableClient.prototype, 'upsertEntity', () => 'replace'],
  [TableClient.prototype, 'deleteEntity', () => 'delete'],
  [TableClient.prototype, '_listEntities', () => 'query'],
  [TableClient.prototype, 'submitTransaction', () => 'transaction'],
  [QueueClient.prototype, 'sendMessage', () => 'enqueue'],
];

/** The storage requests `run` made, by kind; nothing else may run meanwhile. */
export async function countStorageCalls(run: () => Promise<void>): Promise<StorageCalls> {
  const counts: StorageCalls = {};
  const originals = COUNTED.map(([target, name, kind]) => {
    const methods = target as Record<string, (...args: unknown[]) => unknown>;
    const original = methods[name];
    methods[name] = function (this: unknown, ...args: unknown[]) {
      const call = kind(args);
      counts[call] = (counts[call] ?? 0) + 1;
      return original.apply(this, args);
    };
    return () => void (methods[name] = original);
  });
  try {
    await run();
  } finally {
    originals.forEach((restore) => restore());
  }
  return counts;
}

/** "1 read, 1 replace": the kinds in a fixed order, none when there are none. */
export function describeCalls(calls: StorageCalls): string {
  const parts = STORAGE_CALLS.filter((kind) => (calls[kind] ?? 0) > 0).map((kind) => `${calls[kind]} ${kind}`);
  return parts.length === 0 ? 'no storage call' : parts.join(', ');
}

/** Whether two counts are the same, absent and 0 alike. */
export function sameCalls(a: StorageCalls, b: StorageCalls): boolean {
  return STORAGE_CALLS.every((kind) => (a[kind] ?? 0) === (b[kind] ?? 0));
}
