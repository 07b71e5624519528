import { describe, expect, it } from 'vitest';
import { secretFree } from '../../../src/clients/secretFree';

const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL3N0b3JhZ2UuYXp1cmUuY29tIn0.c2lnbmF0dXJlLXBhcnQ';

describe('secretFree', () => {
  it('removes tokens, bearer values, SAS query values and keys', () => {
    const text = secretFree(
      `token ${JWT} header Bearer abc.def-ghi url https://x/y?sv=2024&se=2026&sig=AbC%2Fd== AccountKey=Zm9v;SharedAccessSignature=sv=1`,
    );
    expect(text).not.toContain('eyJ');
    expect(text).not.toContain('abc.def-ghi');
    expect(text).not.toContain('AbC%2Fd==');
    expect(text).not.toContain('Zm9v');
    expect(text).toContain('Bearer …');
    expect(text).toContain('sig=…');
    expect(text).toContain('AccountKey=…');
  });

  it('keeps ordinary text, on one line, cut to its length', () => {
    expect(secretFree('The specified blob does not exist.\nRequestId:1\nTime:2')).toBe(
      'The specified blob does not exist. RequestId:1 Time:2',
    );
    expect(secretFree('x'.repeat(500), 10)).toBe(`${'x'.repeat(10)}…`);
    expect(secretFree('a\u2028b')).toBe('a\\u2028b');
  });
});
