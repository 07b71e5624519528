import { odata } from '@azure/data-tables';
import {
  errorDetailsProblems,
  isJobInstanceStatus,
  type ErrorDetails,
  type ItemJobInstanceState,
  type JobInstanceStatus,
} from '../fabric/contract';
import { InvalidJobStateRecordError } from '../fabric/errors';
import { isGuid } from '../ids';
import { forLog } from '../logValue';
import { columnIs, isOwnedBy, OWNER_COLUMNS, type ItemOwner } from '../storage/owner';

export type { ItemOwner };

/**
 * The JobInstances row schema (README, "Job state rows"). This module is the only place that
 * spells a column name: readers and writers go through it.
 */
export const COLUMNS = {
  partitionKey: 'partitionKey',
  rowKey: 'rowKey',
  ...OWNER_COLUMNS,
  jobType: 'JobType',
  status: 'Status',
  startTimeUtc: 'StartTimeUtc',
  endTimeUtc: 'EndTimeUtc',
  errorDetails: 'ErrorDetails',
  invokeType: 'InvokeType',
  creationPayload: 'CreationPayload',
  userObjectId: 'UserObjectId',
  heartbeatUtc: 'HeartbeatUtc',
  contract: 'Contract',
  definition: 'Definition',
  heartbeatSeconds: 'HeartbeatSeconds',
  userAssertion: 'UserAssertion',
  userAssertionExpiresUtc: 'UserAssertionExpiresUtc',
} as const;

/** The OData filter of one item's partition: every job instance of the item (operations tools only). */
export function itemPartitionFilter(itemId: string): string {
  return odata`PartitionKey eq ${itemId.toLowerCase()}`;
}

/** Which job: the row's keys. All that a queue message carries. */
export interface JobKey {
  /** PartitionKey, lowercase GUID. */
  itemId: string;
  /** RowKey, lowercase GUID. */
  jobInstanceId: string;
}

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
  /** How Fabric started the job (`Manual`, `Scheduled`, …), as it came; absent for rows written by other runners. */
  invokeType?: string;
  /** The creation payload as JSON text. */
  creationPayload?: string;
  /** The object id of the user on whose behalf Fabric created the job (the subject token's oid). */
  userObjectId?: string;
  /** Written by the runner while the job runs; a row without it is never judged lost. */
  heartbeatUtc?: Date;
  /** `toolkit` for a job the Extensibility Toolkit's contract created (its creation payload is then its executionData); absent: v1. */
  contract?: JobContract;
  /** The item definition the toolkit's Create sent, as JSON text. */
  definition?: string;
  /** The runner's heartbeat interval, written at its claim: readers judge it lost by this, not by their own setting. */
  heartbeatSeconds?: number;
  /**
   * A job of a job type with scopes, while it is not terminal: its user's
   * token, sealed (src/auth/assertionKeys.ts), which the runner exchanges on
   * the user's behalf; refreshed by the user's own polls, removed by the
   * write that makes the job terminal.
   */
  userAssertion?: string;
  /** When that token expires. */
  userAssertionExpiresUtc?: Date;
}

/** Which of Fabric's contracts created a job. */
export type JobContract = 'v1' | 'toolkit';

/** What a request says the job is; a row answers only when all of it matches. */
export interface JobCoordinates {
  tenantId: string;
  workspaceId: string;
  itemType: string;
  jobType: string;
}

export type JobEntity = Record<string, unknown> & { partitionKey: string; rowKey: string };

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$/;

