import { InvocationContext } from '@azure/functions';
import { trace } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { invocationContext, type ExportRecord, type SummaryExport } from '../../../src/telemetry/exportPipeline';
import {
  exportingSummaryWriter,
  FLUSH_BOUND_MS,
  logSummaryWriter,
  summarySeverity,
} from '../../../src/telemetry/summaryWriter';

function capturingContext(traceParent?: string): { context: InvocationContext; lines: [string, string][] } {
  const lines: [string, string][] = [];
  const context = new InvocationContext({
    functionName: 'Jobs_GetItemJobInstanceState',
    traceContext: traceParent ? { traceParent } : undefined,
    logHandler: (level, ...args) => lines.push([level, args.map(String).join(' ')]),
  });
  return { context, lines };
}

function recordingExport(): SummaryExport & { records: ExportRecord[] } {
  const records: ExportRecord[] = [];
  return { records, emit: (record) => void records.push(record), flush: () => Promise.resolve() };
}

describe('summarySeverity', () => {
  it('5xx error, 401 warning, the rest and every transition information', () => {
    expect(summarySeverity('RequestSummary', { statusCode: 503 })).toBe('error');
    expect(summarySeverity('RequestSummary', { statusCode: 401 })).toBe('warn');
    expect(summarySeverity('RequestSummary', { statusCode: 404 })).toBe('info');
    expect(summarySeverity('JobTransition', { jobStatus: 'Failed' })).toBe('info');
  });
});

describe('logSummaryWriter', () => {
  it('writes the JSON line at the summary severity', () => {
    const { context, lines } = capturingContext();
    logSummaryWriter.write(context, 'RequestSummary', { operation: 'X', statusCode: 500 });
    expect(lines).toEqual([['error', '{"event":"RequestSummary","operation":"X","statusCode":500}']]);
  });
});

describe('exportingSummaryWriter', () => {
  it('loads the pipeline after the first summary, then sends in order: the readable line, the fields, the trace', async () => {
    const pipeline = recordingExport();
    let starts = 0;
    const writer = exportingSummaryWriter(
      () => (starts++, pipeline),
      () => undefined,
    );
    const traceParent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const { context, lines } = capturingContext(traceParent);
    writer.write(context, 'RequestSummary', { operation: 'Op', statusCode: 200, requestId: 'r1' });
    writer.write(context, 'JobTransition', { operation: 'Op', jobStatus: 'Completed', requestId: 'r2' });
    expect(starts).toBe(0); // not during the request
    await sleep(5);
    writer.write(context, 'RequestSummary', { operation: 'Op', statusCode: 401, requestId: 'r3' });
    expect(starts).toBe(1);
    expect(pipeline.records.map((r) => [r.attributes.requestId, r.severity])).toEqual([
      ['r1', 'info'],
      ['r2', 'info'],
      ['r3', 'warn'],
    ]);
    expect(pipeline.records[0]).toEqual({
      body: 'Op 200 · requestId=r1',
      severity: 'info',
      attributes: { event: 'RequestSummary', operation: 'Op', statusCode: 200, requestId: 'r1' },
      traceParent,
      operationName: 'Jobs_GetItemJobInstanceState',
      time: expect.any(Date),
    });
    expect(lines).toEqual([]); // never also in the Functions log
  });

  it('cuts long values in the fields and the line alike', async () => {
    const pipeline = recordingExport();
    const writer = exportingSummaryWriter(
      () => pipeline,
      () => undefined,
    );
    writer.write(capturingContext().context, 'RequestSummary', { operation: 'Op', errorCode: 'E'.repeat(1000) });
    await sleep(5);
    expect(pipeline.records[0].attributes.errorCode).toHaveLength(256);
    expect(pipeline.records[0].body.length).toBeLessThan(300);
  });

  it('falls back to the Functions log, and says why once, when the pipeline cannot start', async () => {
    const warnings: string[] = [];
    const writer = exportingSummaryWriter(
      () => {
        throw new Error('Cannot find module ./telemetry.js');
      },
      (message) => warnings.push(message),
    );
    const first = capturingContext();
    writer.write(first.context, 'RequestSummary', { operation: 'Op', statusCode: 200, requestId: 'r1' });
    await sleep(5);
    const later = capturingContext();
    writer.write(later.context, 'RequestSummary', { operation: 'Op', statusCode: 200, requestId: 'r2' });
    expect(first.lines).toEqual([['information', expect.stringContaining('"requestId":"r1"')]]);
    expect(later.lines).toEqual([['information', expect.stringContaining('"requestId":"r2"')]]);
    expect(warnings).toEqual([expect.stringContaining('Cannot find module ./telemetry.js')]);
    expect(warnings[0]).toMatch(/^summaries go to the Functions log: /);
  });
});

describe('invocationContext', () => {
  it("is the host's span from a W3C traceparent", () => {
    const span = trace.getSpanContext(invocationContext(`00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`)!);
    expect(span).toEqual({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1, isRemote: true });
  });

  it('is absent for anything else', () => {
    for (const bad of [
      undefined,
      '',
      'garbage',
      `00-${'0'.repeat(32)}-${'2'.repeat(16)}-01`,
      `00-${'1'.repeat(32)}-${'0'.repeat(16)}-01`,
      `01-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      `00-${'A'.repeat(32)}-${'2'.repeat(16)}-01`,
    ]) {
      expect(invocationContext(bad)).toBeUndefined();
    }
  });
});

describe('flush', () => {
  it('loads a pipeline still waiting for its turn, and waits for it at most FLUSH_BOUND_MS', async () => {
    vi.useFakeTimers();
    try {
      const hanging: SummaryExport & { records: ExportRecord[] } = {
        ...recordingExport(),
        flush: () => new Promise<void>(() => undefined),
      };
      let starts = 0;
      const writer = exportingSummaryWriter(
        () => (starts++, hanging),
        () => undefined,
      );
      writer.write(capturingContext().context, 'RequestSummary', { operation: 'Op', statusCode: 200 });
      let flushed = false;
      void writer.flush().then(() => (flushed = true)); // before the scheduled load ran
      expect(hanging.records).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(FLUSH_BOUND_MS - 1);
      expect(flushed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(flushed).toBe(true);
      expect(starts).toBe(1); // the load scheduled by the write found the pipeline started
    } finally {
      vi.useRealTimers();
    }
  });
});
