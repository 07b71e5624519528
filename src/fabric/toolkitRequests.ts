/**
 * The request bodies of the Fabric Extensibility Toolkit's backend contract
 * (contract/extensibility-toolkit.swagger.json), checked. Each parser takes the
 * JSON object the pipeline read and returns what the operation needs, or
 * throws InvalidRequestBodyError naming the first problem.
 */
import { createHash } from 'node:crypto';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';
import { codePointLength, MAX_STRING_PROPERTY_LENGTH } from '../text';
import { isPlainObject } from './contract';
import { InvalidRequestBodyError } from './errors';

/** More parts than this is not an item definition but an attack on the parser. */
export const MAX_DEFINITION_PARTS = 256;
/** A part's path, in characters (code points). */
export const MAX_PART_PATH_LENGTH = 256;
/**
 * The bound of onCreateJobInstance's body: its executionData and definition
 * are each kept in one Table property (32,768 characters), and a sender may
 * write a character as a 6-byte `\uXXXX` escape, so two full fields take up
 * to 384 KiB; anything beyond the bound can only be refused, and is, unread.
 */
export const JOB_CREATE_MAX_BODY_BYTES = 512 * 1024;

/** The payload type whose payload is decoded for the item handler. */
export const INLINE_BASE64 = 'InlineBase64';

/** One part of an item definition, as the item handler gets it. */
export interface ItemDefinitionPart {
  path: string;
  /** `InlineBase64`, or a type added to the contract later, as it came. */
  payloadType: string;
  /** The payload as it came. */
  payload: string;
  /** The decoded payload of an `InlineBase64` part; absent for other payload types. */
  bytes?: Uint8Array;
  /** Properties the contract may add later, as they came. */
  [property: string]: unknown;
}

/** An item's definition, as Fabric keeps it and the item handler gets it. */
export interface ItemDefinition {
  format?: string;
  parts: ItemDefinitionPart[];
  [property: string]: unknown;
}

/** What the backend keeps of a definition: never its content, only how to recognise it. */
export interface DefinitionSummary {
  /** SHA-256 of the definition's JSON text as it came, base64. */
  digest: string;
  /** The size of that JSON text in bytes. */
  bytes: number;
}

/** OnCreateItem, OnUpdateItem, OnRestoreItem: `{ definition? }`. */
export interface ItemDefinitionRequest {
  definition?: ItemDefinition;
  summary?: DefinitionSummary;
}

export type DeleteType = 'Hard' | 'Soft';

export interface DeleteItemRequest {
  deleteType: DeleteType;
}

/** The job a toolkit job operation names (onGetJobInstanceStatus, onCancelJobInstance). */
export interface JobInstanceRequest {
  jobType: string;
  /** Lowercase. */
  jobInstanceId: string;
}

export interface CreateJobInstanceRequest extends JobInstanceRequest {
  /** The execution data as JSON text (any JSON value); absent when none was sent. */
  executionData?: string;
  /** The item definition as JSON text, when one came. */
  definition?: string;
}

/** `{ definition? }` with the bounds of the contract and of this backend. */
export function parseItemDefinitionRequest(body: unknown): ItemDefinitionRequest {
  const { definition } = body as Record<string, unknown>;
  if (definition === undefined || definition === null) return {};
  const parsed = parseItemDefinition(definition);
  const text = JSON.stringify(definition);
  return {
    definition: parsed,
    summary: { digest: createHash('sha256').update(text).digest('base64'), bytes: Buffer.byteLength(text) },
  };
}