/** Parses a stored row; throws InvalidJobStateRecordError naming every problem. */
export function parseJobRow(entity: Record<string, unknown>): JobRecord {
  const problems: string[] = [];
  const text = (column: string): string => {
    const value = entity[column];
    if (typeof value !== 'string' || value === '') problems.push(`${column} is missing or not a string`);
    return typeof value === 'string' ? value : '';
  };
  const guid = (column: string): string => {
    const value = text(column);
    if (value !== '' && !isGuid(value)) problems.push(`${column} is not a GUID`);
    return value;
  };
  const time = (column: string): Date | undefined => {
    const value = entity[column];
    if (value === undefined || value === null) return undefined;
    // Edm.DateTime arrives as a Date; a string must say its offset, never be read as local time.
    const date =
      value instanceof Date
        ? value
        : typeof value === 'string' && ISO_DATE_TIME.test(value)
          ? new Date(value)
          : undefined;
    if (!date || Number.isNaN(date.getTime())) problems.push(`${column} is not a date-time`);
    return date;
  };

  const itemId = text(COLUMNS.partitionKey);
  const jobInstanceId = text(COLUMNS.rowKey);
  const tenantId = guid(COLUMNS.tenantId);
  const workspaceId = guid(COLUMNS.workspaceId);
  const itemType = text(COLUMNS.itemType);
  const jobType = text(COLUMNS.jobType);
  const status = entity[COLUMNS.status];
  if (!isJobInstanceStatus(status)) problems.push(`${COLUMNS.status} ${forLog(status)} is not a job instance status`);
  const startTimeUtc = time(COLUMNS.startTimeUtc);
  const endTimeUtc = time(COLUMNS.endTimeUtc);
  const errorDetails = parseErrorDetails(entity[COLUMNS.errorDetails], problems);
  const heartbeatUtc = time(COLUMNS.heartbeatUtc);
  const heartbeatSeconds = entity[COLUMNS.heartbeatSeconds] ?? undefined;
  if (heartbeatSeconds !== undefined && !isHeartbeatSeconds(heartbeatSeconds))
    problems.push(`${COLUMNS.heartbeatSeconds} is not a whole number from 1 to 300`);
  const optionalText = (column: string): string | undefined => {
    const value = entity[column];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') problems.push(`${column} is not a string`);
    return typeof value === 'string' ? value : undefined;
  };
  const invokeType = optionalText(COLUMNS.invokeType);
  const creationPayload = optionalText(COLUMNS.creationPayload);
  const userObjectId = optionalText(COLUMNS.userObjectId);
  const contract = optionalText(COLUMNS.contract);
  if (contract !== undefined && contract !== 'v1' && contract !== 'toolkit') {
    problems.push(`${COLUMNS.contract} ${forLog(contract)} is not v1 or toolkit`);
  }
  const definition = optionalText(COLUMNS.definition);
  const userAssertion = optionalText(COLUMNS.userAssertion);
  const userAssertionExpiresUtc = time(COLUMNS.userAssertionExpiresUtc);

  if (problems.length > 0) {
    throw new InvalidJobStateRecordError(
      `row PartitionKey=${forLog(entity[COLUMNS.partitionKey])} RowKey=${forLog(entity[COLUMNS.rowKey])} is invalid: ${problems.join('; ')}`,
    );
  }
  const record: JobRecord = {
    itemId,
    jobInstanceId,
    tenantId,
    workspaceId,
    itemType,
    jobType,
    status: status as JobInstanceStatus,
  };
  if (startTimeUtc) record.startTimeUtc = startTimeUtc;
  if (endTimeUtc) record.endTimeUtc = endTimeUtc;
  if (errorDetails) record.errorDetails = errorDetails;
  if (invokeType !== undefined) record.invokeType = invokeType;
  if (creationPayload !== undefined) record.creationPayload = creationPayload;
  if (userObjectId !== undefined) record.userObjectId = userObjectId;
  if (heartbeatUtc) record.heartbeatUtc = heartbeatUtc;
  if (contract === 'toolkit') record.contract = contract;
  if (definition !== undefined) record.definition = definition;
  if (isHeartbeatSeconds(heartbeatSeconds)) record.heartbeatSeconds = heartbeatSeconds;
  if (userAssertion !== undefined && userAssertionExpiresUtc) {
    record.userAssertion = userAssertion;
    record.userAssertionExpiresUtc = userAssertionExpiresUtc;
  }
  return record;
}

/** JOB_HEARTBEAT_SECONDS's range. */
function isHeartbeatSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 300;
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
  if (record.invokeType !== undefined) entity[COLUMNS.invokeType] = record.invokeType;
  if (record.creationPayload !== undefined) entity[COLUMNS.creationPayload] = record.creationPayload;
  if (record.userObjectId !== undefined) entity[COLUMNS.userObjectId] = record.userObjectId;
  if (record.heartbeatUtc) entity[COLUMNS.heartbeatUtc] = record.heartbeatUtc;
  if (record.contract === 'toolkit') entity[COLUMNS.contract] = record.contract;
  if (record.definition !== undefined) entity[COLUMNS.definition] = record.definition;
  if (record.heartbeatSeconds !== undefined) entity[COLUMNS.heartbeatSeconds] = record.heartbeatSeconds;
  if (record.userAssertion !== undefined && record.userAssertionExpiresUtc) {
    entity[COLUMNS.userAssertion] = record.userAssertion;
    entity[COLUMNS.userAssertionExpiresUtc] = record.userAssertionExpiresUtc;
  }
  return entity;
}

/**
 * Whether a stored row answers this request: tenant and workspace exactly,
 * item and job type case-insensitively (all ASCII). Checked on the raw row,
 * before anything else about it, so a row that is not the caller's is never
 * parsed, and even a corrupt one answers exactly like a missing row.
 */
export function rowAnswers(entity: Record<string, unknown>, request: JobCoordinates): boolean {
  return isOwnedBy(entity, request) && columnIs(entity, COLUMNS.jobType, request.jobType);
}

/** The columns DeleteItem reads of each job row of an item ($select spells the keys as the service does). */
export const ITEM_PURGE_COLUMNS = [
  'PartitionKey',
  'RowKey',
  COLUMNS.tenantId,
  COLUMNS.workspaceId,
  COLUMNS.itemType,
  COLUMNS.status,
] as const;

/** The status of a row read with ITEM_PURGE_COLUMNS; undefined when it is not a job status. */
export function rowStatusOf(entity: Record<string, unknown>): JobInstanceStatus | undefined {
  const status = entity[COLUMNS.status];
  return isJobInstanceStatus(status) ? status : undefined;
}

/** Whether the columns that say whose a row is can be read at all. */
export function hasReadableOwner(entity: Record<string, unknown>): boolean {
  const text = (column: string) => typeof entity[column] === 'string' && entity[column] !== '';
  return (
    isGuid(entity[COLUMNS.tenantId]) &&
    isGuid(entity[COLUMNS.workspaceId]) &&
    text(COLUMNS.itemType) &&
    text(COLUMNS.jobType)
  );
}

export function toItemJobInstanceState(record: JobRecord): ItemJobInstanceState {
  const state: ItemJobInstanceState = { status: record.status };
  if (record.startTimeUtc) state.startTimeUtc = record.startTimeUtc.toISOString();
  if (record.endTimeUtc) state.endTimeUtc = record.endTimeUtc.toISOString();
  if (record.errorDetails) state.errorDetails = record.errorDetails;
  return state;
}
