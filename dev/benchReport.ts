/**
 * How `npm run bench` reports: the table, the summary line, the latency plot,
 * and the figures saved into docs/performance.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobFigures } from './benchJobs';
import type { OperationCost } from './benchOperation';
import type { TelemetryCost } from './benchTelemetry';
import { toolkitRows, toolkitSummary } from './benchToolkitReport';
import { userRows, userSummary, type UserFigures } from './benchUserReport';
import { PROJECT_ROOT } from './projectRoot';

const PERFORMANCE_DOC = join(PROJECT_ROOT, 'docs', 'performance.md');
const LATENCY_PLOT = join(PROJECT_ROOT, 'docs', 'performance-latency.svg');

export const round = (value: number, digits = 0) => Number(value.toFixed(digits));

export const PERCENTILES = ['p50', 'p75', 'p90', 'p97_5', 'p99', 'p99_9'] as const;

export interface LoadResult {
  connections: number;
  requests: number;
  rps: number;
  latency: Record<(typeof PERCENTILES)[number], number>;
  cpuPerRequestUs: number;
  failures: number;
}

export interface Figures {
  machine: string;
  jobs: JobFigures;
  /** The Extensibility Toolkit's operations, each against its own floor. */
  toolkit: OperationCost[];
  /** Acting for the user: Create with and without scopes, the refreshing polls' writes, the bundles. */
  user: UserFigures;
  /** Floor per iteration by concurrency (1 and 32). */
  floorUs: Record<number, number>;
  /** One invocation of the bundled function without HTTP, by concurrency. */
  invocationUs: Record<number, number>;
  /** The same with the validated-token cache off. */
  uncachedInvocationUs: Record<number, number>;
  auth: { cached: number; uncached: number };
  importMs: number;
  importUnbundledMs: number;
  coldStartMs: number;
  warm: LoadResult[];
  rssMb: number;
  jwksFetches: number;
  telemetry: TelemetryCost[];
}

export function table(f: Figures): string {
  const rows: [string, string][] = [
    ['machine', f.machine],
    [
      'floor: CPU of 1 point read + 2 RS256 verifications, 1 / 32 at a time',
      `${round(f.floorUs[1])} µs / ${round(f.floorUs[32])} µs`,
    ],
    [
      "function invocation without HTTP (the Node worker's share), 1 / 32 at a time",
      againstFloor(f.invocationUs, f.floorUs),
    ],
    ['the same with the validated-token cache off', againstFloor(f.uncachedInvocationUs, f.floorUs)],
    [
      'authentication CPU per request, validated-token cache on / off',
      `${round(f.auth.cached, 1)} µs / ${round(f.auth.uncached, 1)} µs`,
    ],
  ];
  for (const w of f.warm) {
    rows.push([
      `warm, ${w.connections} connection${w.connections === 1 ? '' : 's'} (${w.requests} requests, ${w.failures} not 200)`,
      `${round(w.rps)} req/s, p50 ${w.latency.p50} ms, p99 ${w.latency.p99} ms`,
    ]);
    rows.push([
      `host CPU per request at ${w.connections}, ratio to the floor at ${w.connections}`,
      `${round(w.cpuPerRequestUs)} µs, ${round(w.cpuPerRequestUs / f.floorUs[w.connections], 2)} ×`,
    ]);
  }
  const { createUs, cancelUs, latency } = f.jobs;
  rows.push(
    [
      'Create: CPU of the invocation / its floor (1 insert, 1 item read, 1 enqueue, 2 RS256), cache off',
      `${round(createUs.invocation)} µs / ${round(createUs.floor)} µs, ${round(createUs.invocation / createUs.floor, 2)} ×`,
    ],
    [
      'Cancel: CPU of the invocation / its floor (1 point read, 1 conditional update, 2 RS256), cache off',
      `${round(cancelUs.invocation)} µs / ${round(cancelUs.floor)} µs, ${round(cancelUs.invocation / cancelUs.floor, 2)} ×`,
    ],
  );
  rows.push(...toolkitRows(f.toolkit));
  for (const l of latency) {
    rows.push([
      `0 s jobs, ${l.concurrency} at a time (${l.jobs}): 202 → InProgress / → Completed, p50 (p99)`,
      `${l.toInProgress.p50} (${l.toInProgress.p99}) ms / ${l.toCompleted.p50} (${l.toCompleted.p99}) ms, ${l.jobsPerSecond} jobs/s`,
    ]);
  }
  rows.push(
    ['cold start: spawn to first 200 (median)', `${round(f.coldStartMs)} ms`],
    [
      'module graph load, bundled / unbundled (median)',
      `${round(f.importMs, 1)} ms / ${round(f.importUnbundledMs, 1)} ms`,
    ],
    ['host resident memory after the warm runs', `${round(f.rssMb)} MiB`],
    ['JWKS downloads during the warm runs', String(f.jwksFetches)],
  );
  const baseline = f.telemetry.find((t) => t.option === 'log')!;
  for (const t of f.telemetry) {
    rows.push([
      `telemetry ${TELEMETRY_OPTION_NAMES[t.option]}: cold start / module load / CPU per request at 32 (vs log) / req/s / memory / items sent`,
      `${round(t.coldStartMs)} ms / ${t.moduleLoadMs === undefined ? '–' : `${round(t.moduleLoadMs, 1)} ms`} / ${round(t.cpuPerRequestUs)} µs (${round(t.cpuPerRequestUs / baseline.cpuPerRequestUs, 2)} ×) / ${round(t.rps)} / ${round(t.rssMb)} MiB / ${t.itemsReceived}`,
    ]);
  }
  rows.push(...userRows(f.user));
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    '| measure | value |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value} |`),
  ].join('\n');
}

