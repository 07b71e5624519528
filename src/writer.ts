/**
 * The job-state writer, for job runners: create job instance rows and move
 * them through their states. The endpoint reads what this writes.
 *
 *   const writer = createJobStateWriter();            // settings from process.env
 *   await writer.create({ itemId, jobInstanceId, tenantId, workspaceId, itemType, jobType });
 *   await writer.setStatus(itemId, jobInstanceId, 'InProgress');
 *   await writer.setStatus(itemId, jobInstanceId, 'Failed', { errorCode, message, source: 'System' });
 */
export {
  createJobStateWriter,
  JobStateWriter,
  type JobStateWriterOptions,
  type NewJobInstance,
} from './jobs/jobStateWriter';
export { LEGAL_TRANSITIONS, isTerminal } from './jobs/jobTransitions';
export { listJobInstances, type ListedJob } from './jobs/jobListing';
export type { JobRecord } from './jobs/jobRow';
export type { ErrorDetails, JobInstanceStatus } from './fabric/contract';
export * from './jobs/writerErrors';
