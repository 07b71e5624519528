import { forLog } from '../logValue';
import { cutText } from '../text';
import type { ErrorExtendedInformation, ErrorSource } from './contract';

/**
 * Every errorCode of an ErrorResponse this app answers (docs/api.md, "Answers",
 * lists each beside its status; a test holds the two together). An item
 * handler's ItemPayloadError adds the vendor's own codes.
 */
export const ERROR_CODES = [
  'InvalidParameter',
  'InvalidRequestBody',
  'UnknownJobType',
  'UnknownItemType',
  'InvalidItemPayload',
  'AuthError',
  'ItemNotFound',
  'ItemConflict',
  'ItemUpdateConflict',
  'ItemDeleted',
  'JobInstanceConflict',
  'StorageUnavailable',
  'SigningKeysUnavailable',
  'AuthUIRequired',
  'TokenServiceUnavailable',
  'InvalidJobStateRecord',
  'InvalidItemRecord',
  'EndpointResolutionNotConfigured',
  'InternalError',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * One class per failure class of the "Answers" table. Each carries what
 * the caller sees (status, code, source, isPermanent, message) and, apart
 * from it, what only the log may see (`logDetail`).
 */
export abstract class FabricError extends Error {
  abstract readonly status: number;
  /** An ErrorCode, or an item handler's own code (ItemPayloadError). */
  abstract readonly errorCode: string;
  abstract readonly source: ErrorSource;
  abstract readonly isPermanent: boolean;
  /** Extra response headers, such as Retry-After. */
  readonly headers: Record<string, string> = {};
  /** Parameters named in the response's messageParameters. */
  readonly messageParameters?: string[];
  /** The response's moreDetails: what the caller needs to act on the error (AuthUIRequired). */
  readonly moreDetails?: ErrorExtendedInformation[];

  constructor(
    message: string,
    readonly logDetail?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidParameterError extends FabricError {
  readonly status = 400;
  readonly errorCode = 'InvalidParameter';
  readonly source = 'User';
  readonly isPermanent = true;
  readonly messageParameters: string[];

  constructor(parameter: string, expectation: string) {
    super(`The parameter '${parameter}' is invalid: ${expectation}.`);
    this.messageParameters = [parameter];
  }
}

/** The request body is not what the operation takes; the message names the problem. */
export class InvalidRequestBodyError extends FabricError {
  readonly status = 400;
  readonly errorCode = 'InvalidRequestBody';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(problem: string) {
    super(`The request body is invalid: ${problem}.`);
  }
}

/** No job handler for this (itemType, jobType): the workload manifest and the backend disagree. */
export class UnknownJobTypeError extends FabricError {
  readonly status = 400;
  readonly errorCode = 'UnknownJobType';
  readonly source = 'User';
  readonly isPermanent = true;
  readonly messageParameters: string[];

  constructor(itemType: string, jobType: string) {
    super(`This backend has no job handler for job type '${jobType}' of item type '${itemType}'.`);
    this.messageParameters = [itemType, jobType];
  }
}

/** No item handler for this item type: the workload manifest and the backend disagree. */
export class UnknownItemTypeError extends FabricError {
  readonly status = 400;
  readonly errorCode = 'UnknownItemType';
  readonly source = 'User';
  readonly isPermanent = true;
  readonly messageParameters: string[];

  constructor(itemType: string) {
    super(`This backend has no item handler for item type '${itemType}'.`);
    this.messageParameters = [itemType];
  }
}

/** The item does not exist for this caller: missing, or another tenant's, workspace's or item type's. */
export class ItemNotFoundError extends FabricError {
  readonly status = 404;
  readonly errorCode = 'ItemNotFound';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(logDetail: string) {
    super('The item was not found.', logDetail);
  }
}

const VENDOR_ERROR_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_VENDOR_MESSAGE_LENGTH = 1024;

/**
 * Thrown by an item handler when a creation or update payload is not valid for
 * its item type: 400 with the handler's errorCode and message (source User).
 * An errorCode that is not a short word becomes InvalidItemPayload.
 */
export class ItemPayloadError extends FabricError {
  readonly status = 400;
  readonly errorCode: string;
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(errorCode: string, message: string) {
    const text = cutText(String(message), MAX_VENDOR_MESSAGE_LENGTH);
    const code = VENDOR_ERROR_CODE.test(errorCode) ? errorCode : 'InvalidItemPayload';
    // The vendor's text reaches a log line only escaped.
    super(text, `the item handler refused it (${code}): ${forLog(text, MAX_VENDOR_MESSAGE_LENGTH)}`);
    this.errorCode = code;
  }
}

/** Endpoint resolution is called but ENDPOINT_RESOLUTION_URLS has no URL for it: a deployment fault. */
export class EndpointResolutionNotConfiguredError extends FabricError {
  readonly status = 500;
  readonly errorCode = 'EndpointResolutionNotConfigured';
  readonly source = 'System';
  readonly isPermanent = false;

  constructor(logDetail: string) {
    super('This backend has no endpoint configured for this request.', logDetail);
  }
}

/** The id is taken by a resource of another tenant, workspace or type; nothing more is said about it. */
export class ConflictError extends FabricError {
  readonly status = 409;
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(
    readonly errorCode: Extract<
      ErrorCode,
      'ItemConflict' | 'ItemUpdateConflict' | 'ItemDeleted' | 'JobInstanceConflict'
    >,
    message: string,
    logDetail?: string,
  ) {
    super(message, logDetail);
  }
}

/** The item id is taken by another owner's item (CreateItem, OnCreateItem, a job Create). */
export class ItemConflictError extends ConflictError {
  constructor(itemId: string) {
    super(
      'ItemConflict',
      'An item with this id already exists for another tenant, workspace or item type.',
      `item ${itemId} exists under another owner`,
    );
  }
}

/** The item is soft-deleted, or a delete of it is under way: it takes no new jobs. */
export class ItemDeletedError extends ConflictError {
  constructor(itemId: string) {
    super('ItemDeleted', 'The item has been deleted: it takes no new jobs.', `item ${itemId} is deleted`);
  }
}

/**
 * The caller sees one generic message; `reason` goes to the log only, and
 * `rule` (a stable name such as `appToken.audience`, never caller bytes) to
 * the request's summary, for counting failures by rule.
 */
export class AuthError extends FabricError {
  readonly status = 401;
  readonly errorCode = 'AuthError';
  readonly source = 'External';
  readonly isPermanent = false;
  readonly headers = { 'WWW-Authenticate': 'SubjectAndAppToken1.0' };

  constructor(
    readonly rule: string,
    readonly reason: string,
  ) {
    super('The request could not be authenticated.', reason);
  }
}

abstract class UnavailableError extends FabricError {
  readonly status = 503;
  readonly source = 'System';
  readonly isPermanent = false;
  readonly headers: Record<string, string>;

  constructor(message: string, retryAfterSeconds: number, logDetail?: string) {
    super(message, logDetail);
    this.headers = { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  }
}

export class StorageUnavailableError extends UnavailableError {
  readonly errorCode = 'StorageUnavailable';

  constructor(logDetail: string, retryAfterSeconds = 5) {
    super('The state store is temporarily unavailable. Try again later.', retryAfterSeconds, logDetail);
  }
}

export class SigningKeysUnavailableError extends UnavailableError {
  readonly errorCode = 'SigningKeysUnavailable';

  constructor(logDetail: string, retryAfterSeconds: number) {
    super('The token signing keys are temporarily unavailable. Try again later.', retryAfterSeconds, logDetail);
  }
}

export class TokenServiceUnavailableError extends UnavailableError {
  readonly errorCode = 'TokenServiceUnavailable';

  constructor(logDetail: string, retryAfterSeconds = 5) {
    super('The token service is temporarily unavailable. Try again later.', retryAfterSeconds, logDetail);
  }
}

/**
 * A token for the user needs the user first: consent to more scopes, another
 * factor, or a Conditional Access policy. Fabric's frontend reads moreDetails
 * (the scopes to consent to, the claims challenge) and the WWW-Authenticate
 * header, asks the user, and calls again (Microsoft's reference backend:
 * AuthenticationUIRequiredException, AddBearerClaimToResponse).
 */
export class AuthUIRequiredError extends FabricError {
  readonly status = 401;
  readonly errorCode = 'AuthUIRequired';
  readonly source = 'System';
  readonly isPermanent = false;
  readonly headers: Record<string, string>;
  readonly moreDetails: ErrorExtendedInformation[];

  /** `message`: Entra's AADSTS text; `error`: Entra's error code (e.g. invalid_grant); `claims`: its challenge, or ''. */
  constructor(
    message: string,
    readonly scopes: readonly string[],
    private readonly error: string,
    /** Entra's claims challenge, or ''. */
    readonly claims: string,
    logDetail: string,
  ) {
    super(message, logDetail);
    const additionalParameters = [{ name: 'additionalScopesToConsent', value: scopes.join(', ') }];
    if (claims !== '') {
      additionalParameters.push(
        { name: 'claimsForConditionalAccessPolicy', value: claims },
        // The spelling Fabric's reference frontend reads.
        { name: 'claimsForCondtionalAccessPolicy', value: claims },
      );
    }
    this.moreDetails = [{ errorCode: this.errorCode, message, additionalParameters }];
    const challenge = claims === '' ? [] : [`claims=${quotedString(claims)}`];
    this.headers = { 'WWW-Authenticate': `Bearer ${[...challenge, `error=${quotedString(error)}`].join(', ')}` };
  }

  /** The same answer asking consent for `scopes` instead (a Create whose job type's resources each need it). */
  forScopes(scopes: readonly string[]): AuthUIRequiredError {
    return new AuthUIRequiredError(this.message, scopes, this.error, this.claims, this.logDetail ?? this.message);
  }
}

/** An RFC 9110 quoted-string: `"` and `\` escaped, control characters (a header cannot carry them) dropped. */
export function quotedString(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

export class InvalidJobStateRecordError extends FabricError {
  readonly status = 500;
  readonly errorCode = 'InvalidJobStateRecord';
  readonly source = 'System';
  readonly isPermanent = false;

  constructor(logDetail: string) {
    super('The stored state of this job instance is invalid.', logDetail);
  }
}

export class InvalidItemRecordError extends FabricError {
  readonly status = 500;
  readonly errorCode = 'InvalidItemRecord';
  readonly source = 'System';
  readonly isPermanent = false;

  constructor(logDetail: string) {
    super('The stored state of this item is invalid.', logDetail);
  }
}

export class InternalError extends FabricError {
  readonly status = 500;
  readonly errorCode = 'InternalError';
  readonly source = 'System';
  readonly isPermanent = false;

  constructor(logDetail?: string) {
    super('An unexpected error occurred.', logDetail);
  }
}

/**
 * The one way an error is described in a log line: a FabricError by what only
 * the log may see (its logDetail, else its message, both our own text or
 * already escaped), anything else by its class and its message, escaped and cut
 * (a library's message may quote input, line breaks included).
 */
export function describeError(error: unknown): string {
  if (error instanceof FabricError) return error.logDetail ?? error.message;
  return error instanceof Error ? `${error.name}: ${forLog(error.message, 300)}` : forLog(String(error), 300);
}
