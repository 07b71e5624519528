import type { AppServices } from '../app';
import { JOB_QUEUE_CONNECTION } from '../config';
import { createJobLog } from '../execution/jobLog';
import { parseJobMessage, poisonQueueName } from '../execution/jobQueue';
import { forLog } from '../logValue';
import type { QueueFunction } from './queueFunction';

/**
 * The host moves a message that failed maxDequeueCount times to the poison
 * queue; its job will not start, so it is marked Failed (JobCouldNotStart)
 * now rather than left for Fabric's two-hour dead letter.
 */
export const failPoisonedJob = ({ runner, config, summaries }: AppServices): QueueFunction => ({
  name: 'JobRunnerPoison',
  queueName: poisonQueueName(config.queueName),
  connection: JOB_QUEUE_CONNECTION,
  handler: async (message, context) => {
    const job = parseJobMessage(message);
    if (!job) return context.error(`poison queue: a message that names no job was dropped: ${forLog(message)}`);
    await runner.giveUp(job, createJobLog(context, job, summaries));
  },
});
