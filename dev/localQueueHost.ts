/**
 * Runs the app's storage-queue functions the way the Functions host's queue
 * listener does, for machines without Azure Functions Core Tools and for the
 * tests: it polls each queue with a growing interval up to
 * `maxPollingInterval`, keeps a message hidden while its function runs,
 * completes (deletes) it when the function returns, makes it visible again
 * after `visibilityTimeout` when the function throws, and moves it to
 * `<queue>-poison` once it has been dequeued `maxDequeueCount` times. The
 * settings are host.json's `extensions.queues`, read from the same file.
 * Development only: connection strings (Azurite) alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueClient, type DequeuedMessageItem } from '@azure/storage-queue';
import type { InvocationContext } from '@azure/functions';
import type { QueueFunction } from '../src/functions/queueFunction';
import { poisonQueueName } from '../src/execution/jobQueue';
import { forLog } from '../src/logValue';
import { PROJECT_ROOT } from './projectRoot';

export interface QueueHostSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  /** Longest wait between polls of an idle queue. */
  maxPollingIntervalMs: number;
  /** How long a failed message stays hidden before it is tried again. */
  visibilityTimeoutMs: number;
  messageEncoding: 'base64' | 'none';
  /** How long a message is hidden while its function runs; renewed at half of it. Not a host.json setting. */
  leaseMs: number;
}

/**
 * The local host's lease. The Functions host's is 10 minutes renewed every 5
 * (docs/decisions.md); this one is shorter so a killed local host's messages
 * come back soon. LOCAL_HOST_QUEUE_LEASE_SECONDS changes it (tests).
 */
export const DEFAULT_LEASE_MS = 60_000;
const MIN_POLLING_INTERVAL_MS = 100;
/**
 * How long a message that the service cannot return is hidden: the longest
 * visibility timeout there is (7 days), at least the 7-day time-to-live a
 * message gets by default, so it expires before it comes back.
 */
const PARK_SECONDS = 7 * 24 * 3600;
/** How long closing waits for running functions. */
const SHUTDOWN_GRACE_MS = 2000;

/**
 * A receive that the service answered 500: Azurite answers so when a message
 * in the batch holds a character XML 1.0 cannot carry (a raw ESC), after it
 * has already hidden the batch and counted the dequeue.
 */
function isUnreadableAnswer(error: unknown): boolean {
  return (error as { statusCode?: number })?.statusCode === 500;
}

/** The service's request id of a failed call, for the log (it finds the call in the service's own log). */
function requestIdOf(error: unknown): string {
  const headers = (error as { response?: { headers?: { get?(name: string): string | undefined } } })?.response?.headers;
  return forLog(headers?.get?.('x-ms-request-id') ?? 'unknown');
}

/** host.json's `extensions.queues`, with the Functions host's defaults for what it leaves out. */
export function readQueueHostSettings(hostJsonPath = join(PROJECT_ROOT, 'host.json')): QueueHostSettings {
  const host = JSON.parse(readFileSync(hostJsonPath, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } };
  const queues = host.extensions?.queues ?? {};
  const batchSize = typeof queues.batchSize === 'number' ? queues.batchSize : 16;
  return {
    batchSize,
    newBatchThreshold:
      typeof queues.newBatchThreshold === 'number' ? queues.newBatchThreshold : Math.floor(batchSize / 2),
    maxDequeueCount: typeof queues.maxDequeueCount === 'number' ? queues.maxDequeueCount : 5,
    maxPollingIntervalMs: timeSpanMs(queues.maxPollingInterval, 60_000),
    visibilityTimeoutMs: timeSpanMs(queues.visibilityTimeout, 0),
    messageEncoding: queues.messageEncoding === 'none' ? 'none' : 'base64',
    leaseMs: DEFAULT_LEASE_MS,
  };
}

/** A .NET TimeSpan as host.json writes it ("00:00:02", "00:00:00.500"). */
export function timeSpanMs(value: unknown, fallback: number): number {
  if (typeof value !== 'string') return fallback;
  const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value);
  if (!match) throw new Error(`host.json: ${JSON.stringify(value)} is not a time span (hh:mm:ss)`);
  return Math.round((Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])) * 1000);
}

export interface QueueHostOptions {
  functions: QueueFunction[];
  /** Reads a function's connection setting, e.g. `JobQueue`. */
  setting(name: string): string | undefined;
  createContext(functionName: string, triggerMetadata: Record<string, unknown>): InvocationContext;
  log(level: 'information' | 'warning' | 'error', line: string): void;
  settings?: QueueHostSettings;
}

