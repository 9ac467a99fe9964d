import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Every temporary folder a test (or a CLI it spawns, or a server it starts) makes goes under one
// folder per run, removed by test/support/global-setup.ts at the end: killed processes and
// crash tests cannot leave gigabytes behind in /tmp.
const runTmp = path.join(os.tmpdir(), `asof-vitest-${process.pid}`);
mkdirSync(runTmp, { recursive: true });
process.env.ASOF_TEST_TMP = runTmp;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: one worker per core; servers are started per test file, not per test.
    maxWorkers: 2,
    fileParallelism: true,
    env: { TMPDIR: runTmp },
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
