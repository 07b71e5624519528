import { describe, expect, it } from 'vitest';
import { codePointLength, cutText } from '../../src/text';

const EMOJI = '\u{1F600}'; // two UTF-16 code units, one code point
const HIGH = EMOJI[0];
const LOW = EMOJI[1];

describe('cutText', () => {
  it.each([
    ['a text shorter than the bound, as it is', 'abc', 5, 'abc'],
    ['a text of exactly the bound, as it is', 'abc', 3, 'abc'],
    ['a longer text, to the bound', 'abcdef', 4, 'abcd'],
    ['a bound of 0, to nothing', 'abc', 0, ''],
    ['a negative bound, to nothing', 'abc', -1, ''],
    ['a cut after a whole pair, keeping it', `a${EMOJI}b`, 3, `a${EMOJI}`],
    ['a cut between the halves of a pair, dropping the high half', `a${EMOJI}b`, 2, 'a'],
    ['a cut inside the first pair, to nothing', `${EMOJI}${EMOJI}`, 1, ''],
    ['an emoji text exactly at the bound, as it is', `${EMOJI}${EMOJI}`, 4, `${EMOJI}${EMOJI}`],
  ])('cuts %s', (_name, text, maxUnits, expected) => {
    expect(cutText(text, maxUnits)).toBe(expected);
  });

  it('never ends in a lone high surrogate, wherever it cuts a text of pairs', () => {
    const text = `x${EMOJI}y${EMOJI}${EMOJI}z`;
    for (let maxUnits = 0; maxUnits <= text.length; maxUnits++) {
      const cut = cutText(text, maxUnits);
      expect(cut.length, `at ${maxUnits}`).toBeLessThanOrEqual(maxUnits);
      expect(text.startsWith(cut)).toBe(true);
      expect(cut.endsWith(HIGH), `at ${maxUnits}`).toBe(false);
      expect(() => encodeURIComponent(cut), `at ${maxUnits}`).not.toThrow(); // throws on a lone surrogate
    }
  });
});

describe('codePointLength', () => {
  it.each([
    ['the empty text', '', 0],
    ['plain text by its characters', 'abc', 3],
    ['an emoji as one', EMOJI, 1],
    ['emoji among letters, each as one', `a${EMOJI}b${EMOJI}`, 4],
    ['a lone high surrogate as one', HIGH, 1],
    ['a lone low surrogate as one', LOW, 1],
    ['a high surrogate followed by a letter as two', `${HIGH}a`, 2],
    ['a low surrogate before a high one as two (not a pair)', `${LOW}${HIGH}`, 2],
  ])('counts %s', (_name, text, expected) => {
    expect(codePointLength(text)).toBe(expected);
  });

  it('agrees with the string iterator, which counts code points', () => {
    const text = `${EMOJI}é${HIGH}x${LOW}${EMOJI}`;
    expect(codePointLength(text)).toBe([...text].length);
  });
});
