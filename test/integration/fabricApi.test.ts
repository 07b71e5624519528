/**
 * The Fabric REST client, for real: global fetch over loopback HTTPS to the
 * fake Fabric API (dev/fakeFabricApi.ts), which serves the development
 * certificate the worker trusts through NODE_EXTRA_CA_CERTS. Waits go through
 * a `sleep` that records them (one case waits for real). This file's process
 * runs under dev/loopbackOnly.ts: nothing may leave 127.0.0.0/8.
 */
import '../../dev/loopbackOnly';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { developmentTls } from '../../dev/devTls';
import { startFakeFabricApi, type FakeFabricApi, type FakeFabricItem } from '../../dev/fakeFabricApi';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { FabricApiError, fabricApi, type FabricApiOptions } from '../../src/clients/fabricApi';
import { delegatedToken, OBO_USER_OID } from '../fixtures/tokens';

const FABRIC_AUDIENCE = 'https://api.fabric.microsoft.com';
const WORKSPACE = inject('oneLakeWorkspaceId');
const ITEM: FakeFabricItem = {
  id: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  workspaceId: WORKSPACE,
  type: 'Contoso.FinanceAnalytics.Forecast',
  displayName: 'Forecast',
};
const itemPath = `/workspaces/${WORKSPACE}/items/${ITEM.id}`;

let issuer: TokenIssuer;
let fake: FakeFabricApi;
let issued: string[];
let waits: number[];

beforeAll(() => {
  issuer = new TokenIssuer();
  issuer.addKey();
});
beforeEach(async () => {
  fake = await startFakeFabricApi({ tls: developmentTls(inject('devTlsDir')), items: [ITEM] });
  issued = [];
  waits = [];
});
afterEach(() => fake.close());

/** A token source that records what it issued. */
const tokenOf =
  (make = () => delegatedToken(issuer, FABRIC_AUDIENCE, 'Item.ReadWrite.All')) =>
  async () => {
    const token = make();
    issued.push(token);
    return token;
  };

