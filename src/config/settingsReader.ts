import { httpsOrLoopback, rowOf, wholeNumberOf } from './settingRows';

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

  /**
   * A setting read by its row (SETTING_ROWS): required ones must be set, an
   * unset one takes its fallback, and the row's own check judges the value.
   * '' when a required setting is missing.
   */
  text(name: string): string;
  text(name: string, optional: true): string | undefined;
  text(name: string, optional?: true): string | undefined {
    const row = rowOf(name);
    const raw = row.required === 'yes' ? this.required(name) : (this.value(name) ?? row.fallback);
    if (raw === undefined || raw === '') return optional ? raw : (raw ?? '');
    this.check(name, raw);
    return raw;
  }

  /** The row's check of a value the reader built itself (a derived default, a URL inside another setting). */
  check(name: string, value: string): void {
    const problem = rowOf(name).check?.(value);
    if (problem) this.problems.push(problem);
  }

  /** https anywhere, plain http only on this machine. */
  checkHttpsOrLoopback(name: string, value: string): void {
    const problem = httpsOrLoopback(name)(value);
    if (problem) this.problems.push(problem);
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
