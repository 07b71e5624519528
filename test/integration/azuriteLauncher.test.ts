import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createOneLakeWorkspace, startAzurite, startOneLakeStandIn, type RunningAzurite } from '../../dev/azurite';
import { developmentTls } from '../../dev/devTls';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { oneLakeFolder } from '../../src/clients/oneLake';
import { createTableClient } from '../../src/storage/tableClient';
import { delegatedToken } from '../fixtures/tokens';

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

describe("OneLake's stand-in with its data on disk (npm start)", () => {
  it('keeps the files written with a token across a restart, whatever account key each start has', async () => {
    const tls = developmentTls(inject('devTlsDir'));
    const issuer = new TokenIssuer();
    issuer.addKey();
    const token = async () => delegatedToken(issuer, 'https://storage.azure.com', 'user_impersonation');
    const workspaceId = randomUUID();
    const itemId = randomUUID();
    const oneLakeData = join(location, 'onelake');

    const first = await startOneLakeStandIn({ tls, location: oneLakeData });
    try {
      await createOneLakeWorkspace(first.connectionString, workspaceId);
      await oneLakeFolder({ endpoint: first.endpoint, workspaceId, itemId, token }).writeText('Files/kept.txt', 'kept');
    } finally {
      await first.stop();
    }
    const second = await startOneLakeStandIn({ tls, location: oneLakeData });
    try {
      expect(second.accountKey).not.toBe(first.accountKey);
      const folder = oneLakeFolder({ endpoint: second.endpoint, workspaceId, itemId, token });
      expect(await folder.readText('Files/kept.txt')).toBe('kept');
    } finally {
      await second.stop();
    }
  });
});
