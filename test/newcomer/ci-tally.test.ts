// CI-TALLY: the line CI reads (`.ci/run` prints it from vitest's JSON report) never says 0 failed for
// a run that failed — a file failing in a beforeAll has no failed test of its own (its tests are
// skipped), and on 2026-12-07 such a run printed "1056 passed, 0 failed, 67 skipped".
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script of CI's, without types
import { tally } from '../../.ci/tally.mjs';

const file = (status: string, tests: string[]) => ({ status, assertionResults: tests.map((s) => ({ status: s })) });
const show = tally as (report: Record<string, unknown>, status: number) => string;

describe('CI tally', () => {
  it('CI-TALLY-1 counts failed tests once, a file that failed outside its tests as one, and never 0 for a failing run', () => {
    expect(show({ numPassedTests: 3, numFailedTests: 0, numPendingTests: 1, testResults: [file('passed', ['passed', 'passed', 'passed', 'skipped'])] }, 0)).toBe('3 passed, 0 failed, 1 skipped');
    expect(show({ numPassedTests: 2, numFailedTests: 2, testResults: [file('failed', ['passed', 'failed', 'failed']), file('passed', ['passed'])] }, 1)).toBe('2 passed, 2 failed, 0 skipped');
    // A beforeAll failed: its tests are skipped, none failed.
    expect(show({ numPassedTests: 5, numFailedTests: 0, numPendingTests: 6, testResults: [file('failed', ['skipped', 'skipped']), file('passed', ['passed'])] }, 1)).toBe('5 passed, 1 failed, 6 skipped');
    // ... and beside another file's failed test, both.
    expect(show({ numPassedTests: 5, numFailedTests: 1, numPendingTests: 2, testResults: [file('failed', ['skipped', 'skipped']), file('failed', ['passed', 'failed'])] }, 1)).toBe('5 passed, 2 failed, 2 skipped');
    // Failed with nothing in the report to show it (a crash, a worker killed): still a failure.
    expect(show({ numPassedTests: 5, numFailedTests: 0, testResults: [] }, 1)).toBe('5 passed, 1 failed, 0 skipped');
  });

  it('CI-TALLY-2 the script prints its line from a checkout whose path has a space (the path is compared as a file path, not a URL)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uee ci tally '));
    try {
      copyFileSync(new URL('../../.ci/tally.mjs', import.meta.url), join(dir, 'tally.mjs'));
      writeFileSync(join(dir, 'report.json'), JSON.stringify({ numPassedTests: 7, numFailedTests: 0, testResults: [] }));
      expect(execFileSync(process.execPath, [join(dir, 'tally.mjs'), join(dir, 'report.json'), '0'], { encoding: 'utf8' })).toBe('7 passed, 0 failed, 0 skipped\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
