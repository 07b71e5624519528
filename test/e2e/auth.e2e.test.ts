import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPTED, REJECTED, type AuthContext, type AuthRequest } from '../fixtures/authCases';
import { createAuthContext } from '../fixtures/authContext';
import { tokenSegments } from '../fixtures/hostileInput';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';

let stack: TestStack;
let ctx: AuthContext;
beforeAll(async () => {
  stack = await startStack();
  ctx = createAuthContext(stack.issuer);
  await stack.seed();
});
afterAll(() => stack?.close());

/** Every Authorization value sent in this file, valid or not: none of it may reach the log. */
const sentAuthorizations: string[] = [];

function send(request: AuthRequest, requestId: string) {
  const headers: Record<string, string | string[]> = { requestid: requestId, activityid: randomUUID() };
  if (request.authorization !== undefined) {
    headers.authorization = request.authorization;
    sentAuthorizations.push(...[request.authorization].flat());
  }
  if (request.tenant !== undefined) headers['x-ms-client-tenant-id'] = request.tenant;
  return stack.get(jobPath(SEED), headers);
}

describe('accepted over HTTP', () => {
  it.each(ACCEPTED.map((c) => [c.name, c] as const))('%s', async (_name, authCase) => {
    const answer = await send(authCase.request(ctx), randomUUID());
    expect(answer.status).toBe(200);
    expect(answer.json.status).toMatch(/InProgress|Failed/);
  });
});

describe(`rejected over HTTP (${REJECTED.length} attacks)`, () => {
  it.each(REJECTED.map((c) => [c.name, c] as const))('%s', async (_name, authCase) => {
    const requestId = randomUUID();
    const answer = await send(authCase.request(ctx), requestId);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('SubjectAndAppToken1.0');
    expect(answer.json).toEqual({
      errorCode: 'AuthError',
      message: 'The request could not be authenticated.',
      source: 'External',
      isPermanent: false,
    });
    const lines = stack.logs.filter((l) => l.line.includes(requestId));
    expect(lines.some((l) => l.level === 'warning' && authCase.reason!.test(l.line))).toBe(true);
  });

  it('never writes a token, a signature or an Authorization header to the log', () => {
    // Runs after every accepted and rejected case of this file: the log of the whole run.
    expect(stack.logs.length).toBeGreaterThanOrEqual(ACCEPTED.length + REJECTED.length);
    expect(sentAuthorizations.length).toBeGreaterThanOrEqual(ACCEPTED.length + REJECTED.length - 2);
    const secrets = new Set(sentAuthorizations.flatMap(tokenSegments));
    expect(secrets.size).toBeGreaterThan(ACCEPTED.length + REJECTED.length);
    for (const { line } of stack.logs) {
      expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(line).not.toContain('SubjectAndAppToken1.0 subjectToken');
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });
});
