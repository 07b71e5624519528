/**
 * What each way of getting the summaries into Application Insights costs, in
 * the local host's own process (HTTP alone), each against the same loopback
 * ingestion endpoint:
 *  - log: the summaries through the invocation context (no Application
 *    Insights in the process; in Azure the Functions host sends them);
 *  - export: the app's choice, OpenTelemetry log records with the fields as
 *    attributes, from dist/app/telemetry.js;
 *  - distro: @azure/monitor-opentelemetry preloaded (dev/telemetryDistro.ts),
 *    measured when `npm run bench:distro` has installed it.
 * host.json's telemetryMode changes what the Functions host (another process,
 * not run here) exports; it adds nothing to the worker's figures.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TELEMETRY_BUNDLE } from './bundle';
import { startFakeIngestion } from './fakeIngestion';
import { PROJECT_ROOT } from './projectRoot';
import { DISTRO_DIR } from './telemetryDistro';

const DISTRO_PRELOAD = join(PROJECT_ROOT, 'dist', 'dev', 'telemetryDistro.js');

export type TelemetryOptionName = 'log' | 'export' | 'distro';

export interface TelemetryCost {
  option: TelemetryOptionName;
  coldStartMs: number;
  /** Loading the option's code in a fresh process (the export's bundle; the distribution and its set-up). */
  moduleLoadMs?: number;
  cpuPerRequestUs: number;
  rps: number;
  rssMb: number;
  /** Telemetry items the ingestion endpoint received during the warm run. */
  itemsReceived: number;
}

/** What the benchmark lends this section: its host, load and timing helpers. */
export interface TelemetryBench {
  settings: Record<string, string>;
  /** The settings of a host that believes it runs in Azure (a certificate, not the development secret). */
  azureSettings: Record<string, string>;
  coldStartMs(settings: Record<string, string>, nodeArgs: string[]): Promise<number>;
  /** Runs a warmed-up load of `requests` at 32 connections against a fresh host; the host's CPU, throughput and memory. */
  warmRun(
    settings: Record<string, string>,
    nodeArgs: string[],
  ): Promise<{ cpuPerRequestUs: number; rps: number; rssMb: number }>;
  importMs(entry: string, settings: Record<string, string>): number;
}

export function distroInstalled(): boolean {
  return existsSync(join(DISTRO_DIR, 'node_modules', '@azure', 'monitor-opentelemetry'));
}

export async function telemetryCosts(bench: TelemetryBench): Promise<TelemetryCost[]> {
  const ingestion = await startFakeIngestion();
  try {
    const exporting = { ...bench.azureSettings, ...ingestion.exporterEnv, WEBSITE_SITE_NAME: 'func-bench' };
    const options: {
      option: TelemetryOptionName;
      settings: Record<string, string>;
      nodeArgs: string[];
      module?: string;
    }[] = [
      { option: 'log', settings: bench.settings, nodeArgs: [] },
      { option: 'export', settings: exporting, nodeArgs: [], module: TELEMETRY_BUNDLE },
    ];
    if (distroInstalled()) {
      options.push({
        option: 'distro',
        settings: { ...exporting, SUMMARY_TELEMETRY: 'log' },
        nodeArgs: ['--require', DISTRO_PRELOAD],
        module: DISTRO_PRELOAD,
      });
    }
    const costs: TelemetryCost[] = [];
    for (const { option, settings, nodeArgs, module } of options) {
      const coldStartMs = await bench.coldStartMs(settings, nodeArgs);
      const before = ingestion.envelopes().length;
      const warm = await bench.warmRun(settings, nodeArgs);
      costs.push({
        option,
        coldStartMs,
        moduleLoadMs: module ? bench.importMs(module, settings) : undefined,
        ...warm,
        itemsReceived: ingestion.envelopes().length - before,
      });
    }
    return costs;
  } finally {
    await ingestion.close();
  }
}
