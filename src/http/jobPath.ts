import { InvalidParameterError } from '../fabric/errors';
import { isGuid } from '../guid';

/** The Functions route of Jobs_GetItemJobInstanceState, without the `api` prefix. No constraints: bad ids must reach the handler. */
export const JOB_INSTANCE_ROUTE = 'workspaces/{workspaceId}/items/{itemType}/{itemId}/jobTypes/{jobType}/instances/{jobInstanceId}';

export interface JobPath {
  workspaceId: string;
  itemType: string;
  itemId: string;
  jobType: string;
  jobInstanceId: string;
}

const TYPE_NAME = /^[A-Za-z0-9._-]{1,256}$/;

/** Checks the route values in path order; GUIDs come back lowercase. */
export function parseJobPath(params: Record<string, string | undefined>): JobPath {
  const guid = (name: keyof JobPath): string => {
    const value = params[name];
    if (!isGuid(value)) throw new InvalidParameterError(name, 'it must be a GUID');
    return value.toLowerCase();
  };
  const typeName = (name: keyof JobPath): string => {
    const value = params[name];
    if (value === undefined || !TYPE_NAME.test(value)) {
      throw new InvalidParameterError(name, 'it must be 1 to 256 characters of letters, digits, ".", "_" or "-"');
    }
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
