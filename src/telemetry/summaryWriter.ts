import type { InvocationContext } from '@azure/functions';
import type { TokenCredential } from '@azure/identity';
import { describeUnexpected } from '../logValue';
import type { ExportRecord, ExportSeverity, SummaryExport } from './exportPipeline';
import { readableSummary, summaryLine, summaryRecord, type SummaryEvent, type SummaryFields } from './summary';

/** Where the summary lines go: the telemetry settings (src/config/ reads them). */
export interface TelemetryConfig {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING, the setting the Functions host reads too; absent: no export. */
  connectionString?: string;
  /**
   * From APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD[;ClientId=…]`):
   * send with a managed identity's Entra token, for a resource that refuses keys.
   */
  entraAuthentication?: { clientId?: string };
  /** `export` (default) or `log`: SUMMARY_TELEMETRY=log keeps summaries in the Functions log even with Application Insights. */
  summaries: 'export' | 'log';
  /** cloud_RoleName of the exported records: WEBSITE_SITE_NAME, as the host reports it. */
  roleName: string;
}

/**
 * Where summary lines go. Both forms carry the same fields (summaryRecord):
 * - log: one JSON line through the invocation's log (the Functions host puts
 *   it in traces.message), the form without Application Insights: local runs;
 * - export: an OpenTelemetry log record whose attributes become the trace's
 *   custom dimensions, sent from this process to Application Insights.
 * Never both for one summary: each is one trace row, billed once.
 */
export interface SummaryWriter {
  write(context: InvocationContext, event: SummaryEvent, fields: SummaryFields): void;
  /** Sends what the export has buffered, waiting FLUSH_BOUND_MS at most (nothing to do for the log form). */
  flush(): Promise<void>;
}

/** 5xx answers are errors, 401s warnings (a burst of them is an alert), everything else information. */
export function summarySeverity(event: SummaryEvent, fields: SummaryFields): ExportSeverity {
  if (event !== 'RequestSummary') return 'info';
  const status = Number(fields.statusCode);
  if (status >= 500) return 'error';
  return status === 401 ? 'warn' : 'info';
}

export const logSummaryWriter: SummaryWriter = {
  write: (context, event, fields) => context[summarySeverity(event, fields)](summaryLine(event, fields)),
  flush: () => Promise.resolve(),
};

export type StartExport = () => SummaryExport;

/** Summaries buffered while the export pipeline loads; more than this and the oldest are logged instead. */
const MAX_PENDING = 1000;
/** How long a shutdown waits for buffered summaries to go out: a failing endpoint must not hold it for the exporter's 30 s. */
export const FLUSH_BOUND_MS = 3000;

/**
 * The export form. Its packages load after the first summary (setImmediate,
 * so the first answer is on its way first); summaries until then wait in
 * order. If the pipeline cannot start, `warn` says why once and every
 * summary falls back to the log form: a summary is never lost silently.
 */
export function exportingSummaryWriter(start: StartExport, warn: (message: string) => void): SummaryWriter {
  let pipeline: SummaryExport | undefined;
  let failed = false;
  let pending: { record: ExportRecord; context: InvocationContext; event: SummaryEvent; fields: SummaryFields }[] = [];

  const load = () => {
    if (pipeline || failed) return; // a flush loaded it before its turn
    try {
      pipeline = start();
      for (const { record } of pending) pipeline.emit(record);
    } catch (error) {
      failed = true;
      warn(
        `summaries go to the Functions log: the Application Insights export did not start: ${describeUnexpected(error, 500)}`,
      );
      for (const { context, event, fields } of pending) logSummaryWriter.write(context, event, fields);
    }
    pending = [];
  };

  return {
    write: (context, event, fields) => {
      if (failed) return logSummaryWriter.write(context, event, fields);
      const attributes = summaryRecord(event, fields);
      const record: ExportRecord = {
        body: readableSummary(attributes),
        severity: summarySeverity(event, fields),
        attributes,
        traceParent: context.traceContext?.traceParent ?? undefined,
        operationName: context.functionName,
        time: new Date(),
      };
      if (pipeline) return pipeline.emit(record);
      if (pending.length === 0) setImmediate(load);
      if (pending.length >= MAX_PENDING) {
        const oldest = pending.shift()!;
        logSummaryWriter.write(oldest.context, oldest.event, oldest.fields);
      }
      pending.push({ record, context, event, fields });
    },
    flush: async () => {
      if (!pipeline && !failed && pending.length > 0) load(); // stopping before the scheduled load ran
      if (!pipeline) return;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_BOUND_MS)));
      await Promise.race([pipeline.flush().catch(() => undefined), bound]);
      clearTimeout(timer);
    },
  };
}

/**
 * The writer the settings ask for: export when Application Insights is
 * configured (APPLICATIONINSIGHTS_CONNECTION_STRING) and SUMMARY_TELEMETRY is
 * not `log`; the log form otherwise.
 */
export function summaryWriterFor(
  telemetry: TelemetryConfig,
  credential: () => TokenCredential,
  warn: (message: string) => void,
): SummaryWriter {
  if (telemetry.connectionString === undefined || telemetry.summaries === 'log') return logSummaryWriter;
  const { connectionString, entraAuthentication, roleName } = telemetry;
  return exportingSummaryWriter(() => {
    // The pipeline's own bundle (dist/app/telemetry.js), loaded here and only here.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startSummaryExport } = require('./exportPipeline') as typeof import('./exportPipeline');
    return startSummaryExport({
      connectionString,
      roleName,
      credential: entraAuthentication ? credential() : undefined,
      onFailure: warn,
    });
  }, warn);
}
