// Prints the CI tally line from vitest's JSON report: `N passed, N failed, N skipped`.
// Usage: node .ci/tally.mjs <report.json> <vitest exit status>
// A file that failed outside its tests (a beforeAll, an import) has no failed test of its own and its
// tests count as skipped: it counts as one failure, and a failing run never prints 0 failed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function tally(report, status) {
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  let failed = report.numFailedTests ?? 0;
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed')) failed++;
  }
  if (failed === 0 && status !== 0) failed = 1;
  return `${report.numPassedTests ?? 0} passed, ${failed} failed, ${skipped} skipped`;
}

// Run as a script (a path with spaces or other escaped characters included), not when imported by its test.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(tally(JSON.parse(readFileSync(process.argv[2], 'utf8')), Number(process.argv[3] ?? 0)));
}