const TELEMETRY_OPTION_NAMES: Record<TelemetryCost['option'], string> = {
  log: 'log (invocation context)',
  export: 'export (the app: log records with attributes)',
  distro: 'distro (@azure/monitor-opentelemetry)',
};

/** "x µs (r ×) / y µs (s ×)" at 1 and 32, each against the floor at the same concurrency. */
function againstFloor(us: Record<number, number>, floorUs: Record<number, number>): string {
  return [1, 32].map((c) => `${round(us[c])} µs (${round(us[c] / floorUs[c], 2)} ×)`).join(' / ');
}

export function summaryLine(f: Figures): string {
  const at32 = f.warm.find((w) => w.connections === 32)!;
  return `bench: cpu_ratio=${round(at32.cpuPerRequestUs / f.floorUs[32], 2)} cold_start_ms=${round(f.coldStartMs)} import_ms=${round(f.importMs)} rps_32=${round(at32.rps)} p99_32_ms=${at32.latency.p99} rss_mb=${round(f.rssMb)} jwks_fetches=${f.jwksFetches} create_ratio=${round(f.jobs.createUs.invocation / f.jobs.createUs.floor, 2)} cancel_ratio=${round(f.jobs.cancelUs.invocation / f.jobs.cancelUs.floor, 2)} ${toolkitSummary(f.toolkit)} job_start_p50_ms=${f.jobs.latency[0].toInProgress.p50} jobs_per_s_16=${f.jobs.latency[1].jobsPerSecond} ${userSummary(f.user)}${f.telemetry
    .map((t) => ` ${t.option}_cold_start_ms=${round(t.coldStartMs)} ${t.option}_cpu_us=${round(t.cpuPerRequestUs)}`)
    .join('')}`;
}

/** Latency percentiles at each concurrency, one line each, as a small standalone SVG. */
function latencyPlot(warm: LoadResult[]): string {
  const [width, height, left, bottom, top, right] = [660, 360, 60, 50, 30, 140];
  const max = Math.max(1, ...warm.flatMap((w) => PERCENTILES.map((p) => w.latency[p])));
  const x = (i: number) => left + (i * (width - left - right)) / (PERCENTILES.length - 1);
  const y = (ms: number) => height - bottom - (ms / max) * (height - bottom - top);
  const colours = ['#1f77b4', '#d62728'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  parts.push(
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">Latency percentiles through the local host (ms)</text>`,
  );
  parts.push(
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="black"/><line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="black"/>`,
  );
  for (let t = 0; t <= 4; t++) {
    const ms = (max * t) / 4;
    parts.push(
      `<text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${round(ms, 1)}</text><line x1="${left}" y1="${y(ms)}" x2="${width - right}" y2="${y(ms)}" stroke="#ddd"/>`,
    );
  }
  PERCENTILES.forEach((p, i) =>
    parts.push(`<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle">${p.replace('_', '.')}</text>`),
  );
  warm.forEach((w, n) => {
    const points = PERCENTILES.map((p, i) => `${x(i)},${y(w.latency[p])}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${colours[n % 2]}" stroke-width="2"/>`);
    PERCENTILES.forEach((p, i) =>
      parts.push(`<circle cx="${x(i)}" cy="${y(w.latency[p])}" r="3" fill="${colours[n % 2]}"/>`),
    );
    parts.push(
      `<text x="${width - right + 10}" y="${top + 20 + n * 18}" fill="${colours[n % 2]}">${w.connections} connection${w.connections === 1 ? '' : 's'}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Replaces the figures between the markers of docs/performance.md: the run's, the toolkit's table and acting for the user's. */
export function saveFigures(f: Figures, output: string, toolkit: string, user: string): void {
  let doc = readFileSync(PERFORMANCE_DOC, 'utf8');
  doc = betweenMarkers(doc, 'bench', output);
  doc = betweenMarkers(doc, 'bench-toolkit', toolkit);
  doc = betweenMarkers(doc, 'bench-user', user);
  writeFileSync(PERFORMANCE_DOC, doc);
  writeFileSync(LATENCY_PLOT, latencyPlot(f.warm));
}

/** `doc` with what lies between `<!-- name:start -->` and `<!-- name:end -->` replaced by `text`. */
export function betweenMarkers(doc: string, name: string, text: string): string {
  const [start, end] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/performance.md has no ${start} … ${end}`);
  return `${doc.slice(0, from + start.length)}\n${text}\n${doc.slice(to)}`;
}
