/**
 * Builds (or finds in the cache) the UEE JS engine: `node --import tsx engine/build.ts [--force] [--quiet]`.
 * Prints the artifact as one JSON line on stdout; progress goes to stderr as JSON log lines. `npm ci`
 * runs it (postinstall, `--quiet`: one human line instead of the JSON) so a fresh clone has the engine
 * before the first compile; the build uses only what npm installed (@yowasp/clang, or a system clang-16).
 * With `--prime` (postinstall) it also fills the compiler's other caches under node_modules/.cache/uee:
 * the compiler-thread bundle and TypeScript's V8 code cache (one throwaway type check), so the first
 * compile of a fresh install does not pay for them (~0.5 s).
 */
import { join } from 'node:path';
import { createLogger } from '../src/core/logger.js';
import { buildEngine, findRepoRoot } from '../src/compiler/engine-build.js';
import { stopCompilerThreads, warmCompilerThread } from '../src/compiler/worker-pool.js';

const quiet = process.argv.includes('--quiet');
if (quiet) process.stderr.write('uee: building the QuickJS engine for JS/TS plugins (cached by content hash; minutes the first time)…\n');
const artifact = await buildEngine({
  force: process.argv.includes('--force'),
  logger: createLogger({ level: quiet ? 'warn' : 'info' }),
});
if (process.argv.includes('--prime')) {
  await warmCompilerThread(join(findRepoRoot(), 'sdk'));
  await stopCompilerThreads();
}
if (quiet) {
  process.stderr.write(`uee: JS engine ${artifact.buildMs > 0 ? `built in ${Math.round(artifact.buildMs / 1000)} s` : 'already built'}: ${artifact.wasmPath}\n`);
} else {
  process.stdout.write(JSON.stringify(artifact) + '\n');
}
