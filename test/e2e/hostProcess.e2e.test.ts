import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JwksServer, TokenIssuer } from '../../dev/tokenIssuer';
import { toJobEntity } from '../../src/jobs/jobRow';
import { assertBuilt, cleanEnv, HOST_ENTRY, ROOT, startHostProcess } from '../fixtures/hostProcess';
import { get } from '../fixtures/http';
import { jobPath, SEED, SEED_RECORD, startBackends, USER_TENANT } from '../fixtures/stack';
import { tokenFactory } from '../fixtures/tokens';

/** These tests run the compiled output, as `npm run host` and `func start` do; `npm test` builds first. */
const FUNCTION_ENTRY = join(ROOT, 'dist', 'src', 'functions', 'getItemJobInstanceState.js');

let issuer: TokenIssuer;
let jwks: JwksServer;
let table: TableClient;
let settings: Record<string, string>;
beforeAll(async () => {
  assertBuilt();
  ({ issuer, jwks, table, settings } = await startBackends());
  await table.createEntity(toJobEntity(SEED_RECORD));
});
afterAll(async () => {
  await jwks?.close();
  await table?.deleteTable();
});

describe('npm run host (the compiled local host)', () => {
  it('serves the seed example on $HOST:$PORT and stops cleanly on SIGTERM', async () => {
    const host = await startHostProcess(settings);
    try {
      expect(host.output()).toContain(`listening on http://127.0.0.1:${host.port}/api`);
      const tokens = tokenFactory(issuer);
      const answer = await get(`${host.baseUrl}${jobPath(SEED)}`, { authorization: tokens.header(), 'x-ms-client-tenant-id': USER_TENANT });
      expect(answer.status).toBe(200);
      expect(answer.text).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
    } finally {
      expect(await host.stop()).toBe(0);
    }
  });

  it('says in one line when its port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const result = spawnSync(process.execPath, [HOST_ENTRY], { env: cleanEnv({ ...settings, PORT: String(port) }), encoding: 'utf8' });
    blocker.close();
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(`The local host cannot listen on 127.0.0.1:${port}: the port is in use (set PORT to another)`);
  });

  it('refuses to start with bad settings, naming every problem', () => {
    const result = spawnSync(process.execPath, [HOST_ENTRY], { env: cleanEnv({ PUBLISHER_TENANT_ID: 'nope' }), encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PUBLISHER_TENANT_ID must be a GUID');
    expect(result.stderr).toContain('WORKLOAD_CLIENT_ID is required');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the Functions entry point', () => {
  it("is what package.json's main glob names", () => {
    const main: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).main;
    expect(main).toBe('dist/src/functions/*.js');
    const compiled = readdirSync(join(ROOT, 'dist', 'src', 'functions')).filter((f) => f.endsWith('.js'));
    const sources = readdirSync(join(ROOT, 'src', 'functions')).filter((f) => f.endsWith('.ts'));
    expect(compiled.sort()).toEqual(sources.map((f) => f.replace(/\.ts$/, '.js')).sort());
  });

  it('loads with good settings and fails at load with bad ones', () => {
    const load = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['-e', `require(${JSON.stringify(FUNCTION_ENTRY)})`], { env: cleanEnv(env), encoding: 'utf8' });
    expect(load(settings).status).toBe(0);
    const bad = load({ ...settings, WORKLOAD_AUDIENCE: '' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('WORKLOAD_AUDIENCE is required');
  });
});
