import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { ACCEPTED, LOG_INJECTION_PAYLOAD, REJECTED, type AuthContext, type AuthRequest } from '../fixtures/authCases';
import { createAuthContext } from '../fixtures/authContext';
import { tokenSegments } from '../fixtures/hostileInput';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';
import { forge, rs256 } from '../fixtures/tokens';
import { parseSummaryLine } from '../../src/telemetry/summary';

/** Where a failure was found, then which check: a stable name an operator counts 401s by. */
const AUTH_RULE = /^(authorization|tenantHeader|appToken|subjectToken)\.[A-Za-z]+$/;

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
    const summaries = lines.map((l) => parseSummaryLine(l.line)).filter((s) => s !== undefined);
    expect(summaries).toEqual([
      expect.objectContaining({ event: 'RequestSummary', statusCode: 401, errorCode: 'AuthError', requestId }),
    ]);
    expect(summaries[0].authRule).toMatch(AUTH_RULE);
  });

  it('logs a token whose payload is CR LF text as one well-formed line holding none of that text', async () => {
    const key = ctx.issuer.keys[0];
    const token = forge({ alg: 'RS256', typ: 'JWT', kid: key.kid }, LOG_INJECTION_PAYLOAD, rs256(key.privateKey));
    const requestId = randomUUID();
    const answer = await send(
      { authorization: subjectAndAppHeader(ctx.subjectToken(), token), tenant: USER_TENANT },
      requestId,
    );
    expect(answer.status).toBe(401);
    const all = stack.logs.filter((l) => l.line.includes(requestId)).map((l) => l.line);
    expect(all.map(parseSummaryLine).filter(Boolean)).toEqual([
      expect.objectContaining({ authRule: 'appToken.payload' }),
    ]);
    const lines = all.filter((line) => !parseSummaryLine(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^authentication failed: app token: payload is not a JSON object \\[ActivityId=[0-9a-f-]{36} RequestId=${requestId}\\]$`,
      ),
    );
    for (const { line } of stack.logs) expect(line).not.toContain('2099 info X');
  });

  it('never writes a token, a signature or an Authorization header to the log', () => {
    // Runs after every accepted and rejected case of this file: the log of the whole run.
    expect(stack.logs.length).toBeGreaterThanOrEqual(ACCEPTED.length + REJECTED.length);
    expect(sentAuthorizations.length).toBeGreaterThanOrEqual(ACCEPTED.length + REJECTED.length - 2);
    const secrets = new Set(sentAuthorizations.flatMap(tokenSegments));
    expect(secrets.size).toBeGreaterThan(ACCEPTED.length + REJECTED.length);
    for (const { line } of stack.logs) {
      // One line each: nothing a caller sends may break a log line (CR, LF, or a Unicode line or paragraph separator).
      expect(line).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
      expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(line).not.toContain('SubjectAndAppToken1.0 subjectToken');
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });
});
