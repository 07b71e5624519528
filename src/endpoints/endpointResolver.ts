import { EndpointResolutionNotConfiguredError } from '../fabric/errors';
import type { EndpointResolutionContext } from '../fabric/requests';

/** host.json's HTTP route prefix: every operation's URL starts with it. */
export const API_ROUTE_PREFIX = 'api';

/** How long Fabric may keep using a resolved URL before it asks again. */
export const RESOLUTION_TTL_MINUTES = 60;

export interface EndpointResolution {
  url: string;
  ttlInMinutes: number;
}

/**
 * Resolution is configuration, not code: ENDPOINT_RESOLUTION_URLS maps region
 * names to backend URLs, `default` for the rest. The workspace's region
 * decides (that is where the item's data lives), then the tenant's, then the
 * default. Region names compare lower-case with spaces removed, so
 * "West Europe" and "westeurope" are the same region.
 */
export class EndpointResolver {
  /**
   * `websiteHostname`: the platform's WEBSITE_HOSTNAME in Azure (the app's own
   * host); without it (locally) the request's own origin is the app's URL.
   */
  constructor(
    private readonly urls: Readonly<Record<string, string>>,
    private readonly websiteHostname?: string,
  ) {}

  /**
   * The URL for this context; with ENDPOINT_RESOLUTION_URLS not set at all,
   * the app's own public base URL (one region needs no configuration).
   * `requestUrl` is the resolution request's own URL.
   */
  resolve(context: EndpointResolutionContext, requestUrl: string): EndpointResolution & { matched: string } {
    if (Object.keys(this.urls).length === 0) {
      return {
        url: this.ownBaseUrl(requestUrl),
        ttlInMinutes: RESOLUTION_TTL_MINUTES,
        matched: 'this app (no ENDPOINT_RESOLUTION_URLS)',
      };
    }
    for (const region of [context.WorkspaceRegion, context.TenantRegion]) {
      if (region === undefined) continue;
      const key = normaliseRegion(region);
      // Own properties only: a region named "constructor" or "__proto__" is just an unknown region.
      if (key !== 'default' && Object.hasOwn(this.urls, key))
        return { url: this.urls[key], ttlInMinutes: RESOLUTION_TTL_MINUTES, matched: key };
    }
    const fallback = Object.hasOwn(this.urls, 'default') ? this.urls.default : undefined;
    if (fallback === undefined) {
      throw new EndpointResolutionNotConfiguredError(
        'ENDPOINT_RESOLUTION_URLS has no URL for these regions and no "default"',
      );
    }
    return { url: fallback, ttlInMinutes: RESOLUTION_TTL_MINUTES, matched: 'default' };
  }

  /** `https://$WEBSITE_HOSTNAME/api` in Azure; elsewhere the request's origin and the `api` prefix. */
  private ownBaseUrl(requestUrl: string): string {
    if (this.websiteHostname) return `https://${this.websiteHostname.toLowerCase()}/${API_ROUTE_PREFIX}`;
    return `${new URL(requestUrl).origin}/${API_ROUTE_PREFIX}`;
  }
}

export function normaliseRegion(region: string): string {
  return region.replace(/\s+/g, '').toLowerCase();
}
