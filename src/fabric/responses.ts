import type { HttpResponseInit } from '@azure/functions';
import type { ErrorResponse, ItemJobInstanceState } from './contract';
import { FabricError, InternalError } from './errors';

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export function jobStateResponse(state: ItemJobInstanceState): HttpResponseInit {
  return { status: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify(state) };
}

/**
 * The one place that turns an error into an HTTP answer. Anything that is not
 * a FabricError becomes a generic 500: no message or stack of an unexpected
 * error ever reaches the caller.
 */
export function toErrorResponse(error: unknown): HttpResponseInit {
  const known = error instanceof FabricError ? error : new InternalError();
  const body: ErrorResponse = {
    errorCode: known.errorCode,
    message: known.message,
    source: known.source,
    isPermanent: known.isPermanent,
  };
  if (known.messageParameters) body.messageParameters = known.messageParameters;
  if (known.moreDetails) body.moreDetails = known.moreDetails;
  return {
    status: known.status,
    headers: { ...JSON_HEADERS, ...known.headers },
    body: JSON.stringify(body),
  };
}

/** 200 with a JSON body: GetItemPayloadResponse, EndpointResolutionResponse. */
export function jsonResponse(body: object): HttpResponseInit {
  return { status: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

/** 200 with no body: the contract's CreateItem, UpdateItem and DeleteItem answers ("Successfully created", …). */
export function okResponse(): HttpResponseInit {
  return { status: 200, headers: { 'Cache-Control': 'no-store' } };
}

/** 200 with the body `{}`: the toolkit's lifecycle notifications (Learn defines no body; a strict client parses `{}`). */
export function emptyObjectResponse(): HttpResponseInit {
  return jsonResponse({});
}
