import { beforeAll, describe, expect, it } from 'vitest';
import type { SubjectAndAppAuthenticator } from '../../../src/auth/subjectAndAppAuthenticator';
import { AuthError } from '../../../src/fabric/errors';
import { joinFieldValues } from '../../../dev/requestHeaders';
import { ACCEPTED, REJECTED, type AuthContext, type AuthRequest } from '../../fixtures/authCases';
import { authenticatorUnderTest } from '../../fixtures/authContext';

let ctx: AuthContext;
let authenticator: SubjectAndAppAuthenticator;
beforeAll(() => {
  ({ ctx, authenticator } = authenticatorUnderTest());
});

/** What the Functions host hands the app for a header sent on one or more lines. */
const joined = (value: string | string[] | undefined) => (value === undefined ? null : joinFieldValues([value].flat()));
const authenticate = (request: AuthRequest) =>
  authenticator.authenticate({ authorization: joined(request.authorization), clientTenantId: joined(request.tenant) });

describe('accepted by the authenticator', () => {
  it.each(ACCEPTED.map((c) => [`${c.rule}: ${c.name}`, c] as const))('%s', async (_name, authCase) => {
    const caller = await authenticate(authCase.request(ctx));
    expect(caller.tenantId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('rejected by the authenticator', () => {
  it.each(REJECTED.map((c) => [`${c.rule}: ${c.name}`, c] as const))('%s', async (_name, authCase) => {
    const error = await authenticate(authCase.request(ctx)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toMatch(authCase.reason!);
  });
});

it('covers every rule of docs/authentication.md with an accepted and a rejected case', () => {
  const acceptedRules = new Set(ACCEPTED.map((c) => c.rule));
  const rejectedRules = new Set(REJECTED.map((c) => c.rule));
  for (const rule of [
    'ver',
    'audience',
    'lifetime',
    'app id',
    'signing-key issuer',
    'subject scope',
    'tenant header',
  ]) {
    expect(acceptedRules).toContain(rule);
  }
  expect(rejectedRules.size).toBeGreaterThanOrEqual(12);
});
