import { describe, expect, it } from 'vitest';
import { AZURE_HOST_MARKERS, azureHostMarker, isRunningInAzure } from '../../src/azureHost';
import { createCredential } from '../../src/storage/credential';
import { assertOutsideAzure } from '../../dev/tokenIssuer';

// The source loads @azure/identity with require() (lazily); vitest's import gives the ESM build, so compare names.
const usesManagedIdentity = (env: Record<string, string>) =>
  createCredential(undefined, env).constructor.name === 'ManagedIdentityCredential';
const issuerRefuses = (env: Record<string, string>) => {
  try {
    assertOutsideAzure(env);
    return false;
  } catch {
    return true;
  }
};

/** Every combination of the markers and of look-alikes that are set outside Azure. */
const VARIABLES = [...AZURE_HOST_MARKERS, 'MSI_ENDPOINT', 'WEBSITE_HOSTNAME', 'AZURE_FUNCTIONS_ENVIRONMENT'];
const everyEnvironment = Array.from({ length: 2 ** VARIABLES.length }, (_, mask) =>
  Object.fromEntries(VARIABLES.filter((_, bit) => mask & (2 ** bit)).map((name) => [name, 'x'])),
);

describe('"inside Azure" has one answer', () => {
  it('the credential choice and the development issuer agree with isRunningInAzure in every combination', () => {
    for (const env of everyEnvironment) {
      const inside = isRunningInAzure(env);
      expect({ env, credential: usesManagedIdentity(env), issuer: issuerRefuses(env) }).toEqual({
        env,
        credential: inside,
        issuer: inside,
      });
    }
  });

  it('is inside on App Service, on Flex Consumption (no WEBSITE_INSTANCE_ID there) and with a managed identity endpoint', () => {
    expect(isRunningInAzure({ WEBSITE_INSTANCE_ID: 'abc', WEBSITE_SITE_NAME: 'func-x' })).toBe(true);
    expect(isRunningInAzure({ WEBSITE_SITE_NAME: 'func-x', CONTAINER_NAME: 'c' })).toBe(true);
    expect(isRunningInAzure({ IDENTITY_ENDPOINT: 'http://localhost:8081/msi/token' })).toBe(true);
  });

  it('is outside under Core Tools, in Azure Cloud Shell and on a bare machine', () => {
    expect(isRunningInAzure({ WEBSITE_HOSTNAME: 'localhost:7071', AZURE_FUNCTIONS_ENVIRONMENT: 'Development' })).toBe(
      false,
    );
    expect(isRunningInAzure({ MSI_ENDPOINT: 'http://localhost:50342/oauth2/token' })).toBe(false);
    expect(isRunningInAzure({ WEBSITE_SITE_NAME: '' })).toBe(false);
    expect(isRunningInAzure({})).toBe(false);
  });

  it("names the variable that decided, for the issuer's refusal", () => {
    expect(azureHostMarker({ WEBSITE_SITE_NAME: 'func-x' })).toBe('WEBSITE_SITE_NAME');
    expect(() => assertOutsideAzure({ IDENTITY_ENDPOINT: 'http://x' })).toThrow(
      'refuses to run inside Azure (IDENTITY_ENDPOINT is set)',
    );
  });
});
