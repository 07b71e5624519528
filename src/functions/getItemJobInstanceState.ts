import { app } from '@azure/functions';
import { getDependencies } from '../app';
import { createRoutes } from '../http/routes';

// Dependencies are built at load, so a bad setting stops the app at start
// with one message naming every problem; building them also starts the JWKS
// download and the storage connection while the host is still starting.
export const routes = createRoutes(getDependencies({ warmUp: true }));

for (const { name, methods, route, handler } of routes) {
  app.http(name, { methods, authLevel: 'anonymous', route, handler });
}

// The local host serves `routes` with this module's own copy of the
// @azure/functions request classes, so a bundle is served exactly as built.
export { HttpRequest, InvocationContext } from '@azure/functions';
