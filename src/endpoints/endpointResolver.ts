import { EndpointResolutionNotConfiguredError } from '../fabric/errors';
import type { EndpointResolutionContext } from '../fabric/requests';

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
  constructor(private readonly urls: Readonly<Record<string, string>>) {}

  resolve(context: EndpointResolutionContext): EndpointResolution & { matched: string } {
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
        Object.keys(this.urls).length === 0
          ? 'ENDPOINT_RESOLUTION_URLS is not set, yet Fabric called endpoint resolution'
          : 'ENDPOINT_RESOLUTION_URLS has no URL for these regions and no "default"',
      );
    }
    return { url: fallback, ttlInMinutes: RESOLUTION_TTL_MINUTES, matched: 'default' };
  }
}

export function normaliseRegion(region: string): string {
  return region.replace(/\s+/g, '').toLowerCase();
}
