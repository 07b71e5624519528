import { describe, expect, it } from 'vitest';
import { createCredential } from '../../../src/storage/credential';
import { createTableClient, isLoopbackConnectionString } from '../../../src/storage/tableClient';

describe('isLoopbackConnectionString', () => {
  it.each([
    ['UseDevelopmentStorage=true', true],
    [
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;',
      true,
    ],
    ['DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;TableEndpoint=http://localhost:10002/a', true],
    ['DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net', false],
    ['DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;TableEndpoint=http://10.0.0.5:10002/a', false],
  ])('%s -> %s', (connectionString, expected) => {
    expect(isLoopbackConnectionString(connectionString)).toBe(expected);
  });
});

describe('credential choice', () => {
  // The source loads @azure/identity with require() (lazily); vitest's import gives the ESM build, so compare names.
  const kind = (credential: object) => credential.constructor.name;

  it('uses managed identity alone inside Azure, so nothing else is probed at a cold start', () => {
    expect(kind(createCredential(undefined, { WEBSITE_INSTANCE_ID: 'abc' }))).toBe('ManagedIdentityCredential');
    expect(kind(createCredential('0f0f0f0f-0000-4000-8000-000000000001', { WEBSITE_INSTANCE_ID: 'abc' }))).toBe(
      'ManagedIdentityCredential',
    );
  });

  it('uses the developer chain (Azure CLI and friends) outside Azure', () => {
    expect(kind(createCredential(undefined, {}))).toBe('DefaultAzureCredential');
  });

  it('builds an endpoint client without contacting anything', () => {
    const client = createTableClient(
      { kind: 'endpoint', endpoint: 'https://acct.table.core.windows.net' },
      'JobInstances',
      { WEBSITE_INSTANCE_ID: 'x' },
    );
    expect(client.url).toBe('https://acct.table.core.windows.net');
    expect(client.tableName).toBe('JobInstances');
  });
});
