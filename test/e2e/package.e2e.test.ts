import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFunctionsEntry, startLocalHost } from '../../dev/localHost';
import { writePackage } from '../../dev/package';
import { toJobEntity } from '../../src/jobs/jobRow';
import { get } from '../fixtures/http';
import { jobPath, SEED, SEED_RECORD, startBackends, USER_TENANT, type Backends } from '../fixtures/stack';
import { tokenFactory } from '../fixtures/tokens';

/** `npm run package` as a function: npm test has built dist/ first. */
let work: string;
let files: Record<string, Uint8Array>;
let reported: { bytes: number; files: string[] };
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'package-'));
  const result = writePackage(join(work, 'function-app.zip'));
  reported = result;
  files = unzipSync(new Uint8Array(require('node:fs').readFileSync(result.out)));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the deployment package', () => {
  it('holds host.json, a package.json whose main is in the zip, and the bundle; nothing else', () => {
    const names = Object.keys(files).sort();
    expect(names).toEqual(reported.files.slice().sort());
    const manifest = JSON.parse(Buffer.from(files['package.json']).toString('utf8'));
    expect(manifest.main).toBe('dist/app/main.js');
    expect(names).toContain(manifest.main);
    expect(names).toContain('host.json');
    expect(manifest.dependencies).toBeUndefined();
    expect(names).toContain('dist/app/THIRD-PARTY-NOTICES.txt');
    for (const name of names) {
      expect(name).toMatch(/^(host\.json|package\.json|dist\/app\/([\w.-]+\.js|THIRD-PARTY-NOTICES\.txt))$/);
      expect(name).not.toMatch(/(^|\/)(test|src|dev|node_modules)\/|\.ts$|\.map$|local\.settings/);
    }
    expect(reported.bytes).toBeGreaterThan(0);
  });

  describe('unzipped on its own, away from the project', () => {
    let backends: Backends;
    beforeAll(async () => {
      backends = await startBackends();
      await backends.table.createEntity(toJobEntity(SEED_RECORD));
      const site = join(work, 'site');
      for (const [name, data] of Object.entries(files)) {
        mkdirSync(dirname(join(site, name)), { recursive: true });
        writeFileSync(join(site, name), data);
      }
      Object.assign(process.env, backends.settings);
    });
    afterAll(async () => {
      for (const name of Object.keys(backends?.settings ?? {})) delete process.env[name];
      await backends?.jwks.close();
      await backends?.table.deleteTable();
    });

    it('answers the seed example through the local host', async () => {
      const functions = loadFunctionsEntry(join(work, 'site', 'dist', 'app', 'main.js'));
      const host = await startLocalHost({ functions, port: 0, log: () => undefined });
      try {
        const answer = await get(`${host.baseUrl}${jobPath(SEED)}`, {
          authorization: tokenFactory(backends.issuer).header(),
          'x-ms-client-tenant-id': USER_TENANT,
        });
        expect(answer.status).toBe(200);
        expect(answer.text).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
      } finally {
        await host.close();
      }
    });
  });
});
