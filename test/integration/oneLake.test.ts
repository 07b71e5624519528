/**
 * The OneLake client, for real: @azure/storage-blob against OneLake's
 * stand-in (Azurite's Blob service over HTTPS with OAuth, started by the
 * global setup), with storage-audience tokens the test issuer signs. The
 * worker trusts the stand-in's certificate through NODE_EXTRA_CA_CERTS alone.
 * This file's process runs under dev/loopbackOnly.ts: nothing may leave
 * 127.0.0.0/8.
 */
import '../../dev/loopbackOnly';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createOneLakeWorkspace } from '../../dev/azurite';
import { TokenIssuer } from '../../dev/tokenIssuer';
import {
  DEFAULT_ONELAKE_ENDPOINT,
  ONELAKE_SCOPE,
  OneLakeError,
  oneLakeFolder,
  type OneLakeFolder,
  type TokenSource,
} from '../../src/clients/oneLake';
import { delegatedToken } from '../fixtures/tokens';

const STORAGE_AUDIENCE = 'https://storage.azure.com';
const endpoint = inject('oneLakeEndpoint');
const workspaceId = inject('oneLakeWorkspaceId');
let issuer: TokenIssuer;

beforeAll(() => {
  issuer = new TokenIssuer();
  issuer.addKey();
});

/** A token source that records each request's scopes and answers `make()`'s token. */
function source(make = () => delegatedToken(issuer, STORAGE_AUDIENCE, 'user_impersonation')) {
  const asked: (readonly string[])[] = [];
  const issued: string[] = [];
  const token: TokenSource = async (scopes) => {
    asked.push(scopes);
    const value = make();
    issued.push(value);
    return value;
  };
  return { token, asked, issued };
}

