/**
 * The bundle's entry (package.json `main`): registers every function of the
 * catalog with the Functions host. Dependencies are built at load, so a bad
 * setting stops the app at start with one message naming every problem;
 * building them also starts the JWKS download and the storage connection
 * while the host is still starting.
 */
import { app } from '@azure/functions';
import { getDependencies } from '../app';
import { createQueueFunctions, createRoutes } from './catalog';

const services = getDependencies({ warmUp: true });
export const routes = createRoutes(services);
export const queueFunctions = createQueueFunctions(services);

for (const { name, methods, route, handler } of routes) {
  app.http(name, { methods, authLevel: 'anonymous', route, handler });
}
for (const { name, queueName, connection, handler } of queueFunctions) {
  app.storageQueue(name, { queueName, connection, handler });
}

/** Sends the summaries still buffered for Application Insights; the host calls it before it stops the worker. */
export const flushTelemetry = (): Promise<void> => services.summaries.flush();
app.hook.appTerminate(flushTelemetry);

// The local host serves `routes` and `queueFunctions` with this module's own
// copy of the @azure/functions classes, so a bundle is served exactly as built.
export { HttpRequest, InvocationContext } from '@azure/functions';
