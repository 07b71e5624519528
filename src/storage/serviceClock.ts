/**
 * The storage service's own clock. A job's runner and the process that reads
 * its row may run on machines whose clocks differ by seconds or minutes; the
 * service stamps every row it writes (Timestamp) and every answer it gives
 * (the Date header), so the age of a row measured between those two stamps
 * depends on no process's clock.
 */
import type { TableClient } from '@azure/data-tables';

/** One read as the service saw it: when it last wrote the row, and when it answered. */
export interface StorageClock {
  /** The row's Timestamp: set by the service on every write, never by a client. */
  writtenAt: Date;
  /** The response's Date header: the service's time, to the second (rounded down). */
  readAt: Date;
}

/** The clock of a read, or undefined when the entity or the response lacks a readable stamp. */
export function storageClockOf(timestamp: unknown, dateHeader: string | null | undefined): StorageClock | undefined {
  const writtenAt =
    typeof timestamp === 'string' ? new Date(timestamp) : timestamp instanceof Date ? timestamp : undefined;
  const readAt = dateHeader ? new Date(dateHeader) : undefined;
  if (!writtenAt || !readAt || Number.isNaN(writtenAt.getTime()) || Number.isNaN(readAt.getTime())) return undefined;
  return { writtenAt, readAt };
}

/** A point read that also returns the service's clock (from the entity's Timestamp and the response's Date). */
export async function getEntityWithClock(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  abortSignal?: AbortSignal,
): Promise<{ entity: Record<string, unknown> & { etag: string; timestamp?: string }; clock?: StorageClock }> {
  let dateHeader: string | undefined;
  const entity = await table.getEntity<Record<string, unknown>>(partitionKey, rowKey, {
    abortSignal,
    onResponse: (raw) => {
      dateHeader = raw.headers.get('date') ?? undefined;
    },
  });
  return { entity, clock: storageClockOf(entity.timestamp, dateHeader) };
}
