import { describe, expect, it } from 'vitest';
import { EndpointResolver } from '../../../src/endpoints/endpointResolver';
import { EndpointResolutionNotConfiguredError } from '../../../src/fabric/errors';

describe('EndpointResolver', () => {
  const resolver = new EndpointResolver({
    default: 'https://be.contoso.com/api',
    westeurope: 'https://weu.contoso.com/api',
  });

  it('takes the workspace region, then the tenant region, then the default, names compared without case or spaces', () => {
    expect(resolver.resolve({ WorkspaceRegion: 'West Europe', TenantRegion: 'eastus' }).url).toBe(
      'https://weu.contoso.com/api',
    );
    expect(resolver.resolve({ WorkspaceRegion: 'eastus', TenantRegion: 'westeurope' }).url).toBe(
      'https://weu.contoso.com/api',
    );
    expect(resolver.resolve({ WorkspaceRegion: 'eastus' }).url).toBe('https://be.contoso.com/api');
  });

  it.each(['constructor', 'Constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'treats %s as an unknown region, never as a property of Object',
    (region) => {
      expect(resolver.resolve({ WorkspaceRegion: region, TenantRegion: region })).toEqual({
        url: 'https://be.contoso.com/api',
        ttlInMinutes: 60,
        matched: 'default',
      });
      expect(() => new EndpointResolver({}).resolve({ WorkspaceRegion: region })).toThrow(
        EndpointResolutionNotConfiguredError,
      );
    },
  );
});
