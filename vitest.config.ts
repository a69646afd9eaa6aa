import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Two test files at a time on the 2-core CI machine (vitest's default is cores - 1 = 1): most files
    // wait on timers, processes and I/O, and every latency claim is measured against a baseline taken
    // in the same test, so sharing the cores does not change what a test asserts.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
