/**
 * The job-state writer, for job runners: create job instance rows and move
 * them through their states. The endpoint reads what this writes.
 *
 *   const writer = createJobStateWriter();            // settings from process.env
 *   await writer.create({ itemId, jobInstanceId, tenantId, workspaceId, itemType, jobType });
 *   await writer.setStatus(itemId, jobInstanceId, 'InProgress');
 *   await writer.setStatus(itemId, jobInstanceId, 'Failed', { errorCode, message, source: 'System' });
 */
import { readTableConfig } from './config';
import { JobStateWriter, type JobStateWriterOptions } from './jobs/jobStateWriter';
import { createTableClient } from './storage/tableClient';

export { JobStateWriter, type JobStateWriterOptions, type NewJobInstance } from './jobs/jobStateWriter';
export { LEGAL_TRANSITIONS, isTerminal } from './jobs/lifecycle';
export { listJobInstances, type ListedJob } from './jobs/jobListing';
export type { JobRecord } from './jobs/jobRow';
export type { ErrorDetails, JobInstanceStatus } from './fabric/contract';
export * from './jobs/writerErrors';

/** A writer for the job-state table named by the environment (the endpoint's table settings). */
export function createJobStateWriter(
  env: Record<string, string | undefined> = process.env,
  options?: JobStateWriterOptions,
): JobStateWriter {
  const { table, tableName } = readTableConfig(env);
  return new JobStateWriter(createTableClient(table, tableName, env), options);
}
