/**
 * The development stack's sealing key (USER_ASSERTION_KEY): 32 random bytes
 * in base64, generated once into the data folder (mode 0600) and reused, so
 * that a job sealed by one run of `npm start` still opens in the next. It is
 * a development key: it never leaves this machine, and a deployment has its
 * own (docs/deploy.md).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOutsideAzure } from './tokenIssuer';

export const ASSERTION_KEY_FILE = 'user-assertion-key';
/** What the app's settings accept (src/config/settingRows.ts); 32 bytes in base64 are 44. */
const MIN_KEY_LENGTH = 43;

/** The key file of a data folder. */
export function assertionKeyFile(dataDir: string): string {
  return join(dataDir, ASSERTION_KEY_FILE);
}

/** The folder's key: the one in its file, or a new one written there first. */
export function developmentAssertionKey(dataDir: string): string {
  assertOutsideAzure();
  const file = assertionKeyFile(dataDir);
  const existing = readKey(file);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true });
  // Written whole under another name, then linked into place: a reader never
  // sees half a key, and of two processes making it at once, both use the first.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  return readKey(file)!;
}

function readKey(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = text.trim();
  if (key.length < MIN_KEY_LENGTH)
    throw new Error(`${file} does not hold a key (${MIN_KEY_LENGTH} or more characters); delete it to make a new one`);
  return key;
}
