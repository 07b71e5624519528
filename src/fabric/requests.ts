/**
 * The request bodies of Fabric's workload API contract, checked. Each parser
 * takes the JSON object the pipeline read and returns what the operation
 * needs, or throws InvalidRequestBodyError naming the first problem.
 */
import { MAX_STRING_PROPERTY_LENGTH } from '../jobs/jobRow';
import { isPlainObject } from './contract';
import { InvalidRequestBodyError } from './errors';

/** The contract's JobInvokeType is an enum meant to grow (Manual, Scheduled, UnknownFutureValue, …): any short word is kept as it came. */
const INVOKE_TYPE = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

export interface CreateItemJobInstanceRequest {
  invokeType: string;
  /** The creation payload as JSON text, `{}` when none was sent. */
  creationPayload: string;
}

/** CreateItemJobInstanceRequest: `invokeType` required, `creationPayload` an optional object; other properties are ignored. */
export function parseCreateItemJobInstanceRequest(body: unknown): CreateItemJobInstanceRequest {
  const request = body as Record<string, unknown>;
  const { invokeType } = request;
  if (invokeType === undefined) throw new InvalidRequestBodyError('invokeType is required');
  if (typeof invokeType !== 'string' || !INVOKE_TYPE.test(invokeType)) {
    throw new InvalidRequestBodyError('invokeType must be a word of 1 to 64 letters and digits, such as Manual or Scheduled');
  }
  return { invokeType, creationPayload: payloadText(request.creationPayload, 'creationPayload') };
}

/**
 * A payload property as the JSON text stored in one Table string property.
 * Absent and null both mean none, stored as `{}`.
 */
export function payloadText(value: unknown, name: string): string {
  if (value === undefined || value === null) return '{}';
  if (!isPlainObject(value)) throw new InvalidRequestBodyError(`${name} must be a JSON object`);
  const text = JSON.stringify(value);
  if (text.length > MAX_STRING_PROPERTY_LENGTH) {
    throw new InvalidRequestBodyError(`${name} is ${text.length} characters as JSON; at most ${MAX_STRING_PROPERTY_LENGTH} can be stored`);
  }
  return text;
}
