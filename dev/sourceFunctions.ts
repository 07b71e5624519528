import { HttpRequest, InvocationContext } from '@azure/functions';
import type { AppServices } from '../src/app';
import { createQueueFunctions, createRoutes } from '../src/functions/catalog';
import type { FunctionsModule } from './localHost';

/** The app's functions built from the sources with the given dependencies, for tests and `npm start`. */
export function sourceFunctions(services: AppServices): FunctionsModule {
  return {
    routes: createRoutes(services),
    queueFunctions: createQueueFunctions(services),
    HttpRequest,
    InvocationContext,
  };
}
