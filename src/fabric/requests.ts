/**
 * The request bodies of Fabric's workload API contract, checked. Each parser
 * takes the JSON object the pipeline read and returns what the operation
 * needs, or throws InvalidRequestBodyError naming the first problem.
 */
import { codePointLength, MAX_STRING_PROPERTY_LENGTH } from '../text';
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
    throw new InvalidRequestBodyError(
      'invokeType must be a word of 1 to 64 letters and digits, such as Manual or Scheduled',
    );
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
    throw new InvalidRequestBodyError(
      `${name} is ${text.length} characters as JSON; at most ${MAX_STRING_PROPERTY_LENGTH} can be stored`,
    );
  }
  return text;
}

/** The contract's limit on an item's display name. */
export const MAX_DISPLAY_NAME_LENGTH = 256;

export interface CreateItemRequest {
  displayName: string;
  description?: string;
  /** The creation payload as JSON text, `{}` when none was sent. */
  creationPayload: string;
}

/** What an UpdateItem changes; an absent property keeps the item's current value. */
export interface UpdateItemRequest {
  displayName?: string;
  description?: string;
  /** The update payload as JSON text; absent: the stored payload stays. */
  updatePayload?: string;
}

/** CreateItemRequest: `displayName` required (at most 256 characters), `description` a string, `creationPayload` an object. */
export function parseCreateItemRequest(body: unknown): CreateItemRequest {
  const request = body as Record<string, unknown>;
  const displayName = displayNameOf(request.displayName);
  if (displayName === undefined) throw new InvalidRequestBodyError('displayName is required');
  const parsed: CreateItemRequest = {
    displayName,
    creationPayload: payloadText(request.creationPayload, 'creationPayload'),
  };
  const description = descriptionOf(request.description);
  if (description !== undefined) parsed.description = description;
  return parsed;
}

/** UpdateItemRequest, with PATCH semantics: absent and null both mean "keep the current value". */
export function parseUpdateItemRequest(body: unknown): UpdateItemRequest {
  const request = body as Record<string, unknown>;
  const parsed: UpdateItemRequest = {};
  const displayName = displayNameOf(request.displayName);
  if (displayName !== undefined) parsed.displayName = displayName;
  const description = descriptionOf(request.description);
  if (description !== undefined) parsed.description = description;
  if (request.updatePayload !== undefined && request.updatePayload !== null)
    parsed.updatePayload = payloadText(request.updatePayload, 'updatePayload');
  return parsed;
}

function displayNameOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidRequestBodyError('displayName must be a string');
  // The contract's maxLength counts characters (code points): an emoji is one, not two UTF-16 units.
  if (codePointLength(value) > MAX_DISPLAY_NAME_LENGTH)
    throw new InvalidRequestBodyError(`displayName is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
  return value;
}

function descriptionOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidRequestBodyError('description must be a string');
  if (value.length > MAX_STRING_PROPERTY_LENGTH)
    throw new InvalidRequestBodyError(`description is longer than ${MAX_STRING_PROPERTY_LENGTH} characters`);
  return value;
}

/** The contract's EndpointResolutionContextPropertyName. */
export const ENDPOINT_RESOLUTION_CONTEXT_NAMES = [
  'EndpointName',
  'TenantRegion',
  'WorkspaceRegion',
  'TenantId',
] as const;
export type EndpointResolutionContextName = (typeof ENDPOINT_RESOLUTION_CONTEXT_NAMES)[number];
/** Fabric sends one property per name it knows; more than this is not a context. */
const MAX_CONTEXT_PROPERTIES = 16;
const MAX_CONTEXT_VALUE_LENGTH = 256;

export type EndpointResolutionContext = Partial<Record<EndpointResolutionContextName, string>>;

/** EndpointResolutionRequest: `context`, an array of { name, value } with the contract's names, each name at most once. */
export function parseEndpointResolutionRequest(body: unknown): EndpointResolutionContext {
  const { context } = body as Record<string, unknown>;
  if (context === undefined || context === null) throw new InvalidRequestBodyError('context is required');
  if (!Array.isArray(context))
    throw new InvalidRequestBodyError('context must be an array of { "name", "value" } objects');
  if (context.length > MAX_CONTEXT_PROPERTIES)
    throw new InvalidRequestBodyError(`context has more than ${MAX_CONTEXT_PROPERTIES} properties`);
  const parsed: EndpointResolutionContext = {};
  context.forEach((property: unknown, i) => {
    if (!isPlainObject(property))
      throw new InvalidRequestBodyError(`context[${i}] must be an object with name and value`);
    const { name, value } = property;
    if (typeof name !== 'string' || !(ENDPOINT_RESOLUTION_CONTEXT_NAMES as readonly string[]).includes(name)) {
      throw new InvalidRequestBodyError(
        `context[${i}].name must be one of ${ENDPOINT_RESOLUTION_CONTEXT_NAMES.join(', ')}`,
      );
    }
    if (typeof value !== 'string' || value.length > MAX_CONTEXT_VALUE_LENGTH) {
      throw new InvalidRequestBodyError(
        `context[${i}].value must be a string of at most ${MAX_CONTEXT_VALUE_LENGTH} characters`,
      );
    }
    const key = name as EndpointResolutionContextName;
    if (parsed[key] !== undefined) throw new InvalidRequestBodyError(`context names ${name} more than once`);
    parsed[key] = value;
  });
  return parsed;
}
