import { InvalidParameterError } from '../fabric/errors';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';
import { ITEM_ROUTE, parseItemPath } from './itemPath';

/** The Functions route of Jobs_GetItemJobInstanceState, without the `api` prefix. No constraints: bad ids must reach the handler. */
export const JOB_INSTANCE_ROUTE = `${ITEM_ROUTE}/jobTypes/{jobType}/instances/{jobInstanceId}`;

/** The path of one job instance under the `api` prefix, e.g. for a curl line or a test request. */
export function jobInstancePath(path: JobPath): string {
  return '/' + JOB_INSTANCE_ROUTE.replace(/\{(\w+)\}/g, (_, name: keyof JobPath) => path[name]);
}

export interface JobPath {
  workspaceId: string;
  itemType: string;
  itemId: string;
  jobType: string;
  jobInstanceId: string;
}

/** Checks the route values in path order (the item's first); GUIDs come back lowercase. */
export function parseJobPath(params: Record<string, string | undefined>): JobPath {
  const item = parseItemPath(params);
  const { jobType, jobInstanceId } = params;
  if (!isTypeName(jobType)) throw new InvalidParameterError('jobType', `it must be ${TYPE_NAME_RULE}`);
  if (!isGuid(jobInstanceId)) throw new InvalidParameterError('jobInstanceId', 'it must be a GUID');
  return { ...item, jobType, jobInstanceId: jobInstanceId.toLowerCase() };
}