function folder(token: TokenSource, itemId = randomUUID(), signal?: AbortSignal): OneLakeFolder {
  return oneLakeFolder({ endpoint, workspaceId, itemId, token, signal });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('a OneLake folder against the stand-in', () => {
  it('writes, reads, lists and deletes files under Files/, asking the storage scope for each call', async () => {
    const { token, asked } = source();
    const itemId = randomUUID();
    const item = folder(token, itemId);
    expect(item.url).toBe(`${endpoint}/${workspaceId}/${itemId}`);

    await item.writeText('Files/notes/hello.txt', 'héllo, OneLake');
    await item.writeJson('Files/forecasts/63f77191.json', { status: 'Completed', values: [1, 2.5] });
    expect(await item.readText('Files/notes/hello.txt')).toBe('héllo, OneLake');
    expect(await item.readJson('Files/forecasts/63f77191.json')).toEqual({ status: 'Completed', values: [1, 2.5] });
    await item.writeText('Files/notes/hello.txt', 'replaced');
    expect(await item.readText('Files/notes/hello.txt')).toBe('replaced');

    expect(await item.list()).toEqual(['Files/forecasts/63f77191.json', 'Files/notes/hello.txt']);
    expect(await item.list('Files/forecasts/')).toEqual(['Files/forecasts/63f77191.json']);
    expect(await item.list('Tables/')).toEqual([]);

    expect(await item.delete('Files/notes/hello.txt')).toBe(true);
    expect(await item.delete('Files/notes/hello.txt')).toBe(false);
    expect(await item.readText('Files/notes/hello.txt')).toBeUndefined();
    expect(await item.list()).toEqual(['Files/forecasts/63f77191.json']);

    expect(asked.length).toBeGreaterThanOrEqual(10);
    expect(asked.every((scopes) => scopes.length === 1 && scopes[0] === ONELAKE_SCOPE)).toBe(true);
  });

  it('stores what it writes as the SDK sees it: the blob {itemId}/Files/… in the workspace container, with its content type', async () => {
    const itemId = randomUUID();
    const item = folder(source().token, itemId);
    await item.writeJson('Files/a.json', [1]);
    await item.writeText('Files/page.html', '<p>hi</p>', 'text/html');
    const container = item.container();
    expect(container.containerName).toBe(workspaceId);
    expect((await container.getBlobClient(`${itemId}/Files/a.json`).getProperties()).contentType).toBe(
      'application/json',
    );
    expect((await container.getBlobClient(`${itemId}/Files/page.html`).getProperties()).contentType).toBe('text/html');
  });

  it('leaves out of a listing the folder markers OneLake lists as blobs (metadata hdi_isfolder=true)', async () => {
    const itemId = randomUUID();
    const item = folder(source().token, itemId);
    await item.writeText('Files/forecasts/a.json', '{}');
    for (const marker of ['Files', 'Files/forecasts']) {
      await item
        .container()
        .getBlockBlobClient(`${itemId}/${marker}`)
        .upload('', 0, { metadata: { hdi_isfolder: 'true' } });
    }
    expect(await item.list()).toEqual(['Files/forecasts/a.json']);
  });

  it("lists one item's files only, never a neighbour's", async () => {
    const { token } = source();
    const one = folder(token);
    const other = folder(token);
    await one.writeText('Files/x.txt', '1');
    await other.writeText('Files/y.txt', '2');
    expect(await one.list()).toEqual(['Files/x.txt']);
    expect(await other.list('Files/')).toEqual(['Files/y.txt']);
  });

  it('reads a missing file as undefined, in a folder with files and in one without', async () => {
    const item = folder(source().token);
    expect(await item.readText('Files/nothing.txt')).toBeUndefined();
    expect(await item.readJson('Files/nothing.json')).toBeUndefined();
    await item.writeText('Files/something.txt', 'x');
    expect(await item.readText('Files/something.txt.bak')).toBeUndefined();
  });

  it('fails on a workspace that does not exist (404 ContainerNotFound), even for a read, and works once it is created', async () => {
    const missingWorkspace = randomUUID();
    const item = oneLakeFolder({
      endpoint,
      workspaceId: missingWorkspace,
      itemId: randomUUID(),
      token: source().token,
    });
    const error = await rejection(item.readText('Files/x.txt'));
    expect(error).toBeInstanceOf(OneLakeError);
    expect(error).toMatchObject({ operation: 'read', path: 'Files/x.txt', status: 404, code: 'ContainerNotFound' });
    await createOneLakeWorkspace(inject('oneLakeConnectionString'), missingWorkspace);
    await item.writeText('Files/x.txt', 'now');
    expect(await item.readText('Files/x.txt')).toBe('now');
  });

  it('refuses bad paths with a TypeError before any call (the token source is never asked)', async () => {
    const { token, asked } = source();
    const item = folder(token);
    const bad = [
      '',
      'Files',
      'Files/',
      '/Files/x',
      'Other/x',
      'files/x',
      'Files//x',
      'Files/./x',
      'Files/../Tables/x',
      'Files/a/..',
      '../Files/x',
      'Files\\x',
      'Files/a\u0000b',
      'Files/a\nb',
      `Files/${'x'.repeat(1019)}`,
      'Files/\ud800',
    ];
    for (const path of bad) {
      await expect(item.writeText(path, 'x'), path).rejects.toThrow(TypeError);
      await expect(item.writeJson(path, {}), path).rejects.toThrow(TypeError);
      await expect(item.readText(path), path).rejects.toThrow(TypeError);
      await expect(item.readJson(path), path).rejects.toThrow(TypeError);
      await expect(item.delete(path), path).rejects.toThrow(TypeError);
    }
    for (const prefix of ['', '/Files', 'Files//', '../', 'Files/../', 'Other/']) {
      await expect(item.list(prefix), prefix).rejects.toThrow(TypeError);
    }
    expect(asked).toEqual([]);
    // The longest good path is fine (1024 characters), and a listing's prefix may end in "/" or not.
    await item.writeText(`Files/${'x'.repeat(1018)}`, 'long');
    expect(await item.list('Files/xxx')).toEqual([`Files/${'x'.repeat(1018)}`]);
    expect(asked.length).toBeGreaterThan(0);
  });

  it('fails with a OneLakeError on an expired token (Azurite: 403 AuthenticationFailed), the token nowhere in it', async () => {
    const { token, issued } = source(() => delegatedToken(issuer, STORAGE_AUDIENCE, 'user_impersonation', {}, -120));
    const item = folder(token);
    for (const attempt of [
      () => item.writeText('Files/x.txt', 'x'),
      () => item.readText('Files/x.txt'),
      () => item.list(),
    ]) {
      const error = await rejection(attempt());
      expect(error).toBeInstanceOf(OneLakeError);
      const failure = error as OneLakeError;
      expect([401, 403]).toContain(failure.status);
      expect(failure.code).toBe('AuthenticationFailed');
      expect(failure.message).toContain('The token is expired');
      expect(failure.requestId).toMatch(/^[0-9a-f-]{36}$/);
      const everything = `${failure.message}\n${failure.stack}\n${JSON.stringify(failure)}\n${String(failure)}`;
      for (const issuedToken of issued) {
        for (const part of issuedToken.split('.')) expect(everything).not.toContain(part);
      }
      expect(everything).not.toMatch(/eyJ/);
    }
  });

  it("fails with a OneLakeError on a token of another audience (the stand-in's check)", async () => {
    const item = folder(
      source(() => delegatedToken(issuer, 'https://api.fabric.microsoft.com', 'Item.ReadWrite.All')).token,
    );
    const error = await rejection(item.readText('Files/x.txt'));
    expect(error).toMatchObject({ name: 'OneLakeError', status: 403, code: 'AuthenticationFailed' });
    expect((error as Error).message).toContain('Invalid token audience');
  });

  it("passes the token source's own failure through unchanged (consent, an expired user assertion)", async () => {
    class ConsentRequired extends Error {}
    const item = folder(async () => {
      throw new ConsentRequired('consent required');
    });
    await expect(item.writeText('Files/x.txt', 'x')).rejects.toBeInstanceOf(ConsentRequired);
    await expect(item.readText('Files/x.txt')).rejects.toBeInstanceOf(ConsentRequired);
  });

  it('stops when its signal aborts: no call once aborted, and a call in flight ends', async () => {
    const { token, asked } = source();
    const controller = new AbortController();
    const item = folder(token, randomUUID(), controller.signal);
    await item.writeText('Files/x.txt', 'before');
    const calls = asked.length;
    controller.abort();
    await expect(item.readText('Files/x.txt')).rejects.toMatchObject({ name: 'AbortError' });
    await expect(item.list()).rejects.toMatchObject({ name: 'AbortError' });
    expect(asked.length).toBe(calls);

    const slow = new AbortController();
    const stalled = folder(
      async () => {
        slow.abort(); // the abort arrives while the call is under way
        return delegatedToken(issuer, STORAGE_AUDIENCE, 'user_impersonation');
      },
      randomUUID(),
      slow.signal,
    );
    await expect(stalled.writeText('Files/y.txt', 'x')).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('checks its endpoint and ids when made: https, a path only on loopback, GUIDs', () => {
    const token = source().token;
    const make = (overrides: Partial<Parameters<typeof oneLakeFolder>[0]>) => () =>
      oneLakeFolder({ endpoint: DEFAULT_ONELAKE_ENDPOINT, workspaceId, itemId: randomUUID(), token, ...overrides });
    expect(make({})().url).toMatch(/^https:\/\/onelake\.blob\.fabric\.microsoft\.com\/e5ef604d-/);
    expect(
      make({ endpoint: `${DEFAULT_ONELAKE_ENDPOINT}/` })().url.startsWith(`${DEFAULT_ONELAKE_ENDPOINT}/e5ef`),
    ).toBe(true);
    expect(make({ itemId: 'B14CB7E7-D346-4751-9CFD-8C2767D53111' })().url).toMatch(
      /b14cb7e7-d346-4751-9cfd-8c2767d53111$/,
    );
    for (const endpointValue of [
      'http://onelake.blob.fabric.microsoft.com',
      'http://127.0.0.1:10000/onelake',
      'https://onelake.blob.fabric.microsoft.com/other',
      'https://onelake.blob.fabric.microsoft.com/?sig=x',
      'https://user:pass@onelake.blob.fabric.microsoft.com',
      'onelake.blob.fabric.microsoft.com',
    ]) {
      expect(make({ endpoint: endpointValue }), endpointValue).toThrow(TypeError);
    }
    expect(make({ workspaceId: 'My Workspace' })).toThrow(TypeError);
    expect(make({ itemId: '../x' })).toThrow(TypeError);
  });
});
