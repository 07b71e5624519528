/**
 * How `npm run bench` reports acting for the user: rows of its table, fields
 * of its summary line, and the tables of docs/performance.md's section
 * "Acting for the user" (between the bench-user markers).
 */
import type { RefreshFigure } from './benchRefresh';
import type { CallCosts, Spread, UserCreateFigures } from './benchUser';

const round = (value: number, digits = 0) => Number(value.toFixed(digits));

export interface UserFigures {
  create: UserCreateFigures;
  /** The first is the headline (75-minute tokens); the others bound it. */
  refresh: RefreshFigure[];
  /** dist/app's bundles, bytes, and msal.js's load in a fresh process (median, ms). */
  bundles: { mainBytes: number; msalBytes: number; msalLoadMs: number };
  /** The bench's cold start (spawn to Get's first 200) and main.js's module load, medians, ms. */
  coldStartMs: number;
  importMs: number;
}

const kB = (bytes: number) => `${round(bytes / 1000)} kB`;
const us = (spread: Spread) => `${round(spread.mean)} µs (p50 ${round(spread.p50)}, p99 ${round(spread.p99)})`;
const ms = (valueUs: number) => round(valueUs / 1000, 2);
export const cpuRatio = (f: UserCreateFigures) => round(f.withScopes.cpuUs.mean / f.withoutScopes.cpuUs.mean, 2);
const wallRatio = (f: UserCreateFigures) => round(f.withScopes.wallUs.p50 / f.withoutScopes.wallUs.p50, 2);

function writesText(r: RefreshFigure): string {
  const every = r.writeTimesMs.length > 1 ? (r.writeTimesMs[1] - r.writeTimesMs[0]) / 60_000 : undefined;
  return `${r.writes} writes in ${r.polls} polls, ${round(r.writesPerHour, 2)} per job-hour${every === undefined ? '' : ` (one every ${every} min)`}`;
}

/** Rows of the bench's table. */
export function userRows(f: UserFigures): [string, string][] {
  const { create } = f;
  const [headline, ...others] = f.refresh;
  return [
    [
      `Create with scopes (pre-flight exchange from MSAL's cache) / without, CPU per call, cache off, ${create.withScopes.calls} calls each`,
      `${us(create.withScopes.cpuUs)} / ${us(create.withoutScopes.cpuUs)}, ${cpuRatio(create)} × (rounds ${round(create.roundRatios.min, 2)}–${round(create.roundRatios.max, 2)} ×), ${create.tokenRequests} token requests`,
    ],
    [
      'the same, wall clock per call p50 / p99',
      `${ms(create.withScopes.wallUs.p50)} / ${ms(create.withScopes.wallUs.p99)} ms against ${ms(create.withoutScopes.wallUs.p50)} / ${ms(create.withoutScopes.wallUs.p99)} ms, ${wallRatio(create)} ×`,
    ],
    [
      `Create by a new user (one HTTPS exchange with the loopback token endpoint), ${create.cold.calls} calls, wall p50 / p99`,
      `${ms(create.cold.wallUs.p50)} / ${ms(create.cold.wallUs.p99)} ms, ${create.cold.tokenRequests} token requests`,
    ],
    [
      `refreshing polls: ${headline.tokenLifetimeMinutes}-min tokens, a poll every ${headline.pollSeconds} s, ${headline.hours} h`,
      `${writesText(headline)}; ${others.map((r) => `${r.tokenLifetimeMinutes}-min tokens ${round(r.writesPerHour, 2)}`).join(', ')}`,
    ],
    [
      'bundles: main.js / msal.js (its load in a fresh process, median)',
      `${kB(f.bundles.mainBytes)} / ${kB(f.bundles.msalBytes)} (${round(f.bundles.msalLoadMs, 1)} ms)`,
    ],
  ];
}

/** Fields of the summary line. */
export function userSummary(f: UserFigures): string {
  const { create } = f;
  return [
    `create_scopes_cpu_ratio=${cpuRatio(create)}`,
    `create_scopes_extra_cpu_us=${round(create.withScopes.cpuUs.mean - create.withoutScopes.cpuUs.mean)}`,
    `create_new_user_p50_ms=${ms(create.cold.wallUs.p50)}`,
    `refresh_writes_per_hour=${round(f.refresh[0].writesPerHour, 2)}`,
    `main_kb=${round(f.bundles.mainBytes / 1000)}`,
    `msal_kb=${round(f.bundles.msalBytes / 1000)}`,
    `msal_load_ms=${round(f.bundles.msalLoadMs)}`,
  ].join(' ');
}

/** docs/performance.md's tables: Create with and without scopes, then the refresh writes and the bundles. */
export function userTable(f: UserFigures): string {
  const { create } = f;
  const line = (name: string, c: CallCosts) =>
    `| ${name} | ${round(c.cpuUs.mean)} | ${round(c.cpuUs.p50)} / ${round(c.cpuUs.p99)} | ${ms(c.wallUs.p50)} / ${ms(c.wallUs.p99)} |`;
  return [
    '| Create (v1, in process, one call at a time, validated-token cache off) | CPU per call, mean (µs) | CPU p50 / p99 (µs) | wall p50 / p99 (ms) |',
    '|---|---|---|---|',
    line(
      `with scopes, MSAL's cache warm (${create.withScopes.calls} calls, ${create.tokenRequests} token requests)`,
      create.withScopes,
    ),
    line(`without scopes (${create.withoutScopes.calls} calls, alternating batches)`, create.withoutScopes),
    `| ratio | ${cpuRatio(create)} × (rounds ${round(create.roundRatios.min, 2)}–${round(create.roundRatios.max, 2)} ×) | ${round(create.withScopes.cpuUs.p50 / create.withoutScopes.cpuUs.p50, 2)} × / ${round(create.withScopes.cpuUs.p99 / create.withoutScopes.cpuUs.p99, 2)} × | ${wallRatio(create)} × / ${round(create.withScopes.wallUs.p99 / create.withoutScopes.wallUs.p99, 2)} × |`,
    `| by a new user: one exchange with the loopback token endpoint (${create.cold.calls} calls, ${create.cold.tokenRequests} token requests) | – | – | ${ms(create.cold.wallUs.p50)} / ${ms(create.cold.wallUs.p99)} |`,
    '',
    '| measure | value |',
    '|---|---|',
    ...f.refresh.map(
      (r) =>
        `| table writes of polls, ${r.tokenLifetimeMinutes}-min tokens, a poll every ${r.pollSeconds} s by the job's user, ${r.hours} h | ${writesText(r)} |`,
    ),
    `| bundles: main.js / msal.js | ${kB(f.bundles.mainBytes)} / ${kB(f.bundles.msalBytes)} |`,
    `| msal.js load in a fresh process (median) | ${round(f.bundles.msalLoadMs, 1)} ms |`,
    `| cold start: spawn to Get's first 200 / main.js module load (medians) | ${round(f.coldStartMs)} ms / ${round(f.importMs, 1)} ms |`,
  ].join('\n');
}
