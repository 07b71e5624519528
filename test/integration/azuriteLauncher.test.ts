import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { createTableClient } from '../../src/storage/tableClient';

const location = mkdtempSync(join(tmpdir(), 'azurite-data-'));
afterAll(() => rmSync(location, { recursive: true, force: true }));

describe("the development stack's Azurite (data on disk)", () => {
  /** Writes a row, stops Azurite the way `stopIt` does, starts it again on the same data and reads the row back. */
  async function writeStopAndRead(
    rowKey: string,
    stopIt: (azurite: RunningAzurite) => Promise<void>,
  ): Promise<unknown> {
    const first = await startAzurite({ location });
    const table = createTableClient({ kind: 'connectionString', connectionString: first.connectionString }, 'Kept');
    await table.createTable().catch(() => undefined); // there from the first case
    await table.createEntity({ partitionKey: 'p', rowKey, Written: 'just before the stop' });
    await stopIt(first); // at once: no time for a periodic save

    const second = await startAzurite({ location });
    try {
      const again = createTableClient({ kind: 'connectionString', connectionString: second.connectionString }, 'Kept');
      return (await again.getEntity('p', rowKey)).Written;
    } finally {
      await second.stop();
    }
  }

  it('keeps what was written just before it was stopped', async () => {
    expect(await writeStopAndRead('stopped', (azurite) => azurite.stop())).toBe('just before the stop');
  });

  it('keeps it too when Ctrl-C reached Azurite before npm start stopped it', async () => {
    const written = await writeStopAndRead('interrupted', async (azurite) => {
      const closing = new Promise((resolve) =>
        azurite.process.stdout!.on('data', (chunk: Buffer) => chunk.includes('is closing') && resolve(undefined)),
      );
      azurite.process.kill('SIGINT'); // the terminal's signal to the whole process group
      await closing;
      await azurite.stop();
    });
    expect(written).toBe('just before the stop');
  });
});
