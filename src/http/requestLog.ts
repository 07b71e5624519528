import type { InvocationContext } from '@azure/functions';
import type { SummaryFields } from '../telemetry/summary';
import type { RequestLog } from '../telemetry/log';
import type { SummaryWriter } from '../telemetry/summaryWriter';

export interface Correlation {
  activityId?: string;
  requestId?: string;
}

interface HeaderSource {
  get(name: string): string | null;
}

// GUIDs in practice; anything else that is short and plain is still echoed.
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reads ActivityId and RequestId; a value that is absent or unsafe to echo is left out. */
export function readCorrelation(headers: HeaderSource): Correlation {
  const pick = (name: string): string | undefined => {
    const value = headers.get(name);
    return value !== null && CORRELATION_ID.test(value) ? value : undefined;
  };
  return { activityId: pick('activityid'), requestId: pick('requestid') };
}

/**
 * Every line carries ActivityId and RequestId, through the Functions
 * invocation context. `summary` is the request's summary in the making: the
 * pipeline writes it once the answer is known, with what `annotate` added.
 */
export function createRequestLog(
  context: InvocationContext,
  correlation: Correlation,
  summary: SummaryFields,
  summaries: SummaryWriter,
): RequestLog {
  const suffix = ` [ActivityId=${correlation.activityId ?? '(none)'} RequestId=${correlation.requestId ?? '(none)'}]`;
  return {
    info: (message) => context.info(message + suffix),
    warn: (message) => context.warn(message + suffix),
    error: (message) => context.error(message + suffix),
    annotate: (fields) => Object.assign(summary, fields),
    transition: (fields) =>
      summaries.write(context, 'JobTransition', {
        operation: summary.operation,
        activityId: correlation.activityId,
        requestId: correlation.requestId,
        ...fields,
      }),
  };
}

/** Echoes the correlation ids on the response, as Fabric's samples do. */
export function correlationHeaders(correlation: Correlation): Record<string, string> {
  const headers: Record<string, string> = {};
  if (correlation.activityId) headers.ActivityId = correlation.activityId;
  if (correlation.requestId) headers.RequestId = correlation.requestId;
  return headers;
}
