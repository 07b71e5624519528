import { HttpRequest, InvocationContext } from '@azure/functions';
import type { JobStateDependencies } from '../src/http/getItemJobInstanceState';
import { createRoutes } from '../src/http/routes';
import type { FunctionsModule } from './localHost';

/** The app's routes built from the sources with the given dependencies, for tests and `npm start`. */
export function sourceFunctions(dependencies: JobStateDependencies): FunctionsModule {
  return { routes: createRoutes(dependencies), HttpRequest, InvocationContext };
}
