import { defineConfig } from 'vitest/config';

/**
 * Test files that run alone, one at a time, after everything else: the multi-process suites (they
 * start, SIGKILL and SIGSTOP worker processes and wait on heartbeats, lease moves and takeovers in
 * wall time) and the files whose assertions compare wall times or main-thread stalls (a latency
 * against a baseline, the longest event-loop stall against the whole job): another test file on
 * the same two cores would stretch those and fail them for reasons of its own.
 */
const ALONE = [
  // multi-process
  'test/router/chaos.test.ts',
  'test/router/liveness.test.ts',
  'test/router/order.test.ts',
  'test/router/crash.test.ts',
  'test/router/worker.test.ts',
  'test/router/share.test.ts',
  'test/crash/**/*.test.ts',
  // wall-time and stall comparisons
  'test/model-gateway/large-inputs.test.ts',
  'test/containment/filters.test.ts',
  'test/runtime/hostile.test.ts',
  'test/runtime/unwind-grace.test.ts',
  'test/runtime/timer-containment.test.ts',
  'test/runtime/js-containment.test.ts',
  'test/security/runtime-containment.test.ts',
  'test/router/fanout.test.ts',
  'test/router/spread.test.ts',
  'test/router/share-wake.test.ts',
  'test/router/routing.test.ts',
  'test/compiler/cancel.test.ts',
  'test/mcp/front-door.test.ts',
  'test/mcp/plugin-tools.test.ts',
  'test/mcp/records.test.ts',
  'test/mcp/query-agent.test.ts',
  'test/router/subscriptions.test.ts',
  'test/store/filter-compile.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    reporters: ['default'],
    projects: [
      // Two files at a time: most of a file's time is spent waiting (on Redis, PostgreSQL, child
      // processes, timers), so two share the two cores well (the suite in ~16 min instead of ~21)…
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ALONE, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      // …then the files that must run alone.
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
