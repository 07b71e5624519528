import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The keys that seal a running job's copy of its user's token (the
 * assertion the runner exchanges on the user's behalf) on the job's row:
 * AES-256-GCM, a fresh 96-bit nonce per seal, the row's keys as associated
 * data, so a sealed value copied onto another row does not open. The key
 * never sits in the table's storage account (on Azure a Key Vault secret the
 * app reads as a Key Vault reference; locally a generated development key).
 *
 * Two keys for rotation: everything is sealed under the current one; a value
 * sealed under the previous one still opens. Each sealed value names its key
 * by an id derived from the key (not the key), so a value of a key that is no
 * longer configured fails closed with a clear reason.
 *
 * Sealed form: `a1.{keyId}.{nonce}.{ciphertext}.{tag}`, each part base64url.
 */
export class AssertionKeys {
  private readonly current: SealingKey;
  private readonly previous?: SealingKey;

  /** `current` and `previous`: USER_ASSERTION_KEY and USER_ASSERTION_KEY_PREVIOUS, checked by the settings (43+ characters). */
  constructor(current: string, previous?: string) {
    this.current = sealingKey(current);
    if (previous !== undefined) this.previous = sealingKey(previous);
    if (this.previous?.id === this.current.id) this.previous = undefined;
  }

  /** The id of the current key (as sealed values carry it); for logs, never the key. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** Seals `assertion` for the row (itemId, jobInstanceId). */
  seal(assertion: string, row: RowBinding): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(associatedData(row));
    const ciphertext = Buffer.concat([cipher.update(assertion, 'utf8'), cipher.final()]);
    return [VERSION, this.current.id, nonce, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** The assertion a sealed value holds; throws AssertionSealError (never quoting the value) when it does not open. */
  open(sealed: string, row: RowBinding): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new AssertionSealError('it is not a sealed assertion');
    const [, keyId, nonce, ciphertext, tag] = parts as [string, string, string, string, string];
    const key = [this.current, this.previous].find((candidate) => candidate?.id === keyId);
    if (!key) throw new AssertionSealError(`it was sealed under key ${safeId(keyId)}, which is not configured`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(associatedData(row));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new AssertionSealError(`it does not open under key ${key.id} (altered, or sealed for another row)`);
    }
  }

  /** Whether a sealed value is under the current key (a refresh reseals one that is not). */
  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.current.id;
  }
}

/** The row a sealed assertion belongs to. */
export interface RowBinding {
  itemId: string;
  jobInstanceId: string;
}

/** A sealed assertion that cannot be opened: the job's user token is lost, never guessed at. */
export class AssertionSealError extends Error {
  constructor(reason: string) {
    super(`the stored user assertion cannot be used: ${reason}`);
    this.name = 'AssertionSealError';
  }
}

const VERSION = 'a1';
const NONCE_BYTES = 12;

interface SealingKey {
  id: string;
  key: Buffer;
}

/** The AES key is HKDF-SHA256 of the setting's text, so any 256-bit random text (base64, a password generator's) serves. */
function sealingKey(text: string): SealingKey {
  const material = Buffer.from(text.trim(), 'utf8');
  const key = Buffer.from(hkdfSync('sha256', material, SALT, 'user-assertion/aes-256-gcm', 32));
  const id = createHash('sha256').update('user-assertion/key-id').update(key).digest('base64url').slice(0, 8);
  return { id, key };
}

const SALT = Buffer.from('fabric-workload-backend', 'utf8');

function associatedData(row: RowBinding): Buffer {
  return Buffer.from(`${row.itemId.toLowerCase()}/${row.jobInstanceId.toLowerCase()}`, 'utf8');
}

/** A key id as a log may show it: eight base64url characters, or a placeholder. */
function safeId(keyId: string): string {
  return /^[A-Za-z0-9_-]{8}$/.test(keyId) ? keyId : '(malformed)';
}
