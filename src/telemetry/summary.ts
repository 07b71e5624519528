import { escapeUnescapedByJson } from '../logValue';
import { cutText } from '../text';

/**
 * The summary lines an operator queries: one per HTTP request (RequestSummary)
 * and one per job state change (JobTransition), each a flat JSON object of
 * the named fields below. SUMMARY_FIELDS is the one list of those names: the
 * code writes only these, docs/operations.md queries only these, and a test
 * holds the two together.
 */
export const SUMMARY_FIELDS = [
  /** RequestSummary or JobTransition. */
  'event',
  /** The contract's operation id (Jobs_GetItemJobInstanceState, …) or the queue function's name. */
  'operation',
  /** The HTTP status answered (RequestSummary). */
  'statusCode',
  /** The ErrorResponse's errorCode (RequestSummary) or the job's errorDetails.errorCode (JobTransition). */
  'errorCode',
  /** The authentication rule that failed, e.g. appToken.audience (401 only). */
  'authRule',
  /** The tenant: authenticated, or on a 401 the x-ms-client-tenant-id it claimed when that is a GUID. */
  'tenantId',
  /** On a call that may come without a user (the toolkit's OnDeleteItem, OnRestoreItem): `user` or `none`. */
  'subject',
  'workspaceId',
  'itemType',
  'itemId',
  'jobType',
  'jobInstanceId',
  /** The job's status: answered (Get, Cancel) or written (JobTransition). */
  'jobStatus',
  /** The status a JobTransition left. */
  'previousStatus',
  /** A poll that replaced its job's stored user token with its own (`refreshed`); never the token. */
  'userToken',
  'activityId',
  'requestId',
  /** The request's time in this process; for a job ending, its run time from StartTimeUtc. */
  'durationMs',
] as const;

export type SummaryField = (typeof SUMMARY_FIELDS)[number];
export type SummaryFields = Partial<Record<SummaryField, string | number>>;

export const SUMMARY_EVENTS = ['RequestSummary', 'JobTransition'] as const;
export type SummaryEvent = (typeof SUMMARY_EVENTS)[number];

/** Longest string value kept; ids and codes are far shorter, anything longer did not come from this app. */
const MAX_VALUE_LENGTH = 256;
const FIELD_SET: ReadonlySet<string> = new Set(SUMMARY_FIELDS);

/**
 * The summary's fields in SUMMARY_FIELDS order, `event` first, absent ones
 * left out, every string cut: what both the JSON line and the exported
 * record's custom dimensions carry.
 */
export function summaryRecord(event: SummaryEvent, fields: SummaryFields): Record<string, string | number> {
  const ordered: Record<string, string | number> = { event };
  for (const name of SUMMARY_FIELDS) {
    const value = fields[name];
    if (name === 'event' || value === undefined) continue;
    ordered[name] = typeof value === 'number' ? value : cutText(String(value), MAX_VALUE_LENGTH);
  }
  return ordered;
}

/**
 * The summary as one line of JSON, every string escaped, so no value
 * (however it was written) can break the line or add a field.
 */
export function summaryLine(event: SummaryEvent, fields: SummaryFields): string {
  return escapeUnescapedByJson(JSON.stringify(summaryRecord(event, fields)));
}

/** The fields of a summary line, or undefined for any other line. */
export function parseSummaryLine(line: string): (SummaryFields & { event: SummaryEvent }) | undefined {
  if (!line.startsWith('{"event":"')) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (!SUMMARY_EVENTS.includes(parsed.event as SummaryEvent)) return undefined;
    if (!Object.keys(parsed).every((key) => FIELD_SET.has(key))) return undefined;
    return parsed as SummaryFields & { event: SummaryEvent };
  } catch {
    return undefined;
  }
}

/** A person's one-line rendering, for the local host's console. */
export function readableSummary(fields: SummaryFields): string {
  const { event, operation, statusCode, errorCode, authRule, jobStatus, previousStatus, durationMs, ...ids } = fields;
  const head =
    event === 'JobTransition'
      ? `${plain(operation)} job ${plain(previousStatus ?? '?')} → ${plain(jobStatus)}${errorCode ? ` (${plain(errorCode)})` : ''}`
      : `${plain(operation)} ${plain(statusCode)}${errorCode ? ` ${plain(errorCode)}` : ''}${authRule ? ` [${plain(authRule)}]` : ''}${jobStatus ? ` job ${plain(jobStatus)}` : ''}`;
  const time = durationMs === undefined ? '' : ` ${plain(durationMs)} ms`;
  const rest = Object.entries(ids)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${plain(value)}`)
    .join(' ');
  return `${head}${time}${rest ? ` · ${rest}` : ''}`;
}

/** Ids, codes and numbers as they are; anything else quoted and escaped, so it stays on its line. */
function plain(value: string | number | undefined): string {
  const text = String(value);
  return /^[A-Za-z0-9._:@?-]*$/.test(text) ? text : escapeUnescapedByJson(JSON.stringify(text));
}
