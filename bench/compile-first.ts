/**
 * Helper of bench/compile.ts: a fresh process that compiles one TypeScript plugin at once (engine
 * cached, nothing warmed) and prints one JSON line {firstCompileMs, processMs, timings}.
 */
import { compileJs } from '../src/compiler/index.js';

const t0 = performance.now();
const r = await compileJs({
  files: { 'main.ts': `import { on, writeEntity } from 'uee:plugin';\non('TaskCreated', ({ event }) => { writeEntity({ entityTypeId: 'Seen', attributes: { id: String(event.entityId) } }); });\n` },
  entry: 'main.ts',
});
process.stdout.write(JSON.stringify({ firstCompileMs: Math.round(performance.now() - t0), processMs: Math.round(performance.now()), timings: r.report.timings }) + '\n');
