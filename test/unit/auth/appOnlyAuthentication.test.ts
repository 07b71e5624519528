import { beforeAll, describe, expect, it } from 'vitest';
import type { SubjectAndAppAuthenticator } from '../../../src/auth/subjectAndAppAuthenticator';
import { AuthError } from '../../../src/fabric/errors';
import { subjectAndAppHeader } from '../../../dev/fabricTokens';
import { ACCEPTED, REJECTED, type AuthContext } from '../../fixtures/authCases';
import { authenticatorUnderTest } from '../../fixtures/authContext';

/** authenticateApp: endpoint resolution, which Fabric calls with the app token alone and no tenant header. */
let ctx: AuthContext;
let authenticator: SubjectAndAppAuthenticator;
beforeAll(() => {
  ({ ctx, authenticator } = authenticatorUnderTest());
});

const reason = (authorization: string | null) =>
  authenticator.authenticateApp(authorization).then(
    () => 'accepted',
    (error: unknown) => (error instanceof AuthError ? error.reason : String(error)),
  );

describe('authenticateApp', () => {
  it("accepts Fabric's app token with an empty subject token, and names the app", async () => {
    const caller = await authenticator.authenticateApp(subjectAndAppHeader('', ctx.appToken()));
    expect(caller).toEqual({ appId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('accepts every accepted case of authCases.ts, whatever its tenant header said', async () => {
    for (const authCase of ACCEPTED)
      expect(await reason(authCase.request(ctx).authorization as string), authCase.name).toBe('accepted');
  });

  it('rejects every attack on the header, the app token or a sent subject token, for the same reason as authenticate', async () => {
    const applicable = REJECTED.filter(
      (c) => c.rule !== 'tenant header' && c.rule !== 'empty subject' && !/x-ms-client-tenant-id/.test(c.name),
    );
    expect(applicable.length).toBeGreaterThan(40);
    for (const authCase of applicable) {
      const { authorization } = authCase.request(ctx);
      if (Array.isArray(authorization)) continue; // two headers: the pipeline sees them joined, covered over HTTP
      expect(await reason(authorization ?? null), authCase.name).toMatch(authCase.reason!);
    }
  });

  it('still refuses an app token that is not app-only, even with no subject token', async () => {
    expect(await reason(subjectAndAppHeader('', ctx.subjectToken()))).toMatch(/^app token: idtyp/);
  });
});
