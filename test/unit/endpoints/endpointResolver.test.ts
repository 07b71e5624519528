import { describe, expect, it } from 'vitest';
import { EndpointResolver } from '../../../src/endpoints/endpointResolver';
import { EndpointResolutionNotConfiguredError } from '../../../src/fabric/errors';

const REQUEST_URL = 'http://127.0.0.1:7071/api/resolve-endpoint';

describe('EndpointResolver', () => {
  const resolver = new EndpointResolver({
    default: 'https://be.contoso.com/api',
    westeurope: 'https://weu.contoso.com/api',
  });

  it('takes the workspace region, then the tenant region, then the default, names compared without case or spaces', () => {
    expect(resolver.resolve({ WorkspaceRegion: 'West Europe', TenantRegion: 'eastus' }, REQUEST_URL).url).toBe(
      'https://weu.contoso.com/api',
    );
    expect(resolver.resolve({ WorkspaceRegion: 'eastus', TenantRegion: 'westeurope' }, REQUEST_URL).url).toBe(
      'https://weu.contoso.com/api',
    );
    expect(resolver.resolve({ WorkspaceRegion: 'eastus' }, REQUEST_URL).url).toBe('https://be.contoso.com/api');
  });

  it.each(['constructor', 'Constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'treats %s as an unknown region, never as a property of Object',
    (region) => {
      expect(resolver.resolve({ WorkspaceRegion: region, TenantRegion: region }, REQUEST_URL)).toEqual({
        url: 'https://be.contoso.com/api',
        ttlInMinutes: 60,
        matched: 'default',
      });
      expect(() =>
        new EndpointResolver({ westeurope: 'https://weu.contoso.com/api' }).resolve(
          { WorkspaceRegion: region },
          REQUEST_URL,
        ),
      ).toThrow(EndpointResolutionNotConfiguredError);
    },
  );

  it("without ENDPOINT_RESOLUTION_URLS answers the app itself: https://$WEBSITE_HOSTNAME/api in Azure, else the request's origin", () => {
    expect(new EndpointResolver({}, 'Contoso-Backend.azurewebsites.net').resolve({}, REQUEST_URL)).toEqual({
      url: 'https://contoso-backend.azurewebsites.net/api',
      ttlInMinutes: 60,
      matched: 'this app (no ENDPOINT_RESOLUTION_URLS)',
    });
    expect(new EndpointResolver({}).resolve({ TenantRegion: 'westeurope' }, REQUEST_URL).url).toBe(
      'http://127.0.0.1:7071/api',
    );
  });
});
