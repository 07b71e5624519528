/**
 * The benchmark's third telemetry option, preloaded (node --require) into the
 * local host: Microsoft's @azure/monitor-opentelemetry distribution as its
 * guide sets it up, exporting to the loopback ingestion endpoint. Installed
 * apart from the project (it is not a dependency) by `npm run bench:distro`:
 * version 1.18.1, the newest that runs on Node.js 20, on the same exporter
 * version as the app's.
 *
 * What it measures is the distribution's own work (its HTTP and Azure SDK
 * instrumentation, its exporters, its resource detection) with the summaries
 * left in the log form: @azure/functions-opentelemetry-instrumentation hooks
 * the Functions worker, which the local host is not, and forwards log lines
 * without attributes anyway. So a lower bound of what the distribution costs.
 */
import './loopbackOnly';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PROJECT_ROOT } from './projectRoot';

export const DISTRO_DIR = join(PROJECT_ROOT, '.tools', 'telemetry-distro');

// Only where a connection string is set: the preloaded host, not the benchmark that reads the constants above.
if (process.env.APPLICATIONINSIGHTS_CONNECTION_STRING) {
  const distro = createRequire(join(DISTRO_DIR, 'package.json'));
  const { useAzureMonitor } = distro('@azure/monitor-opentelemetry') as {
    useAzureMonitor(options: {
      azureMonitorExporterOptions: { connectionString: string; disableOfflineStorage: boolean };
      enableLiveMetrics: boolean;
    }): void;
  };
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: process.env.APPLICATIONINSIGHTS_CONNECTION_STRING,
      disableOfflineStorage: true,
    },
    enableLiveMetrics: false,
  });
}
