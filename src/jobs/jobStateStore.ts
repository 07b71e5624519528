import type { TableClient } from '@azure/data-tables';
import { StorageUnavailableError } from '../fabric/errors';
import { parseJobRow, type JobRecord } from './jobRow';

export interface JobStateStoreOptions {
  /** Deadline of one read including the SDK's retries. */
  readDeadlineMs?: number;
}

export const DEFAULT_READ_DEADLINE_MS = 10_000;

/** Reads job instance rows with one point read each; never a query. */
export class JobStateStore {
  private readonly readDeadlineMs: number;

  constructor(
    private readonly table: TableClient,
    options: JobStateStoreOptions = {},
  ) {
    this.readDeadlineMs = options.readDeadlineMs ?? DEFAULT_READ_DEADLINE_MS;
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The row, undefined when there is none; throws StorageUnavailableError or InvalidJobStateRecordError. */
  async read(itemId: string, jobInstanceId: string): Promise<JobRecord | undefined> {
    let entity: Record<string, unknown>;
    try {
      entity = await this.table.getEntity(itemId, jobInstanceId, { abortSignal: AbortSignal.timeout(this.readDeadlineMs) });
    } catch (error) {
      if (isEntityNotFound(error)) return undefined;
      throw new StorageUnavailableError(`point read of ${this.table.tableName}(${itemId}, ${jobInstanceId}) failed: ${describeStorageError(error)}`);
    }
    return parseJobRow(entity);
  }
}

interface RestErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

/** The storage service's error code (e.g. TableNotFound), else the transport's (e.g. ECONNREFUSED). */
function errorCodeOf(error: RestErrorLike | undefined): string | undefined {
  return error?.details?.errorCode ?? error?.code;
}

/** A 404 for the entity. A 404 for the table (TableNotFound) is a deployment fault, not a missing job. */
function isEntityNotFound(error: unknown): boolean {
  const e = error as RestErrorLike;
  return e?.statusCode === 404 && errorCodeOf(e) !== 'TableNotFound';
}

export function describeStorageError(error: unknown): string {
  const e = error as RestErrorLike;
  if (e?.name === 'AbortError') return 'timed out';
  const parts = [e?.name ?? 'Error'];
  if (e?.statusCode !== undefined) parts.push(`HTTP ${e.statusCode}`);
  const code = errorCodeOf(e);
  if (code) parts.push(code);
  // A service error's message is an XML or JSON document; a transport error's is one useful line.
  if (e?.statusCode === undefined && e?.message) parts.push(`(${e.message.split('\n', 1)[0].slice(0, 200)})`);
  return parts.join(' ');
}
