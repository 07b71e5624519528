/**
 * Every length bound that cuts text cuts on a code-point boundary: a cut
 * between the two halves of a surrogate pair leaves text that JSON readers,
 * log viewers and Application Insights show as garbage or refuse.
 */
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { describeUnexpected, forLog } from '../../src/logValue';
import { describeStorageError } from '../../src/storage/storageErrors';
import { summaryRecord } from '../../src/telemetry/summary';

/** 'a', then emoji: a cut at any even length falls inside a pair. */
const EMOJI_TEXT = `a${'😀'.repeat(3000)}`;

function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** The JSON an escaping step made of the text, read back: a lone half shows up as a \\udXXX escape. */
function readBack(text: string): string {
  return text.replace(/\\u(d[89a-f][0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe('cuts at a length bound never split a surrogate pair', () => {
  it('forLog', () => {
    const line = forLog(EMOJI_TEXT);
    expect(hasLoneSurrogate(readBack(line))).toBe(false);
    expect(line.endsWith('…"')).toBe(true);
  });

  it('describeUnexpected', () => {
    // The JSON text is '"a' and then emoji: 101 units would end in half of one.
    const line = describeUnexpected(EMOJI_TEXT, 101);
    expect(hasLoneSurrogate(readBack(line))).toBe(false);
    expect(line.length).toBeLessThanOrEqual(101);
  });

  it('a summary value', () => {
    const value = summaryRecord('RequestSummary', { operation: EMOJI_TEXT }).operation as string;
    expect(hasLoneSurrogate(value)).toBe(false);
    expect(EMOJI_TEXT.startsWith(value)).toBe(true);
  });

  it('a transport error’s message', () => {
    const described = describeStorageError({ name: 'Error', message: EMOJI_TEXT });
    expect(hasLoneSurrogate(described)).toBe(false);
  });

  it('a bad region name in ENDPOINT_RESOLUTION_URLS', () => {
    let problem = '';
    try {
      readConfig({ ENDPOINT_RESOLUTION_URLS: JSON.stringify({ [EMOJI_TEXT]: 'https://example.invalid' }) });
    } catch (error) {
      problem = String((error as Error).message);
    }
    expect(problem).toContain('is not');
    expect(hasLoneSurrogate(readBack(problem))).toBe(false);
  });
});
