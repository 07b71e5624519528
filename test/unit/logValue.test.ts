import { describe, expect, it } from 'vitest';
import { forLog } from '../../src/logValue';

describe('forLog', () => {
  it('quotes strings and escapes CR, LF and other C0 controls', () => {
    expect(forLog('A\r\n2099 info X')).toBe('"A\\r\\n2099 info X"');
    expect(forLog('tab\tnul\u0000')).toBe('"tab\\tnul\\u0000"');
  });

  it('escapes what log viewers may also take for a line break or a terminal command: NEL, C1 controls, DEL, U+2028, U+2029', () => {
    expect(forLog('a\u0085b\u009bc\u007fd\u2028e\u2029f')).toBe('"a\\u0085b\\u009bc\\u007fd\\u2028e\\u2029f"');
  });

  it('cuts long strings, before escaping, so the bound holds for the text shown', () => {
    expect(forLog('k'.repeat(100))).toBe(`"${'k'.repeat(64)}…"`);
    expect(forLog('x'.repeat(300), 200)).toBe(`"${'x'.repeat(200)}…"`);
  });

  it('shows other values by type, arrays one level deep', () => {
    expect([forLog(undefined), forLog(null), forLog(42), forLog(true), forLog({ a: 1 })]).toEqual([
      'undefined',
      'null',
      '42',
      'true',
      'object',
    ]);
    expect(forLog(['a\nb', [1], 2, 3, 4, 5, 6])).toBe('["a\\nb", object, 2, 3, 4, …]');
  });
});
