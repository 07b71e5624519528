/**
 * Summaries to Application Insights as OpenTelemetry log records: the
 * message is the readable line, every summary field is an attribute, so each
 * reaches the `traces` table as a custom dimension (customDimensions.tenantId,
 * ...), queryable without parsing text.
 *
 * Bundled on its own (dist/app/telemetry.js) and loaded after the first
 * summary of a process, never during a cold start's first request: these
 * packages take about 60 ms to load (docs/performance.md).
 *
 * Only OpenTelemetry's log SDK and Microsoft's Azure Monitor exporter, not the
 * @azure/monitor-opentelemetry distribution: the distribution also instruments
 * HTTP and the Azure SDK, which the Functions host already records, and costs
 * more than three times as much to load (docs/decisions.md has the figures).
 */
import type { TokenCredential } from '@azure/identity';
import { AzureMonitorLogExporter } from '@azure/monitor-opentelemetry-exporter';
import { ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';

export type ExportSeverity = 'info' | 'warn' | 'error';

export interface ExportRecord {
  /** The summary as a person reads it: the trace's message. */
  body: string;
  severity: ExportSeverity;
  /** The summary's fields: the trace's custom dimensions. */
  attributes: Record<string, string | number>;
  /** The invocation's W3C traceparent, so the trace joins the host's request (operation_Id). */
  traceParent?: string;
}

export interface ExportOptions {
  connectionString: string;
  /** For an Application Insights resource that accepts only Entra tokens (local authentication off). */
  credential?: TokenCredential;
  /** cloud_RoleName: the function app's name, as the Functions host reports it. */
  roleName: string;
  /** A batch that could not be delivered; called at most once a minute. */
  onFailure(message: string): void;
}

export interface SummaryExport {
  emit(record: ExportRecord): void;
  /** Sends what is buffered; the Functions host's app-terminate hook calls it. */
  flush(): Promise<void>;
}

const SEVERITY: Record<ExportSeverity, { number: SeverityNumber; text: string }> = {
  info: { number: SeverityNumber.INFO, text: 'INFO' },
  warn: { number: SeverityNumber.WARN, text: 'WARN' },
  error: { number: SeverityNumber.ERROR, text: 'ERROR' },
};

/** A burst larger than this within one export interval is dropped rather than held in memory. */
const MAX_QUEUED_RECORDS = 8192;
const FAILURE_REPORT_INTERVAL_MS = 60_000;

export function startSummaryExport(options: ExportOptions): SummaryExport {
  const exporter = reportingFailures(new AzureMonitorLogExporter({ connectionString: options.connectionString, credential: options.credential }), options.onFailure);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': options.roleName }),
    processors: [new BatchLogRecordProcessor(exporter, { maxQueueSize: MAX_QUEUED_RECORDS, maxExportBatchSize: 512, scheduledDelayMillis: 1000 })],
  });
  const logger = provider.getLogger('fabric-workload-backend');
  return {
    emit: (record) => {
      const severity = SEVERITY[record.severity];
      logger.emit({
        body: record.body,
        severityNumber: severity.number,
        severityText: severity.text,
        attributes: record.attributes as AnyValueMap,
        context: invocationContext(record.traceParent),
      });
    },
    flush: () => provider.forceFlush(),
  };
}

/** The exporter, telling the app (not only OpenTelemetry's silent diagnostics) when a batch was lost. */
function reportingFailures(exporter: LogRecordExporter, onFailure: (message: string) => void): LogRecordExporter {
  let lastReport = -Infinity;
  return {
    export: (records, done) =>
      exporter.export(records, (result) => {
        // ExportResultCode.SUCCESS is 0.
        if (result.code !== 0 && Date.now() - lastReport >= FAILURE_REPORT_INTERVAL_MS) {
          lastReport = Date.now();
          onFailure(`${records.length} summary record(s) not delivered to Application Insights: ${result.error?.message ?? 'unknown error'}`);
        }
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: exporter.forceFlush && (() => exporter.forceFlush!()),
  };
}

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span the Functions host opened for this invocation, from its W3C traceparent. */
export function invocationContext(traceParent: string | undefined): Context | undefined {
  const match = traceParent === undefined ? null : TRACE_PARENT.exec(traceParent);
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  const flags = parseInt(match[3], 16) & TraceFlags.SAMPLED;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: match[1], spanId: match[2], traceFlags: flags, isRemote: true });
}
