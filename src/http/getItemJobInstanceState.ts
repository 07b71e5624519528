import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AuthenticatedCaller, AuthHeaders } from '../auth/subjectAndAppAuthenticator';
import { AuthError, FabricError } from '../fabric/errors';
import { jobStateResponse, toErrorResponse } from '../fabric/responses';
import { JOB_NOT_FOUND_STATE, toItemJobInstanceState, type JobCoordinates } from '../jobs/jobRow';
import type { JobLookup } from '../jobs/jobStateStore';
import { parseJobPath } from './jobPath';
import { correlationHeaders, createRequestLog, readCorrelation, type RequestLog } from './requestLog';

export interface JobStateDependencies {
  authenticator: { authenticate(headers: AuthHeaders): Promise<AuthenticatedCaller> };
  store: { readFor(itemId: string, jobInstanceId: string, request: JobCoordinates): Promise<JobLookup> };
}

/**
 * Jobs_GetItemJobInstanceState: validate the path, authenticate, one point
 * read, answer in the contract's shape. Errors of every kind end in
 * toErrorResponse; their details go to the log only.
 */
export function createGetItemJobInstanceStateHandler(deps: JobStateDependencies): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const correlation = readCorrelation(request.headers);
    const log = createRequestLog(context, correlation);
    if (!correlation.activityId || !correlation.requestId) log.info('request has no usable ActivityId or RequestId header');
    let response: HttpResponseInit;
    try {
      response = await answer(request, deps, log);
    } catch (error) {
      logFailure(log, error);
      response = toErrorResponse(error);
    }
    response.headers = { ...(response.headers as Record<string, string>), ...correlationHeaders(correlation) };
    return response;
  };
}

async function answer(request: HttpRequest, deps: JobStateDependencies, log: RequestLog): Promise<HttpResponseInit> {
  const path = parseJobPath(request.params);
  const caller = await deps.authenticator.authenticate({
    authorization: request.headers.get('authorization'),
    clientTenantId: request.headers.get('x-ms-client-tenant-id'),
  });
  const lookup = await deps.store.readFor(path.itemId, path.jobInstanceId, { ...path, tenantId: caller.tenantId });
  if (lookup.found === 'foreign' && lookup.unreadableOwner) {
    log.error(`job ${path.itemId}/${path.jobInstanceId}: the row's TenantId, WorkspaceId, ItemType or JobType is missing or malformed; answering JobInstanceNotFound`);
    return jobStateResponse(JOB_NOT_FOUND_STATE);
  }
  if (lookup.found !== 'record') {
    const why = lookup.found === 'none' ? 'no row' : 'the row is not of this tenant, workspace, item type and job type';
    log.info(`job ${path.itemId}/${path.jobInstanceId}: ${why}; answering JobInstanceNotFound`);
    return jobStateResponse(JOB_NOT_FOUND_STATE);
  }
  const { record } = lookup;
  log.info(`job ${path.itemId}/${path.jobInstanceId}: ${record.status} (tenant ${caller.tenantId}, app ${caller.appId})`);
  return jobStateResponse(toItemJobInstanceState(record));
}

function logFailure(log: RequestLog, error: unknown): void {
  if (error instanceof AuthError) {
    log.warn(`authentication failed: ${error.reason}`);
  } else if (error instanceof FabricError) {
    const line = `${error.status} ${error.errorCode}: ${error.logDetail ?? error.message}`;
    if (error.status >= 500) log.error(line);
    else log.info(line);
  } else {
    log.error(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
