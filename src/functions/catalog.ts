import type { AppServices } from '../app';
import type { AuthenticatedApp } from '../auth/subjectAndAppAuthenticator';
import { toHttpHandler, type Operation } from '../http/operation';
import type { RouteDefinition } from '../http/routes';
import { cancelItemJobInstance } from './cancelItemJobInstance';
import { createItem } from './createItem';
import { createItemJobInstance } from './createItemJobInstance';
import { deleteItem } from './deleteItem';
import { failPoisonedJob } from './failPoisonedJob';
import { getItemJobInstanceState } from './getItemJobInstanceState';
import { getItemPayload } from './getItemPayload';
import type { QueueFunction } from './queueFunction';
import { resolveEndpoint } from './resolveEndpoint';
import { runJob } from './runJob';
import { updateItem } from './updateItem';

/** Fabric's workload API, one declaration per operation of the contract: all eight. */
export const OPERATIONS = [
  getItemJobInstanceState,
  createItemJobInstance,
  cancelItemJobInstance,
  createItem,
  updateItem,
  deleteItem,
  getItemPayload,
  resolveEndpoint,
] as const;

/** The job runner and its poison-queue companion. */
export const QUEUE_FUNCTIONS = [runJob, failPoisonedJob] as const;

/** The HTTP functions, each operation behind the one request pipeline. */
export function createRoutes(services: AppServices): RouteDefinition[] {
  return OPERATIONS.map((declare) => {
    const operation = declare(services) as Operation<unknown, unknown, AuthenticatedApp>;
    return {
      name: operation.name,
      methods: [operation.method],
      route: operation.route,
      handler: toHttpHandler(operation, services.authenticator, services.summaries),
    };
  });
}

export function createQueueFunctions(services: AppServices): QueueFunction[] {
  return QUEUE_FUNCTIONS.map((declare) => declare(services));
}
