import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_HOST_PROGRAM } from '../../dev/localHost';
import { OPERATIONS } from '../../src/functions/catalog';
import type { JwksServer, TokenIssuer } from '../../dev/tokenIssuer';
import { toJobEntity } from '../../src/jobs/jobRow';
import { get } from '../fixtures/http';
import { startHostProcess } from '../fixtures/hostProcess';
import { jobPath, SEED, SEED_RECORD, startBackends, USER_TENANT } from '../fixtures/stack';
import { tokenFactory } from '../fixtures/tokens';

/** These tests run the compiled output, as `npm run host` and `func start` do; `npm test` builds first. */
const ROOT = join(__dirname, '..', '..');
const HOST_ENTRY = LOCAL_HOST_PROGRAM;
const BUNDLE_DIR = join(ROOT, 'dist', 'app');

let issuer: TokenIssuer;
let jwks: JwksServer;
let table: TableClient;
let settings: Record<string, string>;
beforeAll(async () => {
  if (!existsSync(HOST_ENTRY)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  ({ issuer, jwks, table, settings } = await startBackends());
  await table.createEntity(toJobEntity(SEED_RECORD));
});
afterAll(async () => {
  await jwks?.close();
  await table?.deleteTable();
});

/** The parent's environment minus anything that could configure the app by accident. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

describe('npm run host (the local host serving the bundle)', () => {
  it('serves the seed example on $HOST:$PORT and stops cleanly on SIGTERM', async () => {
    const host = await startHostProcess(settings);
    try {
      const line = host
        .output()
        .split('\n')
        .find((l) => l.includes('listening on'));
      expect(line).toContain(`http://127.0.0.1:${host.port}/api`);
      const tokens = tokenFactory(issuer);
      const answer = await get(`${host.baseUrl}${jobPath(SEED)}`, {
        authorization: tokens.header(),
        'x-ms-client-tenant-id': USER_TENANT,
      });
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
    const result = spawnSync(process.execPath, [HOST_ENTRY], {
      env: cleanEnv({ ...settings, PORT: String(port) }),
      encoding: 'utf8',
    });
    blocker.close();
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `The local host cannot listen on 127.0.0.1:${port}: the port is in use (set PORT to another)`,
    );
  });

  it('refuses to start with bad settings, naming every problem', () => {
    const result = spawnSync(process.execPath, [HOST_ENTRY], {
      env: cleanEnv({ PUBLISHER_TENANT_ID: 'nope' }),
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PUBLISHER_TENANT_ID must be a GUID');
    expect(result.stderr).toContain('WORKLOAD_CLIENT_ID is required');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the Functions entry point (the bundle)', () => {
  it("is package.json's main and registers every operation of the catalog and the two queue functions", () => {
    const main: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).main;
    expect(main).toBe('dist/app/main.js');
    const result = load(
      BUNDLE_DIR,
      settings,
      `console.log(JSON.stringify([m.routes.map((r) => r.name), m.queueFunctions.map((q) => q.queueName)]))`,
    );
    expect(result.status).toBe(0);
    const [routes, queues] = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(routes).toEqual(
      OPERATIONS.map((declare) => declare({ config: { itemDefinitionMaxBytes: 4194304 } } as never).name),
    );
    expect(queues).toEqual([settings.JOB_QUEUE_NAME, `${settings.JOB_QUEUE_NAME}-poison`]);
  });

  it('needs no node_modules: a copy outside the project loads with good settings and fails at load with bad ones', () => {
    const copy = mkdtempSync(join(tmpdir(), 'bundle-'));
    try {
      cpSync(BUNDLE_DIR, copy, { recursive: true });
      expect(load(copy, settings).status).toBe(0);
      const bad = load(copy, { ...settings, WORKLOAD_AUDIENCE: '' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('WORKLOAD_AUDIENCE is required');
      // The managed-identity path loads @azure/identity from the sibling identity.js.
      const identity = load(copy, {
        ...settings,
        JOB_STATE_TABLE_CONNECTION_STRING: '',
        JOB_STATE_TABLE_ENDPOINT: 'https://example.table.core.windows.net',
      });
      expect(identity.stderr).not.toContain('Cannot find module');
      expect(identity.status).toBe(0);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

/** Requires dir/main.js in a fresh process (as `m`), runs `then`, and exits without waiting for the warm-up. */
function load(dir: string, env: Record<string, string>, then = '') {
  const script = `const m = require(${JSON.stringify(join(dir, 'main.js'))}); ${then}; process.exit(0)`;
  return spawnSync(process.execPath, ['-e', script], { env: cleanEnv(env), encoding: 'utf8', cwd: dir });
}
