import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault and load runs take about a minute: `npm run test:faults` (vitest.faults.config.mts).
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    globalSetup: ['test/fixtures/azuriteGlobalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two cores: one Azurite, two test workers.
    maxWorkers: 2,
  },
});
