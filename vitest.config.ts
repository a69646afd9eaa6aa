import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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
  'test/runtime/host-call-rate.test.ts',
  // a spinning worker and a polling main thread: counts of what each saw depend on being scheduled
  'test/runtime/host-call-spin.test.ts',
  'test/security/runtime-containment.test.ts',
  'test/router/fanout.test.ts',
  'test/router/spread.test.ts',
  'test/router/in-hand-app.test.ts',
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

/**
 * The shared group's files that take ~15 s or more (measured in CI on 2026-12-02), longest first.
 * Two workers take files in order, so these start first and the short ones fill in around them
 * (longest-first scheduling): on a fresh clone, with no timing cache, vitest kept the files' own
 * order and started the two longest (226 s and 104 s) at 194 s and 690 s, so the group ended at
 * 795 s instead of ~560.
 */
const SLOW_FIRST = [
  'test/interop/interop.test.ts',
  'test/evals/reference-agents.test.ts',
  'test/cli/cli.test.ts',
  'test/workflows/workflows.test.ts',
  'test/projections/projections.test.ts',
  'test/review/cli.test.ts',
  'test/cli/newcomer-start.test.ts',
  'test/newcomer/fresh-clone.test.ts',
  'test/mcp/transports.test.ts',
  'test/router/e2e.test.ts',
  'test/compiler/js-stdlib.test.ts',
  'test/review/review-page.test.ts',
  'test/router/plugins.test.ts',
  'test/mcp/surface.test.ts',
  'test/router/orphans.test.ts',
  'test/compiler/js-battery.test.ts',
  'test/compiler/rust-c.test.ts',
  'test/store/postgres.test.ts',
];

/** Vitest's order (groups, projects, its timing cache when it has one), with {@link SLOW_FIRST} ahead of the rest. */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(relative(f.project.config.root, f.moduleId));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    // Stable: within a project, unlisted files keep vitest's order.
    return sorted.sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      return rank(a) - rank(b);
    });
  }
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    sequence: { sequencer: SlowFirstSequencer },
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
