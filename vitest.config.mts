import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/fixtures/azuriteGlobalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two cores: one Azurite, two test workers.
    maxWorkers: 2,
  },
});
