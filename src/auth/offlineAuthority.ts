/**
 * What MSAL needs to know about an Entra authority, given up front, so that it
 * makes no discovery call: no instance discovery
 * (`login.microsoftonline.com/common/discovery/instance`), no OpenID
 * configuration document. Its only requests are then the token requests
 * themselves, to `{host}/{tenant}/oauth2/v2.0/token`.
 */
export interface OfflineAuthority {
  authority: string;
  /** The host (and port), so MSAL trusts the authority without asking Entra. */
  knownAuthorities: string[];
  /** An instance discovery answer naming this host alone (JSON, as MSAL takes it). */
  cloudDiscoveryMetadata: string;
  /** The tenant's OpenID configuration (JSON, as MSAL takes it). */
  authorityMetadata: string;
}

/** `authorityHost`: an https origin such as https://login.microsoftonline.com; `tenantId`: a GUID. */
export function offlineAuthority(authorityHost: string, tenantId: string): OfflineAuthority {
  const url = new URL(authorityHost);
  if (url.protocol !== 'https:' || url.pathname !== '/') {
    throw new Error('the authority host must be an https origin with no path');
  }
  const host = url.host;
  const tenant = `${url.origin}/${tenantId}`;
  return {
    authority: tenant,
    knownAuthorities: [host],
    cloudDiscoveryMetadata: JSON.stringify({
      tenant_discovery_endpoint: `${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    }),
    authorityMetadata: JSON.stringify({
      token_endpoint: `${tenant}/oauth2/v2.0/token`,
      authorization_endpoint: `${tenant}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${tenant}/oauth2/v2.0/logout`,
      issuer: `${tenant}/v2.0`,
      jwks_uri: `${url.origin}/${tenantId}/discovery/v2.0/keys`,
    }),
  };
}
