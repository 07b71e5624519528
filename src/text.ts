/** Lengths and cuts of text, in the units each limit counts. */

/** A Table string property holds at most 32,768 UTF-16 code units (64 KiB). */
export const MAX_STRING_PROPERTY_LENGTH = 32_768;

/**
 * `text` cut to at most `maxUnits` UTF-16 code units, never between the two
 * halves of a surrogate pair: a cut that would leave a lone high surrogate
 * at the end drops it too, so the result is always well-formed.
 */
export function cutText(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  const cut = text.slice(0, Math.max(0, maxUnits));
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Characters as a person (and a JSON schema's maxLength) counts them: code points, an emoji being one. */
export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