export interface RunningQueueHost {
  /** Stops polling and waits for the functions that are running. */
  close(): Promise<void>;
}

export async function startQueueHost(options: QueueHostOptions): Promise<RunningQueueHost> {
  const settings = options.settings ?? readQueueHostSettings();
  const listeners = await Promise.all(options.functions.map((fn) => QueueListener.start(fn, settings, options)));
  return { close: async () => void (await Promise.all(listeners.map((listener) => listener.close()))) };
}

class QueueListener {
  private stopped = false;
  private wake?: () => void;
  private readonly running = new Set<Promise<void>>();
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fn: QueueFunction,
    private readonly queue: QueueClient,
    /** The same queue without the SDK's retries, for receiving: a retry hides the 500 of an unreadable batch. */
    private readonly receiver: QueueClient,
    private readonly poison: QueueClient,
    private readonly settings: QueueHostSettings,
    private readonly options: QueueHostOptions,
  ) {}

  static async start(
    fn: QueueFunction,
    settings: QueueHostSettings,
    options: QueueHostOptions,
  ): Promise<QueueListener> {
    const connectionString = options.setting(fn.connection);
    if (!connectionString)
      throw new Error(`the local host runs queue functions only with a connection string in ${fn.connection}`);
    const queue = new QueueClient(connectionString, fn.queueName);
    const receiver = new QueueClient(connectionString, fn.queueName, { retryOptions: { maxTries: 1 } });
    const poison = new QueueClient(connectionString, poisonQueueName(fn.queueName));
    await queue.createIfNotExists();
    const listener = new QueueListener(fn, queue, receiver, poison, settings, options);
    listener.loop = listener.poll();
    return listener;
  }

  /**
   * Stops polling and gives running functions a short grace period, then
   * leaves them: their messages come back when the lease ends, as when a
   * Functions host instance goes away.
   */
  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.running),
      new Promise((resolve) => (grace = setTimeout(resolve, SHUTDOWN_GRACE_MS))),
    ]);
    clearTimeout(grace);
  }

  /** Random exponential back-off while the queue is empty, as the Functions host does; at once while it is not. */
  private async poll(): Promise<void> {
    let interval = MIN_POLLING_INTERVAL_MS;
    while (!this.stopped) {
      let received = 0;
      if (this.running.size <= this.settings.newBatchThreshold) {
        try {
          received = await this.receiveBatch();
        } catch (error) {
          this.options.log(
            'warning',
            `local queue host: polling ${this.fn.queueName} failed: ${(error as Error).message.split('\n', 1)[0]}`,
          );
        }
      }
      interval = received > 0 ? MIN_POLLING_INTERVAL_MS : Math.min(this.settings.maxPollingIntervalMs, interval * 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, received > 0 ? 0 : interval * (0.8 + Math.random() * 0.2));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Until then, messages are received one at a time (see receiveOne). */
  private isolateUntil = 0;

  private async receiveBatch(): Promise<number> {
    if (Date.now() < this.isolateUntil) return this.receiveOne();
    let received: DequeuedMessageItem[];
    try {
      ({ receivedMessageItems: received } = await this.receiver.receiveMessages({
        numberOfMessages: Math.min(32, this.settings.batchSize),
        visibilityTimeout: this.settings.leaseMs / 1000,
      }));
    } catch (error) {
      if (!isUnreadableAnswer(error)) throw error;
      this.isolateUntil = Date.now() + this.settings.leaseMs * 2;
      this.options.log(
        'warning',
        `local queue host: receiving from ${this.fn.queueName} failed with HTTP 500 (request ${requestIdOf(error)}): ` +
          `a message the storage service cannot return (a raw control character, say) is in the batch, which is now hidden ` +
          `for ${this.settings.leaseMs / 1000} s; receiving one message at a time to set the unreadable one aside`,
      );
      return 0;
    }
    for (const message of received) this.start(message);
    return received.length;
  }

  /**
   * One message, hidden for PARK_SECONDS: a readable one gets its normal lease
   * back and runs; a 500 means that exactly this one message cannot be
   * returned by the service, and it is now parked out of the way (its pop
   * receipt never reaches a client, so it cannot be deleted or moved), with a
   * marker on the poison queue and a log line. A good message never waits
   * behind it for more than a lease.
   */
  private async receiveOne(): Promise<number> {
    let message: DequeuedMessageItem | undefined;
    try {
      [message] = (
        await this.receiver.receiveMessages({ numberOfMessages: 1, visibilityTimeout: PARK_SECONDS })
      ).receivedMessageItems;
    } catch (error) {
      if (!isUnreadableAnswer(error)) throw error;
      await this.parkUnreadable(requestIdOf(error));
      return 1;
    }
    if (!message) return 0;
    const lease = await this.queue.updateMessage(
      message.messageId,
      message.popReceipt,
      undefined,
      this.settings.leaseMs / 1000,
    );
    this.start({ ...message, popReceipt: lease.popReceipt ?? message.popReceipt });
    return 1;
  }

  private async parkUnreadable(requestId: string): Promise<void> {
    this.isolateUntil = Date.now() + this.settings.leaseMs * 2;
    const marker = {
      unreadable: true,
      queue: this.fn.queueName,
      requestId,
      parkedUntil: new Date(Date.now() + PARK_SECONDS * 1000).toISOString(),
    };
    const text = JSON.stringify(marker);
    await this.poison.createIfNotExists();
    await this.poison.sendMessage(
      this.settings.messageEncoding === 'base64' ? Buffer.from(text, 'utf8').toString('base64') : text,
    );
    this.options.log(
      'error',
      `local queue host: a message on ${this.fn.queueName} that the storage service cannot return (HTTP 500, request ` +
        `${requestId}) is parked for ${PARK_SECONDS / 86400} days, past its time-to-live; marker on ${this.poison.name}: ${text}`,
    );
  }

  private start(message: DequeuedMessageItem): void {
    const run = this.process(message).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async process(message: DequeuedMessageItem): Promise<void> {
    let popReceipt = message.popReceipt;
    const tag = `${this.fn.name} (message ${message.messageId}, dequeue ${message.dequeueCount})`;
    // A message that already failed maxDequeueCount times (its runner died, say) is not run again.
    if (message.dequeueCount > this.settings.maxDequeueCount) {
      return this.moveToPoison(message, popReceipt, tag).catch((error: Error) =>
        this.options.log(
          'warning',
          `local queue host: ${tag}: moving it to the poison queue failed: ${error.message.split('\n', 1)[0]}`,
        ),
      );
    }
    const renew = setInterval(() => {
      void this.queue
        .updateMessage(message.messageId, popReceipt, undefined, this.settings.leaseMs / 1000)
        .then((result) => (popReceipt = result.popReceipt ?? popReceipt))
        .catch((error: Error) =>
          this.options.log(
            'warning',
            `local queue host: ${tag}: renewing its lease failed: ${error.message.split('\n', 1)[0]}`,
          ),
        );
    }, this.settings.leaseMs / 2);
    let failed = false;
    try {
      const context = this.options.createContext(this.fn.name, {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        popReceipt,
      });
      await this.fn.handler(this.decode(message.messageText), context);
    } catch (error) {
      failed = true;
      // The app's errors keep what only the log may see apart (logDetail): that is what a developer needs here.
      const detail = (error as { logDetail?: unknown })?.logDetail;
      this.options.log(
        'error',
        `local queue host: ${tag} failed: ${error instanceof Error ? error.message : String(error)}${typeof detail === 'string' ? ` (${detail})` : ''}`,
      );
    } finally {
      clearInterval(renew);
    }
    try {
      if (!failed) await this.queue.deleteMessage(message.messageId, popReceipt);
      else if (message.dequeueCount >= this.settings.maxDequeueCount) await this.moveToPoison(message, popReceipt, tag);
      else
        await this.queue.updateMessage(
          message.messageId,
          popReceipt,
          undefined,
          this.settings.visibilityTimeoutMs / 1000,
        );
    } catch (error) {
      // The lease ends by itself and the message comes back: the same as in Azure.
      this.options.log(
        'warning',
        `local queue host: ${tag}: settling it failed: ${(error as Error).message.split('\n', 1)[0]}`,
      );
    }
  }

  private async moveToPoison(message: DequeuedMessageItem, popReceipt: string, tag: string): Promise<void> {
    await this.poison.createIfNotExists();
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, popReceipt);
    this.options.log(
      'warning',
      `local queue host: ${tag} moved to ${this.poison.name} after ${message.dequeueCount} attempts`,
    );
  }

  /** As the worker hands it over: base64 decoded (host.json), JSON text as an object, anything else as a string. */
  private decode(text: string): unknown {
    const decoded = this.settings.messageEncoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
    try {
      return JSON.parse(decoded);
    } catch {
      return decoded;
    }
  }
}
