import type { QueueClient, StoragePipelineOptions } from '@azure/storage-queue';
import type { QueueConnection } from '../storage/connections';
import { StorageUnavailableError } from '../fabric/errors';
import { isGuid } from '../ids';
import type { JobEnqueuer } from '../jobs/jobInstances';
import type { JobKey } from '../jobs/jobRow';
import { describeStorageError } from '../storage/storageErrors';
import { createCredential } from '../storage/credential';

/**
 * What a job message says: which row to run, and for a watch (a message the
 * runner sends itself to look at a running job again later) that it is one.
 * Nothing else travels on the queue.
 */
export interface JobMessage extends JobKey {
  watch?: true;
}

/** Sends the runner's watch messages: the same job, looked at again after a delay. */
export interface JobWatcher {
  watchLater(job: JobKey, delaySeconds: number): Promise<void>;
}

/** Deadline of one enqueue, the SDK's retries included, as for table reads. */
export const DEFAULT_ENQUEUE_DEADLINE_MS = 10_000;

/** Few, short retries: Fabric retries a Create that got a 503. */
const QUEUE_RETRY_OPTIONS: StoragePipelineOptions['retryOptions'] = {
  maxTries: 3,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 1000,
};

/**
 * The queue trigger decodes base64 (host.json `messageEncoding`, the
 * default), so the message text is the JSON's base64.
 */
export function encodeJobMessage(message: JobMessage): string {
  const { itemId, jobInstanceId, watch } = message;
  return Buffer.from(
    JSON.stringify(watch ? { itemId, jobInstanceId, watch } : { itemId, jobInstanceId }),
    'utf8',
  ).toString('base64');
}

/**
 * The message as the trigger hands it over: the Functions Node.js library
 * gives JSON text as an object, anything else as a string. Undefined when it
 * does not name a job.
 */
export function parseJobMessage(value: unknown): JobMessage | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { itemId, jobInstanceId, watch } = parsed as Record<string, unknown>;
  if (!isGuid(itemId) || !isGuid(jobInstanceId)) return undefined;
  const message: JobMessage = { itemId: itemId.toLowerCase(), jobInstanceId: jobInstanceId.toLowerCase() };
  if (watch === true) message.watch = true;
  return message;
}

/** Puts jobs on the queue that the runner's trigger reads. */
export class JobQueue implements JobEnqueuer, JobWatcher {
  private client?: QueueClient;

  /** `connect` runs on the first enqueue: a cold start that serves only Get never loads the queue SDK. */
  constructor(
    private readonly connect: () => QueueClient,
    private readonly deadlineMs = DEFAULT_ENQUEUE_DEADLINE_MS,
  ) {}

  /** Throws StorageUnavailableError when the queue cannot be reached within the deadline. */
  async enqueue(message: JobMessage): Promise<void> {
    await this.send(message);
  }

  /**
   * A watch message, hidden for `delaySeconds`: the queue's own visibility
   * delay, since the Functions host has no way to have a message come back
   * later without failing it (its lease is 10 minutes, docs/decisions.md).
   */
  async watchLater(job: JobKey, delaySeconds: number): Promise<void> {
    await this.send({ itemId: job.itemId, jobInstanceId: job.jobInstanceId, watch: true }, delaySeconds);
  }

  private async send(message: JobMessage, visibilityTimeout?: number): Promise<void> {
    this.client ??= this.connect();
    try {
      await this.client.sendMessage(encodeJobMessage(message), {
        visibilityTimeout,
        abortSignal: AbortSignal.timeout(this.deadlineMs),
      });
    } catch (error) {
      throw new StorageUnavailableError(
        `enqueue of job ${message.itemId}/${message.jobInstanceId} on ${this.client.name} failed: ${describeStorageError(error)}`,
      );
    }
  }
}

/** A client of one queue over the app's `JobQueue` connection. */
export function createQueueClient(
  connection: QueueConnection,
  queueName: string,
  env: Record<string, string | undefined> = process.env,
): QueueClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { QueueClient } = require('@azure/storage-queue') as typeof import('@azure/storage-queue');
  const options: StoragePipelineOptions = { retryOptions: QUEUE_RETRY_OPTIONS };
  if (connection.kind === 'connectionString') return new QueueClient(connection.connectionString, queueName, options);
  const url = `${connection.serviceUri}/${encodeURIComponent(queueName)}`;
  return new QueueClient(url, createCredential(connection.managedIdentityClientId, env), options);
}

/** The poison queue the Functions host moves a message to after maxDequeueCount failed attempts. */
export function poisonQueueName(queueName: string): string {
  return `${queueName}-poison`;
}
