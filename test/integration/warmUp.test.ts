import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
    createDependencies(readConfig(backends.settings), { env: {}, warmUp: true, warn: (line) => warnings.push(line) });
    await vi.waitFor(() => expect(backends.jwks.requests).toBe(before + 1));
    // The warm-up read of a key no job uses finds no row, which is not a problem.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(warnings).toEqual([]);
  });

  it('says at start when the table cannot be read, without failing the start', async () => {
    const warnings: string[] = [];
    createDependencies(readConfig({ ...backends.settings, JOB_STATE_TABLE_NAME: 'NoSuchTable' }), { env: {}, warmUp: true, warn: (line) => warnings.push(line) });
    await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/^storage warm-up failed \(requests will retry\): .*NoSuchTable/));
  });

  it('does nothing at start without warmUp (tests count downloads from the first request)', async () => {
    const before = backends.jwks.requests;
    createDependencies(readConfig(backends.settings), { env: {} });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(backends.jwks.requests).toBe(before);
  });
});
