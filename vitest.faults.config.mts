import { configDefaults, defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the longer fault and load runs (about a minute,
 * bounded by their own timeouts), against the same kind of Azurite as `npm test`. One file at a
 * time, so the load run's memory and throughput figures are its own.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    exclude: configDefaults.exclude,
    globalSetup: ['test/fixtures/azuriteGlobalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    // The key-fault matrix runs its 14 cases side by side: most of their time is waiting.
    maxConcurrency: 14,
  },
});
