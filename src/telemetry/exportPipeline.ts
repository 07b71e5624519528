/**
 * Summaries to Application Insights as OpenTelemetry log records: the
 * message is the readable line, every summary field is an attribute, so each
 * reaches the `traces` table as a custom dimension (customDimensions.tenantId,
 * ...), queryable without parsing text.
 *
 * Bundled on its own (dist/app/telemetry.js) and loaded after the first
 * summary of a process, never during a cold start's first request: these
 * packages take 41-74 ms to load (docs/performance.md).
 *
 * Only OpenTelemetry's log SDK and Microsoft's Azure Monitor exporter, not the
 * @azure/monitor-opentelemetry distribution: the distribution also instruments
 * HTTP and the Azure SDK, which the summaries do not need, and costs far more
 * to load and per request (docs/performance.md has the figures).
 */
import type { TokenCredential } from '@azure/identity';
import { AzureMonitorLogExporter, type AzureMonitorExporterOptions } from '@azure/monitor-opentelemetry-exporter';
import { ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { parseTraceParent } from './traceParent';

export type ExportSeverity = 'info' | 'warn' | 'error';

export interface ExportRecord {
  /** The summary as a person reads it: the trace's message. */
  body: string;
  severity: ExportSeverity;
  /** The summary's fields: the trace's custom dimensions. */
  attributes: Record<string, string | number>;
  /** The invocation's W3C traceparent, so the trace joins the host's request (operation_Id). */
  traceParent?: string;
  /** The function's name: the trace's operation_Name, as the host's rows of the invocation have it. */
  operationName?: string;
  /** When the summary was written (it may be sent a little later). */
  time: Date;
}

export interface ExportOptions {
  connectionString: string;
  /** For an Application Insights resource that accepts only Entra tokens (local authentication off). */
  credential?: TokenCredential;
  /** cloud_RoleName: the function app's name, as the Functions host reports it. */
  roleName: string;
  /** Application Insights did not take a batch (refused, no answer, unreachable); called at most once a minute. */
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
/** One attempt to send a batch; the SDK sets no bound, and an endpoint that never answers would hold a socket and its batch for good. */
const SEND_TIMEOUT_MS = 30_000;

export function startSummaryExport(options: ExportOptions): SummaryExport {
  const report = rateLimited(options.onFailure, FAILURE_REPORT_INTERVAL_MS);
  const exporterOptions: AzureMonitorExporterOptions = {
    connectionString: options.connectionString,
    credential: options.credential,
    additionalPolicies: [{ policy: watchingIngestion(report), position: 'perRetry' }],
  };
  const exporter = reportingFailures(new AzureMonitorLogExporter(exporterOptions), report);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': options.roleName }),
    processors: [
      new BatchLogRecordProcessor(exporter, {
        maxQueueSize: MAX_QUEUED_RECORDS,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  const logger = provider.getLogger('fabric-workload-backend');
  return {
    emit: (record) => {
      const severity = SEVERITY[record.severity];
      const attributes: AnyValueMap = { ...record.attributes };
      // The exporter makes this attribute the operation_Name tag, not a custom dimension.
      if (record.operationName) attributes['ai.operation.name'] = record.operationName;
      logger.emit({
        body: record.body,
        severityNumber: severity.number,
        severityText: severity.text,
        attributes,
        timestamp: record.time,
        context: invocationContext(record.traceParent),
      });
    },
    flush: () => provider.forceFlush(),
  };
}

function rateLimited(report: (message: string) => void, intervalMs: number): (message: string) => void {
  let last = -Infinity;
  return (message) => {
    if (Date.now() - last < intervalMs) return;
    last = Date.now();
    report(message);
  };
}

type PipelinePolicy = NonNullable<AzureMonitorExporterOptions['additionalPolicies']>[number]['policy'];

/**
 * Every attempt to send, watched: the exporter keeps a batch that
 * Application Insights refused with 401, 403, 408, 429 or 5xx on local disk
 * and tells its caller all went well, so only here can the app say that
 * summaries are not arriving (a missing role, a wrong setting, an outage).
 * Each attempt also gets a time limit.
 */
function watchingIngestion(report: (message: string) => void): PipelinePolicy {
  return {
    name: 'summaryIngestionWatch',
    sendRequest: async (request, next) => {
      request.timeout = SEND_TIMEOUT_MS;
      try {
        const response = await next(request);
        if (response.status !== 200)
          report(
            `Application Insights answered ${response.status} to a batch of summary records (kept and retried if it is retriable)`,
          );
        return response;
      } catch (error) {
        report(
          `summary records not sent to Application Insights: ${error instanceof Error ? error.message : String(error)}`,
        );
        throw error;
      }
    },
  };
}

/** The exporter, telling the app when it dropped a batch (a 400, say), which OpenTelemetry would only log to its silent diagnostics. */
function reportingFailures(exporter: LogRecordExporter, report: (message: string) => void): LogRecordExporter {
  return {
    export: (records, done) =>
      exporter.export(records, (result) => {
        // ExportResultCode.SUCCESS is 0.
        if (result.code !== 0)
          report(
            `${records.length} summary record(s) not delivered to Application Insights: ${result.error?.message ?? 'unknown error'}`,
          );
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: exporter.forceFlush && (() => exporter.forceFlush!()),
  };
}

/** The span the Functions host opened for this invocation, from its W3C traceparent. */
export function invocationContext(traceParent: string | undefined): Context | undefined {
  const parsed = parseTraceParent(traceParent);
  if (!parsed) return undefined;
  const traceFlags = parsed.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags,
    isRemote: true,
  });
}