/** An ItemDefinition: `parts` an array of at most 256 parts, each path unique; InlineBase64 payloads strict base64. */
export function parseItemDefinition(value: unknown): ItemDefinition {
  if (!isPlainObject(value)) throw new InvalidRequestBodyError('definition must be a JSON object');
  const { format, parts } = value;
  if (format !== undefined && format !== null && typeof format !== 'string') {
    throw new InvalidRequestBodyError('definition.format must be a string');
  }
  if (!Array.isArray(parts)) throw new InvalidRequestBodyError('definition.parts must be an array');
  if (parts.length > MAX_DEFINITION_PARTS) {
    throw new InvalidRequestBodyError(`definition.parts has more than ${MAX_DEFINITION_PARTS} parts`);
  }
  const paths = new Set<string>();
  const parsedParts = parts.map((part: unknown, i) => {
    const parsed = parsePart(part, `definition.parts[${i}]`);
    if (paths.has(parsed.path))
      throw new InvalidRequestBodyError(`definition.parts[${i}].path is used by another part`);
    paths.add(parsed.path);
    return parsed;
  });
  return { ...value, parts: parsedParts } as ItemDefinition;
}

function parsePart(part: unknown, name: string): ItemDefinitionPart {
  if (!isPlainObject(part)) throw new InvalidRequestBodyError(`${name} must be an object`);
  const { path, payload, payloadType } = part;
  if (typeof path !== 'string' || path === '' || codePointLength(path) > MAX_PART_PATH_LENGTH) {
    throw new InvalidRequestBodyError(`${name}.path must be a string of 1 to ${MAX_PART_PATH_LENGTH} characters`);
  }
  if (typeof payload !== 'string') throw new InvalidRequestBodyError(`${name}.payload must be a string`);
  if (typeof payloadType !== 'string' || payloadType === '') {
    throw new InvalidRequestBodyError(`${name}.payloadType must be a string such as ${INLINE_BASE64}`);
  }
  const parsed: ItemDefinitionPart = { ...part, path, payload, payloadType };
  if (payloadType === INLINE_BASE64) {
    const bytes = decodeStrictBase64(payload);
    if (!bytes) throw new InvalidRequestBodyError(`${name}.payload is not base64`);
    parsed.bytes = bytes;
  }
  return parsed;
}

// Groups of four, the last one padded: linear, nothing to backtrack into.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (RFC 4648 section 4, padded, canonical): Node's decoder alone skips what it cannot read. */
export function decodeStrictBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero bits after the last full byte make the text a second spelling of the same bytes.
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** `{ deleteType: "Hard" | "Soft" }`, required. */
export function parseDeleteItemRequest(body: unknown): DeleteItemRequest {
  const { deleteType } = body as Record<string, unknown>;
  if (deleteType !== 'Hard' && deleteType !== 'Soft')
    throw new InvalidRequestBodyError('deleteType must be Hard or Soft');
  return { deleteType };
}

/** `{ jobType, jobInstanceId }`: a type name this backend may have a handler for, and a GUID. */
export function parseJobInstanceRequest(body: unknown): JobInstanceRequest {
  const { jobType, jobInstanceId } = body as Record<string, unknown>;
  if (!isTypeName(jobType)) throw new InvalidRequestBodyError(`jobType must be ${TYPE_NAME_RULE}`);
  if (!isGuid(jobInstanceId)) throw new InvalidRequestBodyError('jobInstanceId must be a GUID');
  return { jobType, jobInstanceId: jobInstanceId.toLowerCase() };
}

/**
 * `{ jobType, jobInstanceId, executionData?, definition? }`: executionData any
 * JSON value, the definition an ItemDefinition; each kept as JSON text in one
 * Table property, so each is at most 32,768 characters of JSON.
 */
export function parseCreateJobInstanceRequest(body: unknown): CreateJobInstanceRequest {
  const request = parseJobInstanceRequest(body);
  const { executionData, definition } = body as Record<string, unknown>;
  const parsed: CreateJobInstanceRequest = { ...request };
  if (executionData !== undefined) parsed.executionData = storedText(executionData, 'executionData');
  if (definition !== undefined && definition !== null) {
    parseItemDefinition(definition);
    parsed.definition = storedText(definition, 'definition');
  }
  return parsed;
}

function storedText(value: unknown, name: string): string {
  const text = JSON.stringify(value);
  if (text.length > MAX_STRING_PROPERTY_LENGTH) {
    throw new InvalidRequestBodyError(
      `${name} is ${text.length} characters as JSON; at most ${MAX_STRING_PROPERTY_LENGTH} can be stored`,
    );
  }
  return text;
}
