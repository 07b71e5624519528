import { InvalidParameterError } from '../fabric/errors';
import { isGuid, isTypeName, TYPE_NAME_RULE } from '../ids';

/** The Functions route of Jobs_GetItemJobInstanceState, without the `api` prefix. No constraints: bad ids must reach the handler. */
export const JOB_INSTANCE_ROUTE = 'workspaces/{workspaceId}/items/{itemType}/{itemId}/jobTypes/{jobType}/instances/{jobInstanceId}';

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

/** Checks the route values in path order; GUIDs come back lowercase. */
export function parseJobPath(params: Record<string, string | undefined>): JobPath {
  const guid = (name: keyof JobPath): string => {
    const value = params[name];
    if (!isGuid(value)) throw new InvalidParameterError(name, 'it must be a GUID');
    return value.toLowerCase();
  };
  const typeName = (name: keyof JobPath): string => {
    const value = params[name];
    if (!isTypeName(value)) throw new InvalidParameterError(name, `it must be ${TYPE_NAME_RULE}`);
    return value;
  };
  return {
    workspaceId: guid('workspaceId'),
    itemType: typeName('itemType'),
    itemId: guid('itemId'),
    jobType: typeName('jobType'),
    jobInstanceId: guid('jobInstanceId'),
  };
}
