import type { AppServices } from '../app';
import type { AuthenticatedApp } from '../auth/subjectAndAppAuthenticator';
import { parseEndpointResolutionRequest, type EndpointResolutionContext } from '../fabric/requests';
import { jsonResponse } from '../fabric/responses';
import type { Operation } from '../http/operation';
import { forLog } from '../logValue';

/** Fabric asks which backend URL serves a tenant or workspace (ENDPOINT_RESOLUTION_URLS, else this app's own URL). */
export const resolveEndpoint = (services: AppServices) =>
  resolution(services, 'EndpointResolution_Resolve', 'resolve-api-path-placeholder', parseEndpointResolutionRequest);

/** One declaration for both contracts' resolution routes: the same resolver, authentication and answer. */
export function resolution(
  { endpoints }: AppServices,
  name: string,
  route: string,
  parseBody: (body: unknown) => EndpointResolutionContext,
  bodyOptional = false,
): Operation<undefined, EndpointResolutionContext, AuthenticatedApp> {
  return {
    name,
    method: 'POST',
    route,
    auth: 'appOnly',
    parsePath: () => undefined,
    parseBody,
    bodyOptional,
    run: async ({ body, log, url: requestUrl }) => {
      const { url, ttlInMinutes, matched } = endpoints.resolve(body, requestUrl);
      const region = (value: string | undefined) => (value === undefined ? '(none)' : forLog(value));
      log.info(
        `resolved workspace region ${region(body.WorkspaceRegion)}, tenant region ${region(body.TenantRegion)} by ${matched}`,
      );
      return jsonResponse({ url, ttlInMinutes });
    },
  };
}
