import { isGuid } from '../ids';
import { isLoopbackHost, tryParseUrl } from '../url';
import { wholeNumberOf } from './settingRows';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`,
    );
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** Reads settings and collects every problem instead of stopping at the first. */
export class SettingsReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  value(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  }

  required(name: string): string {
    const raw = this.value(name);
    if (raw === undefined) this.problems.push(`${name} is required`);
    return raw ?? '';
  }

  requiredGuid(name: string): string {
    const raw = this.required(name);
    if (raw !== '' && !isGuid(raw)) this.problems.push(`${name} must be a GUID`);
    return raw.toLowerCase();
  }

  /** https anywhere, plain http only on this machine. */
  checkHttpsOrLoopback(name: string, value: string): void {
    const url = tryParseUrl(value);
    if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) {
      this.problems.push(`${name} must be an https URL (http is allowed only for a loopback host)`);
    }
  }

  /** A whole number within the bounds of its row (SETTING_ROWS), or its default when unset. */
  wholeNumber(name: string): number {
    const { min, max, default: fallback, unit } = wholeNumberOf(name);
    const raw = this.value(name);
    if (raw === undefined) return fallback;
    const value = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) {
      this.problems.push(`${name} must be a whole number of ${unit} from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  finish<T>(result: T): T {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return result;
  }
}
