import { describe, expect, it } from 'vitest';
import { parseSummaryLine, readableSummary, summaryLine } from '../../../src/telemetry/summary';

describe('summary lines', () => {
  it('are one JSON object in the fixed field order, absent fields left out', () => {
    expect(
      summaryLine('RequestSummary', { durationMs: 3, operation: 'Op', statusCode: 200, errorCode: undefined }),
    ).toBe('{"event":"RequestSummary","operation":"Op","statusCode":200,"durationMs":3}');
  });

  it('escape and cut any value, so no value breaks the line or adds a field', () => {
    const line = summaryLine('JobTransition', { errorCode: 'a\u2028b\r\n"x":1,' + 'z'.repeat(400) });
    expect(line).not.toMatch(/[\r\n\u2028]/);
    expect(Object.keys(parseSummaryLine(line)!)).toEqual(['event', 'errorCode']);
    expect(String(parseSummaryLine(line)!.errorCode).length).toBe(256);
    expect(readableSummary(parseSummaryLine(line)!)).not.toMatch(/[\r\n\u2028]/);
  });

  it('are told apart from other lines, including JSON with unknown fields', () => {
    expect(parseSummaryLine('authentication failed: x')).toBeUndefined();
    expect(parseSummaryLine('{"event":"RequestSummary","token":"eyJ"}')).toBeUndefined();
    expect(parseSummaryLine('{"event":"Other"}')).toBeUndefined();
  });

  it('read as one line for a person', () => {
    expect(
      readableSummary({
        event: 'RequestSummary',
        operation: 'Op',
        statusCode: 401,
        errorCode: 'AuthError',
        authRule: 'appToken.audience',
        durationMs: 2,
        tenantId: 't',
      }),
    ).toBe('Op 401 AuthError [appToken.audience] 2 ms · tenantId=t');
    expect(
      readableSummary({
        event: 'JobTransition',
        operation: 'JobRunner',
        previousStatus: 'InProgress',
        jobStatus: 'Failed',
        errorCode: 'JobRunnerLost',
        jobInstanceId: 'j',
      }),
    ).toBe('JobRunner job InProgress → Failed (JobRunnerLost) · jobInstanceId=j');
  });
});
