import { describe, expect, it } from 'vitest';
import { backoffMs, parseRetryAfter } from '../../../src/clients/retryAfter';

const NOW = Date.parse('2026-01-15T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delay-seconds as milliseconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('1', NOW)).toBe(1000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter('86400', NOW)).toBe(86_400_000);
  });

  it('reads an HTTP date as the time until it, never below 0', () => {
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:59:00 GMT', NOW)).toBe(0);
  });

  it('is undefined when absent or neither', () => {
    for (const value of [null, undefined, '', ' ', '-1', '1.5', '1e3', 'soon', '2026-01-15', '0x10', 'NaN']) {
      expect(parseRetryAfter(value, NOW), String(value)).toBeUndefined();
    }
  });
});

describe('backoffMs', () => {
  it('doubles from 1 s, spread by ±25 %', () => {
    expect(backoffMs(1, 60_000, () => 0)).toBe(750);
    expect(backoffMs(1, 60_000, () => 0.5)).toBe(1000);
    expect(backoffMs(1, 60_000, () => 1)).toBe(1250);
    expect(backoffMs(2, 60_000, () => 0.5)).toBe(2000);
    expect(backoffMs(3, 60_000, () => 0.5)).toBe(4000);
  });

  it('never waits longer than the cap', () => {
    expect(backoffMs(10, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(1, 0, () => 0.5)).toBe(0);
  });

  it('spreads with Math.random by default', () => {
    const waits = new Set(Array.from({ length: 20 }, () => backoffMs(1, 60_000)));
    expect(waits.size).toBeGreaterThan(1);
    for (const wait of waits) expect(wait >= 750 && wait <= 1250).toBe(true);
  });
});
