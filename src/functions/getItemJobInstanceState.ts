import { app } from '@azure/functions';
import { getDependencies } from '../app';
import { createRoutes } from '../http/routes';

// Dependencies are built at load, so a bad setting stops the app at start
// with one message naming every problem.
for (const { name, methods, route, handler } of createRoutes(getDependencies())) {
  app.http(name, { methods, authLevel: 'anonymous', route, handler });
}
