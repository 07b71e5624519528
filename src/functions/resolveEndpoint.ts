import type { AppServices } from '../app';
import type { AuthenticatedApp } from '../auth/subjectAndAppAuthenticator';
import { parseEndpointResolutionRequest, type EndpointResolutionContext } from '../fabric/requests';
import { jsonResponse } from '../fabric/responses';
import type { Operation } from '../http/operation';
import { forLog } from '../logValue';

/** Fabric asks which backend URL serves a tenant or workspace; the answer comes from ENDPOINT_RESOLUTION_URLS. */
export const resolveEndpoint = ({
  endpoints,
}: AppServices): Operation<undefined, EndpointResolutionContext, AuthenticatedApp> => ({
  name: 'EndpointResolution_Resolve',
  method: 'POST',
  route: 'resolve-api-path-placeholder',
  auth: 'appOnly',
  parsePath: () => undefined,
  parseBody: parseEndpointResolutionRequest,
  run: async ({ body, log }) => {
    const { url, ttlInMinutes, matched } = endpoints.resolve(body);
    log.info(
      `resolved workspace region ${forLog(body.WorkspaceRegion)}, tenant region ${forLog(body.TenantRegion)} by ${matched}`,
    );
    return jsonResponse({ url, ttlInMinutes });
  },
});
