import type { AppServices } from '../../app';
import { parseEndpointResolutionRequest } from '../../fabric/requests';
import { TOOLKIT_ROUTES } from '../../http/toolkitRoutes';
import { resolution } from '../resolveEndpoint';

/**
 * The toolkit's endpoint resolution: v1's resolver under the toolkit's route.
 * Its reference backend reads no body, so an empty body is an empty context.
 */
export const resolveEndpointToolkit = (services: AppServices) =>
  resolution(
    services,
    'EndpointResolution_ResolveEndpoint',
    TOOLKIT_ROUTES.resolveEndpoint.route,
    (body) => parseEndpointResolutionRequest(isEmpty(body) ? { context: [] } : body),
    true,
  );

const isEmpty = (body: unknown) => typeof body === 'object' && body !== null && Object.keys(body).length === 0;
