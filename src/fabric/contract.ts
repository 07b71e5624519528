/**
 * The parts of Fabric's workload API contract (workload-api-v1.swagger.json)
 * that this endpoint speaks: ItemJobInstanceState, ErrorDetails, ErrorResponse.
 */

export const JOB_INSTANCE_STATUSES = ['NotStarted', 'InProgress', 'Completed', 'Failed', 'Cancelled'] as const;
export type JobInstanceStatus = (typeof JOB_INSTANCE_STATUSES)[number];

export const ERROR_SOURCES = ['System', 'User', 'External'] as const;
export type ErrorSource = (typeof ERROR_SOURCES)[number];

export interface NameValuePair {
  name: string;
  value: string;
}

export interface ErrorExtendedInformation {
  errorCode: string;
  message: string;
  messageParameters?: string[];
  additionalParameters?: NameValuePair[];
}

export interface ErrorDetails {
  errorCode: string;
  message: string;
  source: ErrorSource;
  messageParameters?: string[];
  isPermanent?: boolean;
  moreDetails?: ErrorExtendedInformation[];
}

/** The swagger defines ErrorResponse as exactly ErrorDetails. */
export type ErrorResponse = ErrorDetails;

export interface ItemJobInstanceState {
  status: JobInstanceStatus;
  startTimeUtc?: string;
  endTimeUtc?: string;
  errorDetails?: ErrorDetails;
}

export function isJobInstanceStatus(value: unknown): value is JobInstanceStatus {
  return typeof value === 'string' && (JOB_INSTANCE_STATUSES as readonly string[]).includes(value);
}

/**
 * Checks a value against the contract's ErrorDetails schema (allOf flattened,
 * no additional properties). Returns the problems found; empty means valid.
 */
export function errorDetailsProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (!isPlainObject(value)) return ['ErrorDetails is not an object'];
  checkKnownKeys(
    value,
    ['errorCode', 'message', 'messageParameters', 'source', 'isPermanent', 'moreDetails'],
    'ErrorDetails',
    problems,
  );
  checkBasicInformation(value, 'ErrorDetails', problems);
  if (!(ERROR_SOURCES as readonly unknown[]).includes(value.source)) {
    problems.push(`ErrorDetails.source must be one of ${ERROR_SOURCES.join(', ')}`);
  }
  if (value.isPermanent !== undefined && typeof value.isPermanent !== 'boolean') {
    problems.push('ErrorDetails.isPermanent must be a boolean');
  }
  if (value.moreDetails !== undefined) {
    if (!Array.isArray(value.moreDetails)) {
      problems.push('ErrorDetails.moreDetails must be an array');
    } else {
      value.moreDetails.forEach((item, i) =>
        checkExtendedInformation(item, `ErrorDetails.moreDetails[${i}]`, problems),
      );
    }
  }
  return problems;
}

export function isErrorDetails(value: unknown): value is ErrorDetails {
  return errorDetailsProblems(value).length === 0;
}

function checkExtendedInformation(value: unknown, path: string, problems: string[]): void {
  if (!isPlainObject(value)) {
    problems.push(`${path} is not an object`);
    return;
  }
  checkKnownKeys(value, ['errorCode', 'message', 'messageParameters', 'additionalParameters'], path, problems);
  checkBasicInformation(value, path, problems);
  if (value.additionalParameters === undefined) return;
  if (!Array.isArray(value.additionalParameters)) {
    problems.push(`${path}.additionalParameters must be an array`);
    return;
  }
  value.additionalParameters.forEach((pair, i) => {
    const pairPath = `${path}.additionalParameters[${i}]`;
    if (!isPlainObject(pair)) {
      problems.push(`${pairPath} is not an object`);
      return;
    }
    checkKnownKeys(pair, ['name', 'value'], pairPath, problems);
    if (typeof pair.name !== 'string') problems.push(`${pairPath}.name must be a string`);
    if (typeof pair.value !== 'string') problems.push(`${pairPath}.value must be a string`);
  });
}

function checkBasicInformation(value: Record<string, unknown>, path: string, problems: string[]): void {
  if (typeof value.errorCode !== 'string') problems.push(`${path}.errorCode must be a string`);
  if (typeof value.message !== 'string') problems.push(`${path}.message must be a string`);
  if (value.messageParameters !== undefined) {
    const parameters = value.messageParameters;
    if (!Array.isArray(parameters) || !parameters.every((p) => typeof p === 'string')) {
      problems.push(`${path}.messageParameters must be an array of strings`);
    }
  }
}

function checkKnownKeys(value: Record<string, unknown>, known: string[], path: string, problems: string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) problems.push(`${path} has an unknown property "${key}"`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
