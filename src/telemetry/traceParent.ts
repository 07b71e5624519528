/** A W3C traceparent (version 00), as the Functions host hands one to each invocation. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parts of a valid traceparent; undefined for anything else, all-zero ids included. */
export function parseTraceParent(text: string | null | undefined): TraceParent | undefined {
  const match = typeof text === 'string' ? TRACE_PARENT.exec(text) : null;
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  return { traceId: match[1], spanId: match[2], sampled: (parseInt(match[3], 16) & 1) === 1 };
}
