import type { HttpHandler, HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AuthenticatedApp, AuthenticatedCaller, AuthHeaders } from '../auth/subjectAndAppAuthenticator';
import { AuthError, FabricError } from '../fabric/errors';
import { toErrorResponse } from '../fabric/responses';
import { readJsonBody } from './requestBody';
import { correlationHeaders, createRequestLog, readCorrelation, type RequestLog } from './requestLog';

/** What every operation is handed once the shared steps have passed. */
export interface OperationInput<Path, Body, Caller extends AuthenticatedApp = AuthenticatedCaller> {
  path: Path;
  caller: Caller;
  body: Body;
  log: RequestLog;
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
   */
  auth?: 'subjectAndApp' | 'appOnly';
  /** Functions route template, relative to the `api` prefix; no constraints, so bad ids reach parsePath. */
  route: string;
  /** Checks the route values; throws InvalidParameterError. Runs before authentication. */
  parsePath(params: Record<string, string | undefined>): Path;
  /** Checks the JSON body (read with a size bound after authentication); absent: the operation reads no body. */
  parseBody?(body: unknown): Body;
  run(input: OperationInput<Path, Body, Caller>): Promise<HttpResponseInit>;
}

export interface Authenticator {
  authenticate(headers: AuthHeaders): Promise<AuthenticatedCaller>;
  authenticateApp(authorization: string | null): Promise<AuthenticatedApp>;
}

/**
 * The request pipeline every operation runs through, in this order:
 * correlation → path → authentication → body → the operation; any error ends
 * in toErrorResponse, its details in the log only; the correlation ids are
 * echoed on every answer.
 */
export function toHttpHandler<Path, Body, Caller extends AuthenticatedApp>(
  operation: Operation<Path, Body, Caller>,
  authenticator: Authenticator,
): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const correlation = readCorrelation(request.headers);
    const log = createRequestLog(context, correlation);
    if (!correlation.activityId || !correlation.requestId) log.info('request has no usable ActivityId or RequestId header');
    let response: HttpResponseInit;
    try {
      const path = operation.parsePath(request.params);
      const authorization = request.headers.get('authorization');
      const caller = (
        operation.auth === 'appOnly'
          ? await authenticator.authenticateApp(authorization)
          : await authenticator.authenticate({ authorization, clientTenantId: request.headers.get('x-ms-client-tenant-id') })
      ) as Caller;
      const body = (operation.parseBody ? operation.parseBody(await readJsonBody(request)) : undefined) as Body;
      response = await operation.run({ path, caller, body, log });
    } catch (error) {
      logFailure(log, error);
      response = toErrorResponse(error);
    }
    response.headers = { ...(response.headers as Record<string, string>), ...correlationHeaders(correlation) };
    return response;
  };
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
