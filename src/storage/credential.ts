import type { TokenCredential } from '@azure/identity';
import { isRunningInAzure } from '../azureHost';

type Env = Record<string, string | undefined>;

/**
 * In Azure: ManagedIdentityCredential only, so a cold start never probes the
 * environment, workload identity, CLI and other credentials first.
 * Elsewhere (a developer's laptop pointed at a real account):
 * DefaultAzureCredential, which finds the Azure CLI login.
 * @azure/identity is loaded only here, keeping it off the connection-string path.
 */
export function createCredential(managedIdentityClientId: string | undefined, env: Env): TokenCredential {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const identity = require('@azure/identity') as typeof import('@azure/identity');
  if (isRunningInAzure(env)) {
    return managedIdentityClientId
      ? new identity.ManagedIdentityCredential({ clientId: managedIdentityClientId })
      : new identity.ManagedIdentityCredential();
  }
  return new identity.DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : undefined);
}
