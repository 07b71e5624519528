import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDependencies } from '../../src/app';
import { readConfig } from '../../src/config';
import { startBackends, type Backends } from '../fixtures/stack';

let backends: Backends;
beforeAll(async () => {
  backends = await startBackends();
});
afterAll(async () => {
  await backends?.jwks.close();
  await backends?.table.deleteTable();
});

describe('warm-up at start (what the Functions entry asks for)', () => {
  it('downloads the JWKS before any request, and storage answers the warm-up read quietly', async () => {
    const warnings: string[] = [];
    const before = backends.jwks.requests;
    const deps = createDependencies(readConfig(backends.settings), {
      env: {},
      warmUp: true,
      warn: (line) => warnings.push(line),
    });
    await deps.warmedUp;
    expect(backends.jwks.requests).toBe(before + 1);
    // The warm-up read of a key no job uses finds no row, which is not a problem.
    expect(warnings).toEqual([]);
  });

  it('says at start when the table cannot be read, without failing the start', async () => {
    const warnings: string[] = [];
    const deps = createDependencies(readConfig({ ...backends.settings, JOB_STATE_TABLE_NAME: 'NoSuchTable' }), {
      env: {},
      warmUp: true,
      warn: (line) => warnings.push(line),
    });
    await deps.warmedUp;
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^storage warm-up failed \(requests will retry\): .*NoSuchTable/);
  });

  it('does nothing at start without warmUp (tests count downloads from the first request)', async () => {
    const before = backends.jwks.requests;
    const deps = createDependencies(readConfig(backends.settings), { env: {} });
    await deps.warmedUp;
    // Long enough for a loopback download that should not happen to arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(backends.jwks.requests).toBe(before);
  });
});
