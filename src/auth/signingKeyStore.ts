import { SigningKeysUnavailableError } from '../fabric/errors';
import { describeUnusable, fetchJwks, type SigningKey, type UnusableEntries } from './jwks';

export interface SigningKeyStoreOptions {
  jwksUri: string;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Deadline of one whole JWKS download. */
  fetchTimeoutMs?: number;
  /** Keys older than this are refetched on next use (Microsoft.IdentityModel: 12 h). */
  refreshIntervalMs?: number;
  /** Least time between two refetches for an unknown kid (Microsoft.IdentityModel: 5 min). */
  unknownKidRefetchIntervalMs?: number;
  /** After a failed fetch while no key is known: wait this long before trying again. */
  coldRetryIntervalMs?: number;
  onFetchFailure?: (message: string) => void;
  /** One line per key set that has unusable entries (weak, malformed, ambiguous), not per download or lookup. */
  onUnusableKeys?: (message: string) => void;
}

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;

/**
 * Entra's signing keys, shared by every request of the process.
 *
 * - Keys are refetched on use once they are `refreshIntervalMs` old, in the
 *   background: meanwhile the cached keys keep answering.
 * - An unknown kid may trigger a refetch: the first at once, later ones at
 *   most once per `unknownKidRefetchIntervalMs`, so random kids cannot turn
 *   into a stream of downloads. Concurrent callers share one download.
 * - A failed refetch keeps the cached keys (and waits the unknown-kid interval
 *   before the next scheduled try); with no key at all, callers get
 *   SigningKeysUnavailableError, an outage rather than bad credentials.
 * - Entries that parseJwks refuses verify nothing; they are reported once per
 *   key set, so a weak key in Entra's JWKS costs one log line, not one per
 *   request or refetch. Their kids count as unknown.
 */
export class SigningKeyStore {
  private keys = new Map<string, SigningKey>();
  private fetchedAt = 0;
  private nextFetchAllowedAt = 0;
  private lastUnknownKidRefetchAt: number | undefined;
  private inFlight: Promise<void> | undefined;
  private downloads = 0;
  private lastUnusableReport: string | undefined;
  private readonly now: () => number;
  private readonly fetchTimeoutMs: number;
  private readonly refreshIntervalMs: number;
  private readonly unknownKidRefetchIntervalMs: number;
  private readonly coldRetryIntervalMs: number;

  constructor(private readonly options: SigningKeyStoreOptions) {
    this.now = options.now ?? Date.now;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 12 * HOUR;
    this.unknownKidRefetchIntervalMs = options.unknownKidRefetchIntervalMs ?? 5 * MINUTE;
    this.coldRetryIntervalMs = options.coldRetryIntervalMs ?? 10 * 1000;
  }

  /**
   * Changes whenever a download replaces the keys, so that anything derived
   * from the old key set (validated tokens) can be dropped.
   */
  get version(): number {
    return this.downloads;
  }

  /**
   * The version, after starting a due refresh in the background: callers that
   * skip getKey (the validated-token cache) must still keep the keys fresh,
   * so that a key which leaves the JWKS ends the tokens it signed.
   */
  versionAfterRefreshCheck(): number {
    if (this.keys.size > 0 && this.isDueForRefresh()) void this.refresh();
    return this.downloads;
  }

  /**
   * Starts the first download now, without waiting for it; failures go to
   * onFetchFailure. A failed prefetch sets no back-off: it may have run before
   * the network was ready, so the first request tries again itself.
   */
  prefetch(): Promise<void> {
    return this.keys.size === 0 ? this.refresh({ backOffOnFailure: false }) : Promise.resolve();
  }

  /** The key for `kid`, or undefined when the JWKS does not have it. */
  async getKey(kid: string): Promise<SigningKey | undefined> {
    const wasDue = this.isDueForRefresh();
    if (wasDue) {
      // With keys cached, a due refresh runs in the background: a slow or
      // hanging JWKS never holds up requests whose key is already known.
      if (this.keys.size === 0) await this.refresh();
      else void this.refresh();
    }
    if (this.keys.size === 0) {
      const waitMs = Math.max(0, this.nextFetchAllowedAt - this.now());
      throw new SigningKeysUnavailableError(
        'no signing key is cached and the JWKS could not be fetched',
        waitMs / 1000,
      );
    }
    const known = this.keys.get(kid);
    if (known) return known;
    if (this.inFlight) {
      await this.inFlight;
    } else if (!wasDue && this.mayRefetchForUnknownKid()) {
      this.lastUnknownKidRefetchAt = this.now();
      await this.refresh();
    }
    return this.keys.get(kid);
  }

  private isDueForRefresh(): boolean {
    const now = this.now();
    if (now < this.nextFetchAllowedAt) return false;
    return this.keys.size === 0 || now - this.fetchedAt >= this.refreshIntervalMs;
  }

  /** Not while a failed download is backing off, and at most once per interval after the first. */
  private mayRefetchForUnknownKid(): boolean {
    const now = this.now();
    if (now < this.nextFetchAllowedAt) return false;
    const last = this.lastUnknownKidRefetchAt;
    return last === undefined || now - last >= this.unknownKidRefetchIntervalMs;
  }

  /** One download at a time; the promise never rejects, so it may be left unawaited. */
  private refresh(options = { backOffOnFailure: true }): Promise<void> {
    this.inFlight ??= this.download(options.backOffOnFailure).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async download(backOffOnFailure: boolean): Promise<void> {
    try {
      const { keys, unusable } = await fetchJwks(this.options.jwksUri, this.fetchTimeoutMs);
      this.keys = new Map(keys.map((key) => [key.kid, key]));
      this.fetchedAt = this.now();
      this.nextFetchAllowedAt = 0;
      this.downloads++;
      this.reportUnusable(unusable);
    } catch (error) {
      if (backOffOnFailure) {
        const backoff = this.keys.size === 0 ? this.coldRetryIntervalMs : this.unknownKidRefetchIntervalMs;
        this.nextFetchAllowedAt = this.now() + backoff;
      }
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      report(
        this.options.onFetchFailure,
        `JWKS fetch from ${this.options.jwksUri} failed (${reason}); ${this.keys.size} cached key(s) kept`,
      );
    }
  }

  /** Once per key set: the same unusable entries downloaded again (refresh, unknown kid) are not reported again. */
  private reportUnusable(unusable: UnusableEntries): void {
    const message = unusable.count > 0 ? `JWKS from ${this.options.jwksUri}: ${describeUnusable(unusable)}` : undefined;
    if (message === this.lastUnusableReport) return;
    this.lastUnusableReport = message;
    if (message) report(this.options.onUnusableKeys, message);
  }
}

function report(sink: ((message: string) => void) | undefined, message: string): void {
  try {
    sink?.(message);
  } catch {
    // A failing log sink must not turn a background download into an unhandled rejection.
  }
}
