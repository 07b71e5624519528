import type { HttpHandler, HttpMethod } from '@azure/functions';
import { createGetItemJobInstanceStateHandler, type JobStateDependencies } from './getItemJobInstanceState';
import { JOB_INSTANCE_ROUTE } from './jobPath';

export interface RouteDefinition {
  name: string;
  methods: HttpMethod[];
  /** Functions route template, relative to the `api` prefix. */
  route: string;
  handler: HttpHandler;
}

/** Every HTTP function of the app; the Functions entry and the local host both serve this list. */
export function createRoutes(deps: JobStateDependencies): RouteDefinition[] {
  return [
    {
      name: 'getItemJobInstanceState',
      methods: ['GET'],
      route: JOB_INSTANCE_ROUTE,
      handler: createGetItemJobInstanceStateHandler(deps),
    },
  ];
}
