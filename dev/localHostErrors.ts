/**
 * Answers of the local host alone: the Functions host gives these itself, so
 * the app never throws them. Each is still a contract ErrorResponse.
 */
import { FabricError } from '../src/fabric/errors';

/** The Functions host answers unknown routes itself. */
export class RouteNotFoundError extends FabricError {
  readonly status = 404;
  readonly errorCode = 'NotFound';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor() {
    super('No such resource.');
  }
}

/** the route exists but not for this method. */
export class MethodNotAllowedError extends FabricError {
  readonly status = 405;
  readonly errorCode = 'MethodNotAllowed';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(allowed: string[]) {
    super(`The method is not allowed. Allowed: ${allowed.join(', ')}.`);
    this.headers.Allow = allowed.join(', ');
  }
}

/** a body past the host's own buffer limit (the Functions host has one too). */
export class PayloadTooLargeError extends FabricError {
  readonly status = 413;
  readonly errorCode = 'PayloadTooLarge';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(maxBytes: number) {
    super(`The request body is larger than ${maxBytes} bytes.`);
  }
}

/** more header lines than it takes (Kestrel's default), refused rather than cut short. */
export class RequestHeaderFieldsTooLargeError extends FabricError {
  readonly status = 431;
  readonly errorCode = 'RequestHeaderFieldsTooLarge';
  readonly source = 'User';
  readonly isPermanent = true;

  constructor(maxHeaders: number) {
    super(`The request has more than ${maxHeaders} header fields.`);
  }
}
