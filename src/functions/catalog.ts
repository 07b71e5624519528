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
import { onCancelJobInstance } from './toolkit/onCancelJobInstance';
import { onCreateItem } from './toolkit/onCreateItem';
import { onCreateJobInstance } from './toolkit/onCreateJobInstance';
import { onDeleteItem } from './toolkit/onDeleteItem';
import { onGetJobInstanceStatus } from './toolkit/onGetJobInstanceStatus';
import { onRestoreItem } from './toolkit/onRestoreItem';
import { onUpdateItem } from './toolkit/onUpdateItem';
import { resolveEndpointToolkit } from './toolkit/resolveEndpoint';
import { updateItem } from './updateItem';

/** Fabric's workload API v1 (contract/workload-api-v1.swagger.json), one declaration per operation. */
export const WORKLOAD_API_OPERATIONS = [
  getItemJobInstanceState,
  createItemJobInstance,
  cancelItemJobInstance,
  createItem,
  updateItem,
  deleteItem,
  getItemPayload,
  resolveEndpoint,
] as const;

/**
 * The Fabric Extensibility Toolkit's backend contract (contract/extensibility-toolkit.swagger.json),
 * one declaration per operation; routes in src/http/toolkitRoutes.ts.
 */
export const TOOLKIT_OPERATIONS = [
  onCreateItem,
  onUpdateItem,
  onDeleteItem,
  onRestoreItem,
  onCreateJobInstance,
  onGetJobInstanceStatus,
  onCancelJobInstance,
  resolveEndpointToolkit,
] as const;

/** Every HTTP operation the app serves: both contracts, on one pipeline. */
export const OPERATIONS = [...WORKLOAD_API_OPERATIONS, ...TOOLKIT_OPERATIONS] as const;

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
