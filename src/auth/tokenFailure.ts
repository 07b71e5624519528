import {
  AuthUIRequiredError,
  describeError,
  InternalError,
  TokenServiceUnavailableError,
  type FabricError,
} from '../fabric/errors';
import { forLog } from '../logValue';
import { cutText } from '../text';

/**
 * AADSTS numbers that a user can resolve: consent (65001), another factor
 * (50076, 50079), a Conditional Access policy (53003), an external security
 * challenge (50158). MSAL calls most of them InteractionRequiredAuthError; a
 * blocking policy often comes as a plain ServerError, known only by its number.
 */
export const USER_RESOLVABLE_AADSTS = ['65001', '50076', '50079', '53003', '50158'] as const;

/** MSAL's code for a request that got no answer, and OAuth's for a service that is down or overloaded. */
const UNAVAILABLE = ['network_error', 'temporarily_unavailable', 'service_unavailable'];

/** What this module reads of an MSAL error (AuthError and its subclasses), by shape. */
interface MsalErrorShape {
  name: string;
  errorCode: string;
  errorMessage: string;
  subError?: string;
  errorNo?: string | number;
  claims?: string;
  status?: number;
  correlationId?: string;
}

function isMsalError(error: unknown): error is MsalErrorShape {
  const candidate = error as Partial<MsalErrorShape> | null;
  return (
    error instanceof Error && typeof candidate?.errorCode === 'string' && typeof candidate.errorMessage === 'string'
  );
}

/** Entra's own text: the AADSTS description (MSAL wraps a ServerError's in "Error(s): … - Description: … - Correlation ID: …"). */
function entraText(error: MsalErrorShape): string {
  const wrapped = /- Description: ([\s\S]*?) - Correlation ID:/.exec(error.errorMessage)?.[1];
  const text = wrapped ?? error.errorMessage;
  return cutText(text.trim() || error.errorCode, 1024);
}

/**
 * MSAL's own throttle: after Entra answered 429 or 5xx, MSAL refuses the same
 * request (client, authority, scopes, no account: every user of the tenant)
 * until Retry-After, or 60 s, has passed, without a call. It throws a
 * ServerError with no HTTP status whose errorCode is Entra's error_codes
 * joined by spaces (msal-common's ThrottlingUtils.preProcess), where an
 * answer's ServerError carries Entra's `error` word (invalid_grant, …).
 */
function isThrottledByMsal(error: MsalErrorShape): boolean {
  return error.name === 'ServerError' && error.status === undefined && /^[\d ]*$/.test(error.errorCode);
}

function aadstsNumber(error: MsalErrorShape): string | undefined {
  // MSAL copies error_codes[0], a JSON number, as it comes.
  return error.errorNo !== undefined ? String(error.errorNo) : /^AADSTS(\d+)/.exec(entraText(error))?.[1];
}

/**
 * Turns what MSAL threw for a token request into the answer: 401
 * AuthUIRequired when the user can resolve it, 503 TokenServiceUnavailable
 * when Entra could not be reached or failed on its side, 500 (with no MSAL
 * text in the body) for anything else. `what` names the request for the log
 * (e.g. "on-behalf-of token in tenant …"); never a token.
 */
export function tokenFailure(error: unknown, scopes: readonly string[], what: string): FabricError {
  if (!isMsalError(error)) return new InternalError(`${what}: ${describeError(error)}`);
  const number = aadstsNumber(error);
  const summary = [
    `${what} failed: ${error.name} ${error.errorCode}`,
    error.subError ? `suberror ${error.subError}` : '',
    number ? `AADSTS${number}` : '',
    error.status ? `HTTP ${error.status}` : '',
    error.correlationId ? `correlation id ${error.correlationId}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const interactive =
    error.name === 'InteractionRequiredAuthError' ||
    (number !== undefined && (USER_RESOLVABLE_AADSTS as readonly string[]).includes(number));
  if (interactive) {
    return new AuthUIRequiredError(
      entraText(error),
      scopes,
      error.errorCode,
      error.claims ?? '',
      `${summary}: ${forLog(entraText(error), 300)}`,
    );
  }
  if (
    UNAVAILABLE.includes(error.errorCode) ||
    (error.status !== undefined && error.status >= 500) ||
    isThrottledByMsal(error)
  ) {
    return new TokenServiceUnavailableError(`${summary}: ${forLog(error.errorMessage, 300)}`);
  }
  const detail = `${summary}: ${forLog(entraText(error), 300)}`;
  // invalid_grant: Entra refused the user's token itself (expired, revoked, the user disabled), not our credential.
  return error.errorCode === 'invalid_grant' ? new UserAssertionRefusedError(detail) : new InternalError(detail);
}

/**
 * Entra refused the user's token that was exchanged (`invalid_grant` that the
 * user cannot resolve: AADSTS500133 expired, 50013 a bad signature, 50057 a
 * disabled user). A request answers it as any other InternalError (500); a
 * job that met it with its stored token ends `UserTokenExpired`.
 */
export class UserAssertionRefusedError extends InternalError {
  constructor(logDetail: string) {
    super(logDetail);
    this.name = 'UserAssertionRefusedError';
  }
}
