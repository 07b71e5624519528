import type { HttpHandler, HttpMethod } from '@azure/functions';

export interface RouteDefinition {
  name: string;
  methods: HttpMethod[];
  /** Functions route template, relative to the `api` prefix. */
  route: string;
  handler: HttpHandler;
}
