import type { HttpHandler, HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type {
  AuthenticatedApp,
  AuthenticatedCaller,
  AuthenticatedTenantCall,
  AuthHeaders,
} from '../auth/subjectAndAppAuthenticator';
import { AuthError, describeError, FabricError } from '../fabric/errors';
import { toErrorResponse } from '../fabric/responses';
import { isGuid } from '../ids';
import { describeUnexpected } from '../logValue';
import type { RequestLog } from '../telemetry/log';
import type { SummaryFields } from '../telemetry/summary';
import type { SummaryWriter } from '../telemetry/summaryWriter';
import { readJsonBody } from './requestBody';
import { correlationHeaders, createRequestLog, readCorrelation } from './requestLog';

/** What every operation is handed once the shared steps have passed. */
export interface OperationInput<Path, Body, Caller extends AuthenticatedApp = AuthenticatedCaller> {
  path: Path;
  caller: Caller;
  body: Body;
  log: RequestLog;
  /** The request's URL as the host received it (the app's own base URL, when nothing else names it). */
  url: string;
}

/**
 * One operation of Fabric's workload API, declared: where it lives, what it
 * parses, and the one thing it does. Everything else (correlation and the
 * request log, authentication, the order of the checks, error answers) is
 * the pipeline's, written once in `toHttpHandler`.
 */
export interface Operation<Path = unknown, Body = undefined, Caller extends AuthenticatedApp = AuthenticatedCaller> {
  /** The contract's operation id, e.g. Jobs_CreateItemJobInstance; also the function's name. */
  name: string;
  method: HttpMethod;
  /**
   * How Fabric authenticates this call. `subjectAndApp` (the default): both
   * tokens and x-ms-client-tenant-id, the caller is a tenant's user.
   * `appOnly`: the app token alone proves Fabric called, for calls made for no
   * tenant (endpoint resolution); such an operation must declare Caller = AuthenticatedApp.
   * `subjectOptional`: a tenant's call that may come with no user (the
   * toolkit's OnDeleteItem, OnRestoreItem): the app token and
   * x-ms-client-tenant-id always, the subject token checked when sent; Caller =
   * AuthenticatedTenantCall, and the summary says which it was.
   */
  auth?: 'subjectAndApp' | 'appOnly' | 'subjectOptional';
  /** Functions route template, relative to the `api` prefix; no constraints, so bad ids reach parsePath. */
  route: string;
  /** Checks the route values; throws InvalidParameterError. Runs before authentication. */
  parsePath(params: Record<string, string | undefined>): Path;
  /** Checks the JSON body (read with a size bound after authentication); absent: the operation reads no body. */
  parseBody?(body: unknown): Body;
  /** The body's bound, when it is not MAX_BODY_BYTES (item definitions are larger). */
  maxBodyBytes?: number;
  /** An empty body is read as `{}` instead of refused. */
  bodyOptional?: boolean;
  run(input: OperationInput<Path, Body, Caller>): Promise<HttpResponseInit>;
}

export interface Authenticator {
  authenticate(headers: AuthHeaders): Promise<AuthenticatedCaller>;
  authenticateApp(authorization: string | null): Promise<AuthenticatedApp>;
  authenticateWithOptionalSubject(headers: AuthHeaders): Promise<AuthenticatedTenantCall>;
}

/**
 * The request pipeline every operation runs through, in this order:
 * correlation → path → authentication → body → the operation; any error ends
 * in toErrorResponse, its details in the log only; the correlation ids are
 * echoed on every answer. Every request ends with one RequestSummary line.
 */
export function toHttpHandler<Path, Body, Caller extends AuthenticatedApp>(
  operation: Operation<Path, Body, Caller>,
  authenticator: Authenticator,
  summaries: SummaryWriter,
): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const started = performance.now();
    const correlation = readCorrelation(request.headers);
    const summary: SummaryFields = { operation: operation.name };
    const log = createRequestLog(context, correlation, summary, summaries);
    if (!correlation.activityId || !correlation.requestId)
      log.info('request has no usable ActivityId or RequestId header');
    let response: HttpResponseInit;
    try {
      const path = operation.parsePath(request.params);
      Object.assign(summary, pathFields(path));
      const caller = (await authenticateCall(operation.auth, request, authenticator)) as Caller;
      Object.assign(summary, callerFields(caller));
      const body = (
        operation.parseBody
          ? operation.parseBody(await readJsonBody(request, operation.maxBodyBytes, operation.bodyOptional))
          : undefined
      ) as Body;
      response = await operation.run({ path, caller, body, log, url: request.url });
    } catch (error) {
      logFailure(log, error);
      response = toErrorResponse(error);
      Object.assign(summary, failureFields(error, request.headers.get('x-ms-client-tenant-id')));
    }
    response.headers = { ...(response.headers as Record<string, string>), ...correlationHeaders(correlation) };
    summaries.write(context, 'RequestSummary', {
      ...summary,
      statusCode: response.status ?? 200,
      activityId: correlation.activityId,
      requestId: correlation.requestId,
      durationMs: Math.round(performance.now() - started),
    });
    return response;
  };
}

/** The operation's authentication mode, applied to the request's headers. */
function authenticateCall(
  mode: Operation['auth'],
  request: HttpRequest,
  authenticator: Authenticator,
): Promise<AuthenticatedApp> {
  const authorization = request.headers.get('authorization');
  if (mode === 'appOnly') return authenticator.authenticateApp(authorization);
  const headers = { authorization, clientTenantId: request.headers.get('x-ms-client-tenant-id') };
  return mode === 'subjectOptional'
    ? authenticator.authenticateWithOptionalSubject(headers)
    : authenticator.authenticate(headers);
}

/** The authenticated tenant, and for a call that may come without a user, whether one came. */
function callerFields(caller: AuthenticatedApp): SummaryFields {
  const fields: SummaryFields = {};
  if ('tenantId' in caller) fields.tenantId = (caller as AuthenticatedCaller).tenantId;
  if ('user' in caller) fields.subject = (caller as AuthenticatedTenantCall).user ? 'user' : 'none';
  return fields;
}

function logFailure(log: RequestLog, error: unknown): void {
  if (error instanceof AuthError) {
    log.warn(`authentication failed: ${error.reason}`);
  } else if (error instanceof FabricError) {
    const line = `${error.status} ${error.errorCode}: ${describeError(error)}`;
    if (error.status >= 500) log.error(line);
    else log.info(line);
  } else {
    log.error(`unexpected error: ${describeUnexpected(error)}`);
  }
}

const PATH_FIELDS = ['workspaceId', 'itemType', 'itemId', 'jobType', 'jobInstanceId'] as const;

/** The ids of a parsed (so validated) path; nothing of a path that failed its checks reaches the summary. */
function pathFields(path: unknown): SummaryFields {
  const fields: SummaryFields = {};
  if (typeof path !== 'object' || path === null) return fields;
  for (const name of PATH_FIELDS) {
    const value = (path as Record<string, unknown>)[name];
    if (typeof value === 'string') fields[name] = value;
  }
  return fields;
}

/** The answer's errorCode, the failed authentication rule, and on a 401 the tenant the request claimed (when it is a GUID). */
function failureFields(error: unknown, claimedTenant: string | null): SummaryFields {
  if (error instanceof AuthError) {
    return {
      errorCode: error.errorCode,
      authRule: error.rule,
      tenantId: isGuid(claimedTenant) ? claimedTenant.toLowerCase() : undefined,
    };
  }
  return { errorCode: error instanceof FabricError ? error.errorCode : 'InternalError' };
}
