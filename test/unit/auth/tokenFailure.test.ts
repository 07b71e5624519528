import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { describe, expect, it } from 'vitest';
import { tokenFailure, USER_RESOLVABLE_AADSTS } from '../../../src/auth/tokenFailure';
import {
  AuthUIRequiredError,
  InternalError,
  quotedString,
  TokenServiceUnavailableError,
} from '../../../src/fabric/errors';
import { toErrorResponse } from '../../../src/fabric/responses';
import { contractValidator } from '../../fixtures/contractSchema';

const SCOPES = ['https://storage.azure.com/user_impersonation', 'https://storage.azure.com/.default'];
const CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["a\\\\b"]}}}';
const validErrorResponse = contractValidator('ErrorResponse');

/** What MSAL wraps a ServerError's description in (ResponseHandler.validateTokenResponse). */
const wrapped = (code: number, text: string) =>
  `Error(s): ${code} - Timestamp: 2024-01-01 00:00:00Z - Description: AADSTS${code}: ${text} - Correlation ID: c0 - Trace ID: t0`;

function body(error: unknown) {
  const answer = toErrorResponse(error);
  return {
    status: answer.status,
    headers: answer.headers as Record<string, string>,
    body: JSON.parse(String(answer.body)),
  };
}

describe('tokenFailure', () => {
  it('turns an InteractionRequiredAuthError (consent) into 401 AuthUIRequired with the scopes to consent to', () => {
    const msal = new InteractionRequiredAuthError(
      'invalid_grant',
      'corr',
      'AADSTS65001: The user or administrator has not consented.',
      'consent_required',
      '',
      '',
      '',
      '65001',
    );
    const error = tokenFailure(msal, SCOPES, 'obo');
    expect(error).toBeInstanceOf(AuthUIRequiredError);
    const answer = body(error);
    expect(answer.status).toBe(401);
    expect(validErrorResponse(answer.body), JSON.stringify(validErrorResponse.errors)).toBe(true);
    expect(answer.body).toEqual({
      errorCode: 'AuthUIRequired',
      message: 'AADSTS65001: The user or administrator has not consented.',
      source: 'System',
      isPermanent: false,
      moreDetails: [
        {
          errorCode: 'AuthUIRequired',
          message: 'AADSTS65001: The user or administrator has not consented.',
          additionalParameters: [{ name: 'additionalScopesToConsent', value: SCOPES.join(', ') }],
        },
      ],
    });
    expect(answer.headers['WWW-Authenticate']).toBe('Bearer error="invalid_grant"');
  });

  it('carries a claims challenge under both spellings and in a properly quoted WWW-Authenticate', () => {
    const msal = new InteractionRequiredAuthError(
      'interaction_required',
      'c',
      'AADSTS50076: use MFA',
      'basic_action',
      '',
      '',
      CLAIMS,
      '50076',
    );
    const answer = body(tokenFailure(msal, SCOPES.slice(0, 1), 'obo'));
    expect(answer.body.moreDetails[0].additionalParameters).toEqual([
      { name: 'additionalScopesToConsent', value: SCOPES[0] },
      { name: 'claimsForConditionalAccessPolicy', value: CLAIMS },
      { name: 'claimsForCondtionalAccessPolicy', value: CLAIMS },
    ]);
    const header = answer.headers['WWW-Authenticate'];
    expect(header).toBe(`Bearer claims=${quotedString(CLAIMS)}, error="interaction_required"`);
    // Unquoting the header gives the claims back exactly.
    const quoted = /^Bearer claims="((?:[^"\\]|\\.)*)", error="interaction_required"$/.exec(header)![1];
    expect(quoted.replace(/\\(.)/g, '$1')).toBe(CLAIMS);
    expect(validErrorResponse(answer.body)).toBe(true);
  });

  it.each(USER_RESOLVABLE_AADSTS)(
    'turns a ServerError AADSTS%s into AuthUIRequired, with Entra text as the message',
    (code) => {
      const msal = new ServerError('invalid_grant', 'corr', wrapped(Number(code), 'blocked.'), undefined, code, 400);
      const error = tokenFailure(msal, SCOPES, 'obo');
      expect(error).toBeInstanceOf(AuthUIRequiredError);
      expect(error.message).toBe(`AADSTS${code}: blocked.`);
      expect(error.logDetail).toContain(`AADSTS${code}`);
    },
  );

  it('turns another ServerError into a 500 with no MSAL text in the body', () => {
    const msal = new ServerError(
      'invalid_client',
      'corr',
      wrapped(7000215, 'Invalid client secret provided.'),
      undefined,
      '7000215',
      401,
    );
    const error = tokenFailure(msal, SCOPES, 'obo');
    expect(error).toBeInstanceOf(InternalError);
    const answer = body(error);
    expect(answer.status).toBe(500);
    expect(JSON.stringify(answer.body)).not.toMatch(/AADSTS|invalid_client|secret/);
    expect(error.logDetail).toContain('AADSTS7000215');
  });

  it('turns an unreachable endpoint (network_error) or an Entra outage into 503 TokenServiceUnavailable with Retry-After', () => {
    for (const msal of [
      new AuthError('network_error', '', 'POST https://127.0.0.1:1/t/oauth2/v2.0/token: ECONNREFUSED'),
      new ServerError('temporarily_unavailable', 'c', wrapped(90033, 'transient'), undefined, '90033'),
      new ServerError('server_error', 'c', wrapped(50000, 'oops'), undefined, '50000', 502),
    ]) {
      const error = tokenFailure(msal, SCOPES, 'obo');
      expect(error, msal.errorCode).toBeInstanceOf(TokenServiceUnavailableError);
      const answer = body(error);
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ errorCode: 'TokenServiceUnavailable', source: 'System', isPermanent: false });
      expect(Number(answer.headers['Retry-After'])).toBeGreaterThan(0);
      expect(validErrorResponse(answer.body)).toBe(true);
    }
  });

  it("turns anything that is not MSAL's into a 500 InternalError", () => {
    const error = tokenFailure(new TypeError('boom eyJhbGciOi'), SCOPES, 'obo');
    expect(error).toBeInstanceOf(InternalError);
    expect(body(error).body.message).toBe('An unexpected error occurred.');
  });
});

describe('quotedString', () => {
  it('escapes " and \\ and drops control characters', () => {
    expect(quotedString('a"b\\c\r\nd')).toBe('"a\\"b\\\\cd"');
  });
});
