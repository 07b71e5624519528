import {
  errorDetailsProblems,
  isJobInstanceStatus,
  type ErrorDetails,
  type ItemJobInstanceState,
  type JobInstanceStatus,
} from '../fabric/contract';
import { InvalidJobStateRecordError } from '../fabric/errors';

/**
 * The JobInstances row schema (DESIGN.md). This module is the only place that
 * spells a column name: readers and writers go through it.
 */
export const COLUMNS = {
  partitionKey: 'partitionKey',
  rowKey: 'rowKey',
  tenantId: 'TenantId',
  workspaceId: 'WorkspaceId',
  itemType: 'ItemType',
  jobType: 'JobType',
  status: 'Status',
  startTimeUtc: 'StartTimeUtc',
  endTimeUtc: 'EndTimeUtc',
  errorDetails: 'ErrorDetails',
} as const;

export interface JobRecord {
  /** PartitionKey, lowercase GUID. */
  itemId: string;
  /** RowKey, lowercase GUID. */
  jobInstanceId: string;
  tenantId: string;
  workspaceId: string;
  itemType: string;
  jobType: string;
  status: JobInstanceStatus;
  startTimeUtc?: Date;
  endTimeUtc?: Date;
  errorDetails?: ErrorDetails;
}

/** What a request says the job is; a row answers only when all of it matches. */
export interface JobCoordinates {
  tenantId: string;
  workspaceId: string;
  itemType: string;
  jobType: string;
}

export type JobEntity = Record<string, unknown> & { partitionKey: string; rowKey: string };

/** Parses a stored row; throws InvalidJobStateRecordError naming every problem. */
export function parseJobRow(entity: Record<string, unknown>): JobRecord {
  const problems: string[] = [];
  const text = (column: string): string => {
    const value = entity[column];
    if (typeof value !== 'string' || value === '') problems.push(`${column} is missing or not a string`);
    return typeof value === 'string' ? value : '';
  };
  const time = (column: string): Date | undefined => {
    const value = entity[column];
    if (value === undefined || value === null) return undefined;
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) problems.push(`${column} is not a date-time`);
    return date;
  };

  const itemId = text(COLUMNS.partitionKey);
  const jobInstanceId = text(COLUMNS.rowKey);
  const tenantId = text(COLUMNS.tenantId);
  const workspaceId = text(COLUMNS.workspaceId);
  const itemType = text(COLUMNS.itemType);
  const jobType = text(COLUMNS.jobType);
  const status = entity[COLUMNS.status];
  if (!isJobInstanceStatus(status)) problems.push(`${COLUMNS.status} ${JSON.stringify(status)} is not a job instance status`);
  const startTimeUtc = time(COLUMNS.startTimeUtc);
  const endTimeUtc = time(COLUMNS.endTimeUtc);
  const errorDetails = parseErrorDetails(entity[COLUMNS.errorDetails], problems);

  if (problems.length > 0) {
    throw new InvalidJobStateRecordError(
      `row PartitionKey=${JSON.stringify(entity[COLUMNS.partitionKey])} RowKey=${JSON.stringify(entity[COLUMNS.rowKey])} is invalid: ${problems.join('; ')}`,
    );
  }
  const record: JobRecord = { itemId, jobInstanceId, tenantId, workspaceId, itemType, jobType, status: status as JobInstanceStatus };
  if (startTimeUtc) record.startTimeUtc = startTimeUtc;
  if (endTimeUtc) record.endTimeUtc = endTimeUtc;
  if (errorDetails) record.errorDetails = errorDetails;
  return record;
}

function parseErrorDetails(value: unknown, problems: string[]): ErrorDetails | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${COLUMNS.errorDetails} is not a string`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    problems.push(`${COLUMNS.errorDetails} is not JSON`);
    return undefined;
  }
  const detailProblems = errorDetailsProblems(parsed);
  if (detailProblems.length > 0) {
    problems.push(`${COLUMNS.errorDetails} is not a contract ErrorDetails (${detailProblems.join(', ')})`);
    return undefined;
  }
  return parsed as ErrorDetails;
}

/** The entity to store for a record (the writer's side of parseJobRow). */
export function toJobEntity(record: JobRecord): JobEntity {
  const entity: JobEntity = {
    partitionKey: record.itemId.toLowerCase(),
    rowKey: record.jobInstanceId.toLowerCase(),
    [COLUMNS.tenantId]: record.tenantId.toLowerCase(),
    [COLUMNS.workspaceId]: record.workspaceId.toLowerCase(),
    [COLUMNS.itemType]: record.itemType,
    [COLUMNS.jobType]: record.jobType,
    [COLUMNS.status]: record.status,
  };
  if (record.startTimeUtc) entity[COLUMNS.startTimeUtc] = record.startTimeUtc;
  if (record.endTimeUtc) entity[COLUMNS.endTimeUtc] = record.endTimeUtc;
  if (record.errorDetails) entity[COLUMNS.errorDetails] = JSON.stringify(record.errorDetails);
  return entity;
}

/** Tenant and workspace exactly (both lowercase GUIDs), item and job type case-insensitively. */
export function recordAnswers(record: JobRecord, request: JobCoordinates): boolean {
  return (
    record.tenantId.toLowerCase() === request.tenantId.toLowerCase() &&
    record.workspaceId.toLowerCase() === request.workspaceId.toLowerCase() &&
    sameIgnoringCase(record.itemType, request.itemType) &&
    sameIgnoringCase(record.jobType, request.jobType)
  );
}

/** Item and job types are ASCII (the path validation allows only [A-Za-z0-9._-]). */
function sameIgnoringCase(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function toItemJobInstanceState(record: JobRecord): ItemJobInstanceState {
  const state: ItemJobInstanceState = { status: record.status };
  if (record.startTimeUtc) state.startTimeUtc = record.startTimeUtc.toISOString();
  if (record.endTimeUtc) state.endTimeUtc = record.endTimeUtc.toISOString();
  if (record.errorDetails) state.errorDetails = record.errorDetails;
  return state;
}

/** A missing row, and a row that belongs to someone else, both answer this. */
export const JOB_NOT_FOUND_STATE: ItemJobInstanceState = Object.freeze({
  status: 'Failed',
  errorDetails: Object.freeze({
    errorCode: 'JobInstanceNotFound',
    message: 'The job instance was not found.',
    source: 'System',
    isPermanent: true,
  }),
}) as ItemJobInstanceState;
