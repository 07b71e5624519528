import type { AppServices } from '../app';
import { JOB_QUEUE_CONNECTION } from '../config';
import { createJobLog } from '../execution/jobLog';
import { parseJobMessage } from '../execution/jobQueue';
import { forLog } from '../logValue';
import type { QueueFunction } from './queueFunction';

/**
 * The job runner, on the job queue that Create writes to. It throws (and the
 * host retries the message) only when storage could not be reached.
 */
export const runJob = ({ runner, config, summaries }: AppServices): QueueFunction => ({
  name: 'JobRunner',
  queueName: config.queueName,
  connection: JOB_QUEUE_CONNECTION,
  handler: async (message, context) => {
    const job = parseJobMessage(message);
    if (!job) return context.error(`job queue: a message that names no job was dropped: ${forLog(message)}`);
    // Both the Functions host and the local host say how often the message was dequeued.
    const dequeueCount = Number(context.triggerMetadata?.dequeueCount);
    await runner.run(job, createJobLog(context, job, summaries), {
      dequeueCount: Number.isFinite(dequeueCount) ? dequeueCount : undefined,
    });
  },
});
