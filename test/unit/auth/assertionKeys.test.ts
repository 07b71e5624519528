import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AssertionKeys, AssertionSealError } from '../../../src/auth/assertionKeys';
import { readConfig } from '../../../src/config';
import { MINIMAL_SETTINGS as VALID } from '../../fixtures/settings';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ROW = { itemId: randomUUID(), jobInstanceId: randomUUID() };
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ1c2VyIn0.c2lnbmF0dXJl';

describe("the keys that seal a job's copy of its user's token", () => {
  it('opens what it sealed, for the same row only', () => {
    const keys = new AssertionKeys(KEY_A);
    const sealed = keys.seal(TOKEN, ROW);
    expect(keys.open(sealed, ROW)).toBe(TOKEN);
    expect(keys.open(sealed, { itemId: ROW.itemId.toUpperCase(), jobInstanceId: ROW.jobInstanceId })).toBe(TOKEN);
    expect(() => keys.open(sealed, { ...ROW, jobInstanceId: randomUUID() })).toThrow(AssertionSealError);
  });

  it('is ciphertext: no part of the token shows, and two seals of one token differ', () => {
    const keys = new AssertionKeys(KEY_A);
    const one = keys.seal(TOKEN, ROW);
    const two = keys.seal(TOKEN, ROW);
    expect(one).not.toBe(two);
    for (const part of TOKEN.split('.')) expect(one).not.toContain(part);
    expect(one.startsWith(`a1.${keys.currentKeyId}.`)).toBe(true);
  });

  it('fails closed with the wrong key, naming the key id but never the value', () => {
    const sealed = new AssertionKeys(KEY_A).seal(TOKEN, ROW);
    const other = new AssertionKeys(KEY_B);
    let thrown: unknown;
    try {
      other.open(sealed, ROW);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AssertionSealError);
    expect(String((thrown as Error).message)).toMatch(/sealed under key [A-Za-z0-9_-]{8}, which is not configured/);
    expect(String((thrown as Error).message)).not.toContain(sealed);
  });

  it('refuses an altered value', () => {
    const keys = new AssertionKeys(KEY_A);
    const parts = keys.seal(TOKEN, ROW).split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[0] ^= 1;
    parts[3] = flipped.toString('base64url');
    expect(() => keys.open(parts.join('.'), ROW)).toThrow(/does not open/);
    expect(() => keys.open('not sealed', ROW)).toThrow(/not a sealed assertion/);
  });

  it('keeps rows sealed under the previous key readable after a rotation, and seals under the new one', () => {
    const before = new AssertionKeys(KEY_A);
    const sealed = before.seal(TOKEN, ROW);
    const after = new AssertionKeys(KEY_B, KEY_A);
    expect(after.open(sealed, ROW)).toBe(TOKEN);
    expect(after.isCurrent(sealed)).toBe(false);
    expect(after.isCurrent(after.seal(TOKEN, ROW))).toBe(true);
    // Once the previous key is dropped, what it sealed no longer opens.
    expect(() => new AssertionKeys(KEY_B).open(sealed, ROW)).toThrow(AssertionSealError);
  });
});

describe('the assertion key settings', () => {
  it('reads both keys', () => {
    expect(
      readConfig({ ...VALID, USER_ASSERTION_KEY: KEY_A, USER_ASSERTION_KEY_PREVIOUS: KEY_B }).userAssertionKeys,
    ).toEqual({ current: KEY_A, previous: KEY_B });
    expect(readConfig(VALID).userAssertionKeys).toBeUndefined();
  });

  it('refuses a short key without quoting it, and a previous key alone', () => {
    expect(() => readConfig({ ...VALID, USER_ASSERTION_KEY: 'short-key-value' })).toThrow(
      /USER_ASSERTION_KEY must be 43 or more characters/,
    );
    try {
      readConfig({ ...VALID, USER_ASSERTION_KEY: 'short-key-value' });
    } catch (error) {
      expect(String(error)).not.toContain('short-key-value');
    }
    expect(() => readConfig({ ...VALID, USER_ASSERTION_KEY_PREVIOUS: KEY_B })).toThrow(
      /USER_ASSERTION_KEY_PREVIOUS is set without USER_ASSERTION_KEY/,
    );
  });

  it('takes ENTRA_TOKEN_HOST as an https origin, defaulting to the authority host', () => {
    expect(readConfig({ ...VALID, ENTRA_TOKEN_HOST: 'https://127.0.0.1:8443' }).entraTokenHost).toBe(
      'https://127.0.0.1:8443',
    );
    expect(() => readConfig({ ...VALID, ENTRA_TOKEN_HOST: 'http://127.0.0.1:8443' })).toThrow(/ENTRA_TOKEN_HOST/);
    expect(() => readConfig({ ...VALID, ONELAKE_ENDPOINT: 'http://onelake.example' })).toThrow(/ONELAKE_ENDPOINT/);
  });
});
