import type { AppServices } from '../app';
import { toHttpHandler, type Operation } from '../http/operation';
import type { RouteDefinition } from '../http/routes';
import { cancelItemJobInstance } from './cancelItemJobInstance';
import { createItemJobInstance } from './createItemJobInstance';
import { failPoisonedJob } from './failPoisonedJob';
import { getItemJobInstanceState } from './getItemJobInstanceState';
import type { QueueFunction } from './queueFunction';
import { runJob } from './runJob';

/** Fabric's workload API, one declaration per operation of the contract. */
export const OPERATIONS = [getItemJobInstanceState, createItemJobInstance, cancelItemJobInstance] as const;

/** The job runner and its poison-queue companion. */
export const QUEUE_FUNCTIONS = [runJob, failPoisonedJob] as const;

/** The HTTP functions, each operation behind the one request pipeline. */
export function createRoutes(services: AppServices): RouteDefinition[] {
  return OPERATIONS.map((declare) => {
    const operation = declare(services) as Operation<unknown, unknown>;
    return { name: operation.name, methods: [operation.method], route: operation.route, handler: toHttpHandler(operation, services.authenticator) };
  });
}

export function createQueueFunctions(services: AppServices): QueueFunction[] {
  return QUEUE_FUNCTIONS.map((declare) => declare(services));
}
