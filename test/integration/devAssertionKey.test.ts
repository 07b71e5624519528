/**
 * npm start's sealing key: generated once into the data folder, owner-only,
 * reused by every later run, and never silently replaced.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertionKeyFile, developmentAssertionKey } from '../../dev/devAssertionKey';
import { readConfig } from '../../src/config';
import { appSettingsOf, devSettings } from '../../dev/devSettings';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-key-test-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('developmentAssertionKey', () => {
  it('writes 32 random bytes in base64 into user-assertion-key, readable by its owner only, in a folder it makes', () => {
    const dir = join(tempDir(), 'not-yet');
    const key = developmentAssertionKey(dir);
    expect(assertionKeyFile(dir)).toBe(join(dir, 'user-assertion-key'));
    expect(readFileSync(assertionKeyFile(dir), 'utf8').trim()).toBe(key);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    if (process.platform !== 'win32') expect(statSync(assertionKeyFile(dir)).mode & 0o777).toBe(0o600);
  });

  it('reuses the key of the folder, and two folders have two keys', () => {
    const dir = tempDir();
    const first = developmentAssertionKey(dir);
    expect(developmentAssertionKey(dir)).toBe(first);
    expect(developmentAssertionKey(tempDir())).not.toBe(first);
  });

  it('is a key the app accepts, with the rest of the development settings', () => {
    const settings = { ...devSettings({}, tempDir()), USER_ASSERTION_KEY: developmentAssertionKey(tempDir()) };
    expect(readConfig(appSettingsOf(settings)).userAssertionKeys).toEqual({ current: settings.USER_ASSERTION_KEY });
  });

  it('refuses a file that holds no key, naming it, rather than replace a key jobs may be sealed under', () => {
    const dir = tempDir();
    writeFileSync(assertionKeyFile(dir), 'short\n');
    expect(() => developmentAssertionKey(dir)).toThrow(`${assertionKeyFile(dir)} does not hold a key`);
    expect(readFileSync(assertionKeyFile(dir), 'utf8')).toBe('short\n');
  });
});
