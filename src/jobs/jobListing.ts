import type { TableClient } from '@azure/data-tables';
import { isGuid } from '../ids';
import { describeError } from '../fabric/errors';
import { COLUMNS, itemPartitionFilter, parseJobRow, type JobRecord } from './jobRow';
import { InvalidJobInputError } from './writerErrors';

/** An operations view of one partition may read this many rows at most. */
export const MAX_ROWS_SCANNED = 1000;
export const MAX_LIST_LIMIT = 100;

export interface ListedJob {
  itemId: string;
  jobInstanceId: string;
  /** The row's last change (the service's Timestamp). */
  lastModified?: string;
  record?: JobRecord;
  /** Why the row could not be read as a job, for a corrupt row. */
  problem?: string;
}

/**
 * The job instances of one item, most recently changed first. One partition
 * query, never a table scan, reading at most MAX_ROWS_SCANNED rows.
 */
export async function listJobInstances(table: TableClient, itemId: string, limit = 20): Promise<ListedJob[]> {
  if (!isGuid(itemId)) throw new InvalidJobInputError('item must be a GUID');
  checkListLimit(limit);
  const rows: Record<string, unknown>[] = [];
  const pages = table
    .listEntities({ queryOptions: { filter: itemPartitionFilter(itemId) } })
    .byPage({ maxPageSize: 200 });
  for await (const page of pages) {
    rows.push(...page);
    if (rows.length >= MAX_ROWS_SCANNED) break;
  }
  return rows
    .slice(0, MAX_ROWS_SCANNED)
    .map(toListedJob)
    .sort((a, b) => (b.lastModified ?? '').localeCompare(a.lastModified ?? ''))
    .slice(0, limit);
}

/** Throws InvalidJobInputError unless `limit` is a whole number from 1 to MAX_LIST_LIMIT; `name` is how the caller spells it. */
export function checkListLimit(limit: number, name = 'limit'): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
    throw new InvalidJobInputError(`${name} must be 1 to ${MAX_LIST_LIMIT}`);
}

function toListedJob(entity: Record<string, unknown>): ListedJob {
  const listed: ListedJob = {
    itemId: String(entity[COLUMNS.partitionKey]),
    jobInstanceId: String(entity[COLUMNS.rowKey]),
    lastModified: typeof entity.timestamp === 'string' ? entity.timestamp : undefined,
  };
  try {
    listed.record = parseJobRow(entity);
  } catch (error) {
    listed.problem = describeError(error);
  }
  return listed;
}
