import { AuthError } from '../fabric/errors';
import { isGuid } from '../ids';

export const SCHEME = 'SubjectAndAppToken1.0';
/** Checked before any parsing. Two Entra tokens are a few KiB; 16 KiB is generous. */
export const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

export interface SubjectAndAppTokens {
  /** May be '' — whether that is acceptable is the caller's decision. */
  subjectToken: string;
  appToken: string;
}

// Each group is a run of non-quote characters followed by a quote, so the
// match is linear: there is nothing to backtrack into.
const HEADER = /^SubjectAndAppToken1\.0 subjectToken="([^"]*)", appToken="([^"]*)"$/;
// The form Fabric may send when it has no user to speak for (the subject token's key missing).
const APP_ONLY_HEADER = /^SubjectAndAppToken1\.0 appToken="([^"]*)"$/;
// Three base64url segments; the classes exclude the dot, so this is linear too.
const COMPACT_JWS = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Parses `SubjectAndAppToken1.0 subjectToken="<jwt>", appToken="<jwt>"`, or
 * `SubjectAndAppToken1.0 appToken="<jwt>"` (no subject token at all, read as an
 * empty one: whether that is acceptable is the caller's decision).
 * `value` is what the request's Headers object gives for Authorization: when a
 * request carries the header twice, the values arrive joined with a comma and
 * fail the exact form below, so a second header is never silently ignored.
 */
export function parseSubjectAndAppHeader(value: string | null): SubjectAndAppTokens {
  if (value === null || value === '') throw new AuthError('authorization.missing', 'Authorization header is missing');
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    throw new AuthError(
      'authorization.tooLong',
      `Authorization header is ${value.length} characters long, over the limit of ${MAX_AUTHORIZATION_LENGTH}`,
    );
  }
  const appOnly = APP_ONLY_HEADER.exec(value);
  const match = appOnly ? [appOnly[0], '', appOnly[1]] : HEADER.exec(value);
  if (!match) {
    const scheme = value.split(' ', 1)[0];
    throw new AuthError(
      scheme === SCHEME ? 'authorization.form' : 'authorization.scheme',
      scheme === SCHEME
        ? 'Authorization header is not in the exact SubjectAndApp form: subjectToken then appToken, both quoted, sent once'
        : `Authorization scheme is not ${SCHEME}`,
    );
  }
  const [, subjectToken, appToken] = match;
  if (subjectToken !== '' && !COMPACT_JWS.test(subjectToken))
    throw new AuthError('subjectToken.notJws', 'subject token is not a compact JWS');
  if (!COMPACT_JWS.test(appToken)) throw new AuthError('appToken.notJws', 'app token is not a compact JWS');
  return { subjectToken, appToken };
}

/** `x-ms-client-tenant-id`: exactly one GUID, returned lowercase. */
export function parseClientTenantHeader(value: string | null): string {
  if (value === null || value === '')
    throw new AuthError('tenantHeader.missing', 'x-ms-client-tenant-id header is missing');
  if (value.includes(','))
    throw new AuthError('tenantHeader.multiple', 'x-ms-client-tenant-id header has more than one value');
  if (!isGuid(value)) throw new AuthError('tenantHeader.notGuid', 'x-ms-client-tenant-id header is not a GUID');
  return value.toLowerCase();
}
