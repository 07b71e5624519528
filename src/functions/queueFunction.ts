import type { InvocationContext } from '@azure/functions';

/** A storage-queue-triggered function, declared once for app.storageQueue and the local host alike. */
export interface QueueFunction {
  name: string;
  queueName: string;
  /** The app setting (prefix) of the queue connection. */
  connection: string;
  handler(message: unknown, context: InvocationContext): Promise<void>;
}
