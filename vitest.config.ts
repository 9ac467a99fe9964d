import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: one worker per core; servers are started per test file, not per test.
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