/** The client against the fake, waits recorded instead of waited. */
function client(options: Partial<FabricApiOptions> = {}) {
  return fabricApi({
    baseUrl: fake.baseUrl,
    token: tokenOf(),
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      waits.push(ms);
    },
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<FabricApiError> {
  const error = await promise.then(
    () => expect.fail('expected a FabricApiError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FabricApiError);
  return error as FabricApiError;
}

/** No token, nor any part of one, in anything the error shows. */
function expectNoToken(error: Error) {
  const everything = `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${String(error)}`;
  expect(issued.length).toBeGreaterThan(0);
  for (const token of issued) for (const part of token.split('.')) expect(everything).not.toContain(part);
  expect(everything).not.toContain('eyJ');
}

describe('the Fabric API client against the fake Fabric API', () => {
  it("gets an item with the user's token, recorded by the fake with the token's oid and never the token", async () => {
    expect(await client().get(itemPath)).toEqual(ITEM);
    expect(fake.requests).toEqual([{ method: 'GET', path: `/v1${itemPath}`, oid: OBO_USER_OID, status: 200 }]);
    expect(JSON.stringify(fake.requests)).not.toContain(issued[0]);
    expect(waits).toEqual([]);
  });

  it('posts a JSON body (201 with the created item) and deletes (an empty answer is undefined)', async () => {
    const api = client();
    const created = await api.post<FakeFabricItem>(`/workspaces/${WORKSPACE}/items`, {
      displayName: 'Second',
      type: ITEM.type,
    });
    expect(created).toMatchObject({ displayName: 'Second', type: ITEM.type, workspaceId: WORKSPACE });
    expect(await api.get(`/workspaces/${WORKSPACE}/items/${created.id}`)).toEqual(created);
    expect(await api.delete(`/workspaces/${WORKSPACE}/items/${created.id}`)).toBeUndefined();
    expect(fake.requests.map((r) => [r.method, r.status])).toEqual([
      ['POST', 201],
      ['GET', 200],
      ['DELETE', 200],
    ]);
  });

  it('retries 429 with Retry-After: 1 twice, waiting 1 s each time, and succeeds on the third call', async () => {
    fake.throttleNext(2, 1);
    expect(await client().get(itemPath)).toEqual(ITEM);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(waits).toEqual([1000, 1000]);
    expect(issued).toHaveLength(3); // a token asked before each attempt
  });

  it('waits for real with the default sleep (Retry-After: 1)', async () => {
    fake.throttleNext(1, 1);
    const started = performance.now();
    expect(await fabricApi({ baseUrl: fake.baseUrl, token: tokenOf() }).get(itemPath)).toEqual(ITEM);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('honours Retry-After as an HTTP date, and retries 503 like 429 (more than once)', async () => {
    fake.failNext(2, 503, new Date(Date.now() + 3000).toUTCString());
    expect(await client().get(itemPath)).toEqual(ITEM);
    expect(fake.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(waits).toHaveLength(2);
    for (const wait of waits) {
      expect(wait).toBeGreaterThan(1000);
      expect(wait).toBeLessThanOrEqual(3000);
    }
  });

  it('backs off from 1 s with jitter when a 429 has no Retry-After', async () => {
    fake.throttleNext(3);
    expect(await client().get(itemPath)).toEqual(ITEM);
    expect(waits).toHaveLength(3);
    [1000, 2000, 4000].forEach((base, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(base * 0.75);
      expect(waits[i]).toBeLessThanOrEqual(base * 1.25);
    });
  });

  it('fails at once, without waiting, on a Retry-After above maxRetryAfterSeconds', async () => {
    fake.throttleNext(1, 3600);
    const error = await failure(client().get(itemPath));
    expect(error).toMatchObject({ status: 429, errorCode: 'RequestBlocked', retryAfterSeconds: 3600 });
    expect(error.message).toContain('over the 60 s');
    expect(fake.requests).toHaveLength(1);
    expect(waits).toEqual([]);
    fake.throttleNext(1, 10);
    await failure(client({ maxRetryAfterSeconds: 5 }).get(itemPath));
    expect(waits).toEqual([]);
  });

  it('makes at most maxAttempts calls', async () => {
    fake.throttleNext(3, 0);
    const error = await failure(client({ maxAttempts: 3 }).get(itemPath));
    expect(error.status).toBe(429);
    expect(error.message).toContain('after 3 attempts');
    expect(fake.requests).toHaveLength(3);
    expect(waits).toEqual([0, 0]);

    fake.throttleNext(4, 0);
    await failure(client().get(itemPath)); // the default: 4
    expect(fake.requests).toHaveLength(3 + 4);
  });

  it('retries another 5xx once only', async () => {
    fake.failNext(2, 500);
    const error = await failure(client().get(itemPath));
    expect(error).toMatchObject({ status: 500, errorCode: 'ServiceUnavailable' });
    expect(fake.requests).toHaveLength(2);
    fake.failNext(1, 502);
    expect(await client().get(itemPath)).toEqual(ITEM);
  });

  it("never retries a 4xx, and reports Fabric's errorCode, message and requestId", async () => {
    const error = await failure(client().get(`/workspaces/${WORKSPACE}/items/${randomUUID()}`));
    expect(error).toMatchObject({ status: 404, errorCode: 'ItemNotFound', method: 'GET' });
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toContain('The requested item was not found.');
    expect(fake.requests).toHaveLength(1);
    expect(waits).toEqual([]);
    expectNoToken(error);
  });

  it('fails 401 on a token of another audience or an expired one, with no token in the error', async () => {
    const storageToken = tokenOf(() => delegatedToken(issuer, 'https://storage.azure.com', 'user_impersonation'));
    const wrong = await failure(client({ token: storageToken }).get(itemPath));
    expect(wrong).toMatchObject({ status: 401, errorCode: 'Unauthorized' });
    expectNoToken(wrong);
    const expiredToken = tokenOf(() => delegatedToken(issuer, FABRIC_AUDIENCE, 'Item.ReadWrite.All', {}, -60));
    const expired = await failure(client({ token: expiredToken }).get(itemPath));
    expect(expired).toMatchObject({ status: 401, errorCode: 'TokenExpired' });
    expectNoToken(expired);
    const notAJwt = await failure(client({ token: tokenOf(() => 'not-a-jwt') }).get(itemPath));
    expect(notAJwt).toMatchObject({ status: 401, errorCode: 'Unauthorized' });
    expect(notAJwt.message).not.toContain('not-a-jwt');
    expect(fake.requests).toHaveLength(3);
    await expect(client({ token: async () => '' }).get(itemPath)).rejects.toThrow(TypeError);
    expect(fake.requests).toHaveLength(3);
  });

  it('stops a wait when its signal aborts (the real sleep, Retry-After 30)', async () => {
    fake.throttleNext(1, 30);
    const controller = new AbortController();
    const api = fabricApi({ baseUrl: fake.baseUrl, token: tokenOf(), signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    await expect(api.get(itemPath)).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(fake.requests).toHaveLength(1);
  });

  it('stops a call in flight when its signal aborts, and makes none once aborted', async () => {
    fake.hangNext(1);
    const controller = new AbortController();
    const api = client({ signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await expect(api.get(itemPath)).rejects.toMatchObject({ name: 'AbortError' });
    const tokens = issued.length;
    await expect(api.get(itemPath)).rejects.toMatchObject({ name: 'AbortError' });
    expect(issued).toHaveLength(tokens); // not even a token asked
    expect(fake.requests).toHaveLength(1);
  });

  it('refuses a path that is not under the base URL before any call', async () => {
    const api = client();
    for (const path of [
      'workspaces',
      '',
      '//evil.example/v1/workspaces',
      'https://evil.example/v1',
      '/workspaces/../../admin',
      '/workspaces/%2e%2e/%2E%2E/admin',
      '/workspaces/./x',
      '/a\\b',
      '/a#b',
      '/a b',
      '/a\nb',
    ]) {
      await expect(api.get(path), path).rejects.toThrow(TypeError);
      await expect(api.post(path, {}), path).rejects.toThrow(TypeError);
    }
    expect(issued).toEqual([]);
    expect(fake.requests).toEqual([]);
  });
});
