/**
 * Compiler warm-up for servers: at start, make sure the JS engine exists (building it in a child
 * process when `npm ci` did not), start a compiler thread with TypeScript and its lib loaded, and run
 * one throwaway TypeScript compile so esbuild's service and Wizer are hot too. The first agent compile then
 * costs what every later one does. Everything runs in the background; failures are logged, never
 * thrown (a compile retries what the warm-up could not do).
 */
import type { Logger } from '../core/logger.js';
import { toUeeError } from '../core/errors.js';
import { join } from 'node:path';
import { compileJs } from './compile-js.js';
import { findRepoRoot, onEngineBuild, sharedEngine } from './engine-build.js';
import { warmCompilerThread } from './worker-pool.js';

const WARM_SOURCE = `import { on } from 'uee:plugin';\non('UeeWarmUp', (input) => ({ seen: input.event.type }));\n`;

/** State of a warm-up, as `uee status` and the logs report it. */
export type WarmState = 'warming' | 'building-engine' | 'ready' | 'failed';

/** A running warm-up. */
export interface CompilerWarmUp {
  /** Current state. */
  readonly state: () => WarmState;
  /** Resolves when the warm-up is over (never rejects). */
  readonly done: Promise<void>;
}

/** Starts warming the compilers in the background; see the file comment. */
export function warmCompiler(logger: Logger): CompilerWarmUp {
  let state: WarmState = 'warming';
  const started = performance.now();
  const done = (async () => {
    const thread = warmCompilerThread(join(findRepoRoot(), 'sdk'));
    const off = onEngineBuild(() => {
      state = 'building-engine';
      logger.warn('building the QuickJS engine for JS/TS plugins (it was not built at install; "npm run build:engine" does it ahead); compiles wait for it');
    });
    try {
      await sharedEngine({ logger });
    } finally {
      off();
    }
    await thread;
    await compileJs({ files: { 'main.ts': WARM_SOURCE }, entry: 'main.ts' });
    state = 'ready';
    logger.info('compiler warm', { ms: Math.round(performance.now() - started) });
  })().catch((err: unknown) => {
    state = 'failed';
    logger.warn('compiler warm-up failed; compiles will retry', { error: toUeeError(err).message });
  });
  return { state: () => state, done };
}
