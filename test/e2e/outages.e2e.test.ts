import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { azuriteConnectionString, freeLoopbackPort } from '../../dev/azurite';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { contractValidator } from '../fixtures/contractSchema';
import { itemPath } from '../../src/http/itemPath';
import { jobPath, SEED, startStack, USER_TENANT, type TestStack } from '../fixtures/stack';

const isErrorResponse = contractValidator('ErrorResponse');

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('signing keys over HTTP', () => {
  it('accepts tokens of a key rotated in after start, with one extra JWKS download', async () => {
    stack = await startStack();
    await stack.seed();
    expect((await stack.get(jobPath(SEED), stack.headers())).status).toBe(200);
    expect(stack.jwks.requests).toBe(1);

    const newKey = stack.issuer.addKey();
    stack.issuer.removeKey(stack.issuer.keys[0].kid);
    expect(stack.issuer.keys[0]).toBe(newKey);
    const answer = await stack.get(jobPath(SEED), stack.headers());
    expect(answer.status).toBe(200);
    expect(answer.json.status).toBe('InProgress');
    expect(stack.jwks.requests).toBe(2);
  });

  it('does not turn a flood of unknown kids into a flood of JWKS downloads', async () => {
    stack = await startStack();
    await stack.seed();
    await stack.get(jobPath(SEED), stack.headers());
    const before = stack.jwks.requests;
    const rogue = new TokenIssuer().addKey();
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => {
        const appToken = stack!.issuer.sign(stack!.tokens.appClaims(), { ...rogue, kid: randomUUID() });
        const headers = {
          ...stack!.headers(),
          authorization: subjectAndAppHeader(stack!.tokens.subjectToken(), appToken),
        };
        return stack!.get(jobPath(SEED), headers);
      }),
    );
    expect(answers.every((a) => a.status === 401)).toBe(true);
    expect(stack.jwks.requests - before).toBeLessThanOrEqual(1);
  });

  it('answers 503 SigningKeysUnavailable with Retry-After when no key can be had', async () => {
    stack = await startStack();
    stack.jwks.behaviour = 'fail';
    const answer = await stack.get(jobPath(SEED), stack.headers());
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    expect(answer.json).toMatchObject({ errorCode: 'SigningKeysUnavailable', source: 'System', isPermanent: false });
    expect(isErrorResponse(answer.json)).toBe(true);
  });

  it('keeps answering with cached keys when the JWKS endpoint goes down', async () => {
    stack = await startStack();
    await stack.seed();
    await stack.get(jobPath(SEED), stack.headers());
    stack.jwks.behaviour = 'fail';
    const answer = await stack.get(jobPath(SEED), stack.headers());
    expect(answer.status).toBe(200);
  });
});

describe('table storage over HTTP', () => {
  it('answers 503 StorageUnavailable with Retry-After when storage is unreachable', async () => {
    const deadPort = await freeLoopbackPort();
    stack = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(deadPort) });
    const answer = await stack.get(jobPath(SEED), stack.headers());
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    expect(answer.json).toMatchObject({ errorCode: 'StorageUnavailable', source: 'System', isPermanent: false });
    expect(isErrorResponse(answer.json)).toBe(true);
    expect(answer.text).not.toMatch(/ECONNREFUSED|at .*\.js/);
  });

  it.each([
    [
      'storage is unreachable',
      async () => ({ JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(await freeLoopbackPort()) }),
    ],
    [
      'the items table does not exist (never read as a missing item)',
      async () => ({ ITEMS_TABLE_NAME: 'NoSuchItemsTable' }),
    ],
  ])('answers every item operation 503 StorageUnavailable when %s', async (_name, settings) => {
    stack = await startStack(await settings(), { queues: false });
    const path = itemPath({ workspaceId: SEED.workspaceId, itemType: SEED.itemType, itemId: randomUUID() });
    const answers = [
      await stack.send('POST', path, { displayName: 'x' }, stack.headers()),
      await stack.send('PATCH', path, { displayName: 'y' }, stack.headers()),
      await stack.get(`${path}/payload`, stack.headers()),
      await stack.send('DELETE', path, undefined, stack.headers()),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toMatch(/^\d+$/);
      expect(answer.json).toMatchObject({ errorCode: 'StorageUnavailable', source: 'System', isPermanent: false });
      expect(isErrorResponse(answer.json)).toBe(true);
    }
  });

  it('authenticates before it reads: a bad token never reaches storage', async () => {
    const deadPort = await freeLoopbackPort();
    stack = await startStack({ JOB_STATE_TABLE_CONNECTION_STRING: azuriteConnectionString(deadPort) });
    const answer = await stack.get(jobPath(SEED), {
      ...stack.headers(),
      'x-ms-client-tenant-id': USER_TENANT.replace('c', 'd'),
    });
    expect(answer.status).toBe(401);
  });
});
