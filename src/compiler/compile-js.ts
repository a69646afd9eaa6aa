/**
 * The JS/TS toolchain: multi-file TS/JS (ES modules) → esbuild bundle → Wizer snapshot of the
 * QuickJS engine → post-processed Extism module. See docs/plugin-abi.md and docs/sdk.md.
 */
import { join } from 'node:path';
import { UeeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { BundleError, bundleJs, usedHostFunctions } from './bundle-js.js';
import type { EngineArtifact } from './engine-build.js';
import { findRepoRoot, onEngineBuild, sharedEngine } from './engine-build.js';
import { checkContract, buildReport } from './inspect.js';
import { JS_PRELUDE, entryWrapper } from './js-prelude.js';
import { checkSources, resolveLimits, withDeadline } from './limits.js';
import { typeCheckTs } from './typecheck-ts.js';
import { finishModule, runWizer } from './snapshot.js';
import { warmBinaryen } from './binaryen-host.js';
import type { CompileLimits, CompileResult, Diagnostic } from './types.js';
import { HOST_FUNCTIONS } from '../core/capabilities.js';
import { parseWasm } from '../core/wasm/index.js';

const TS_ENTRY = /\.(ts|tsx|mts)$/;

/** `COMPILE_FAILED` led by the first error's `file:line:col`, with every diagnostic in details. */
function compileFailed(diagnostics: readonly Diagnostic[], fallback: string): UeeError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  const more = errors.length > 1 ? ` (+${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const code = first?.code ? `${first.code}: ` : '';
  return new UeeError(
    'COMPILE_FAILED',
    first ? `${first.file ?? ''}:${first.line ?? 0}:${first.col ?? 0}: ${code}${first.message}${more}` : fallback,
    { details: { diagnostics }, hint: first?.hint ?? 'Fix the reported position and compile again.' },
  );
}

/** Options for {@link compileJs}. */
export interface CompileJsOptions extends CompileLimits {
  /** Source files by relative path (`main.ts`, `lib/score.ts`, …). */
  files: Record<string, string>;
  /** The entry file; it exports `handle`/`infer` or declares handlers with `on()` from `uee:plugin`. */
  entry: string;
  /**
   * Entry exports of the module. @default `infer` when the entry exports `infer`, and `handle` unless
   * the entry exports `infer` but not `handle`
   */
  exports?: readonly ('handle' | 'infer')[];
  /**
   * Type-check the TypeScript sources (strict, ES2020 without DOM or Node, `uee:plugin` typed by
   * sdk/ts) after bundling; type errors fail the compile with `COMPILE_FAILED`. `.js` sources are
   * never type-checked. @default true when `entry` is a `.ts`/`.tsx`/`.mts` file
   */
  typeCheck?: boolean;
  /** A prebuilt engine. @default the process's shared engine, built on first use ({@link sharedEngine}); waiting for it does not count against `timeoutMs` */
  engine?: EngineArtifact;
  /** @default silentLogger */
  logger?: Logger;
  /**
   * Told what the compile is waiting for when it waits for something other than compiling (today:
   * the one-time build of the JS engine), so a caller can relay it as MCP progress.
   */
  onPhase?: (message: string) => void;
}

/**
 * The engine for a compile: given, or the process's shared one ({@link sharedEngine}). When it is
 * not built yet, `onPhase` hears so, and the wait is not counted against the compile's time limit.
 */
async function engineFor(options: CompileJsOptions): Promise<EngineArtifact> {
  if (options.engine) return options.engine;
  const pending = sharedEngine({ ...(options.logger ? { logger: options.logger } : {}) });
  const unsubscribe = onEngineBuild(() =>
    options.onPhase?.('building the QuickJS engine for JS/TS plugins (once per install, a few minutes; npm ci normally does this)'),
  );
  try {
    return await pending;
  } finally {
    unsubscribe();
  }
}

/**
 * Compiles a JS/TS plugin to a finished module with its artifact report.
 * Throws `UeeError`: `PAYLOAD_TOO_LARGE` (sources over the limit), `VALIDATION_FAILED` (bad options),
 * `COMPILE_FAILED` (syntax, resolution, type or top-level errors; `details.diagnostics` has file:line:col,
 * type errors also `code: "TS<number>"`),
 * `TIMEOUT` (over `timeoutMs`).
 */
export async function compileJs(options: CompileJsOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  checkSources(options.files, options.entry, limits.maxSourceBytes);
  // binaryen loads in its worker while the engine, bundle, type check and snapshot run
  warmBinaryen().catch(() => undefined);
  const engineStarted = performance.now();
  const engine = await engineFor(options);
  const engineMs = Math.round((performance.now() - engineStarted) * 10) / 10;
  options.onPhase?.('compiling');
  return withDeadline(limits.timeoutMs, 'JS compile', async (remaining) => {
    const timings: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string): void => {
      const now = performance.now();
      timings[name] = Math.round((now - t) * 10) / 10;
      t = now;
    };
    timings.engine = engineMs;
    const sdkRoot = join(findRepoRoot(), 'sdk');
    let bundle;
    try {
      bundle = await bundleJs(options.files, options.entry, sdkRoot, entryWrapper);
    } catch (err) {
      if (err instanceof BundleError) throw compileFailed(err.diagnostics, 'bundling failed');
      throw err;
    }
    lap('bundle');
    let typeDiagnostics: readonly Diagnostic[] = [];
    if (options.typeCheck ?? TS_ENTRY.test(options.entry)) {
      typeDiagnostics = (await typeCheckTs(options.files, options.entry, sdkRoot)).diagnostics;
      lap('typecheck');
      if (typeDiagnostics.some((d) => d.severity === 'error')) throw compileFailed(typeDiagnostics, 'type check failed');
    }
    const exported = new Set(bundle.entryExports);
    const keep = options.exports ?? [
      ...(exported.has('handle') || !exported.has('infer') ? ['handle' as const] : []),
      ...(exported.has('infer') ? ['infer' as const] : []),
    ];
    const hostFunctions = usedHostFunctions(bundle.code, HOST_FUNCTIONS);
    const snapshot = await runWizer(engine.wasmPath, `${JS_PRELUDE}\n\0${bundle.code}`, remaining());
    lap('snapshot');
    const wasm = await finishModule(snapshot, {
      keepExports: keep,
      hostFunctions,
      features: engine.features,
      memoryMaxPages: limits.memoryMaxPages,
    });
    lap('postprocess');
    const info = parseWasm(wasm);
    const diagnostics: Diagnostic[] = [...bundle.warnings, ...typeDiagnostics, ...checkContract(info)];
    (options.logger ?? silentLogger).debug('compiled JS plugin', { size: wasm.length, timings });
    return { wasm, report: buildReport(wasm, 'js', diagnostics, timings, info) };
  });
}
