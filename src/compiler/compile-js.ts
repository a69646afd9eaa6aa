/**
 * The JS/TS toolchain: multi-file TS/JS (ES modules) → esbuild bundle → Wizer snapshot of the
 * QuickJS engine → post-processed Extism module. See docs/plugin-abi.md and docs/sdk.md.
 */
import { join } from 'node:path';
import { UeeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { BundleError, bundleJs, usedHostFunctions } from './bundle-js.js';
import { resolveDependencies, type DependencyTree, type NpmSettings } from './npm-deps.js';
import type { EngineArtifact } from './engine-build.js';
import { findRepoRoot, onEngineBuild, sharedEngine } from './engine-build.js';
import { checkContract, buildReport } from './inspect.js';
import { entryWrapper, preludeFor } from './js-prelude.js';
import { polyfillsFor, stdlibScript } from './stdlib.js';
import { checkSources, compileCancelled, resolveLimits, withDeadline } from './limits.js';
import type { TypeCheckResult } from './typecheck-ts.js';
import { runInWorker } from './worker-pool.js';
import { finishModule, runWizer } from './snapshot.js';
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
   * Pure-JS npm packages the sources import, name → semver range (`{ "ms": "^2.1.3" }`): resolved from
   * the registry into the shared cache (see `npm-deps.ts`), bundled with the plugin, and listed with
   * exact versions and licences in the report's `dependencies`. @default none
   */
  dependencies?: Record<string, string>;
  /** Registry, cache, allow/deny lists and limits for `dependencies`. @default DEFAULT_NPM_SETTINGS */
  npm?: Partial<NpmSettings>;
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
  /**
   * Cancels the compile: the type-checking thread is terminated and the Wizer process killed at once;
   * the call rejects with `CANCELLED`.
   */
  signal?: AbortSignal;
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
    return await (options.signal ? cancellable(options.signal, pending) : pending);
  } finally {
    unsubscribe();
  }
}

/** `work`, or `CANCELLED` as soon as `signal` aborts (the work itself is shared and goes on). */
function cancellable<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(compileCancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(compileCancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Compiles a JS/TS plugin to a finished module with its artifact report. The TypeScript check runs
 * on a compiler thread while the engine is found, the sources bundled and the engine snapshotted,
 * and type errors take precedence over later failures.
 * Throws `UeeError`: `PAYLOAD_TOO_LARGE` (sources over the limit), `VALIDATION_FAILED` (bad options),
 * `COMPILE_FAILED` (syntax, resolution, type or top-level errors; `details.diagnostics` has file:line:col,
 * type errors also `code: "TS<number>"`), `TIMEOUT` (over `timeoutMs`), `CANCELLED` (`signal` aborted:
 * the checker thread and the Wizer process are stopped).
 */
export async function compileJs(options: CompileJsOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  checkSources(options.files, options.entry, limits.maxSourceBytes);
  const sdkRoot = join(findRepoRoot(), 'sdk');
  const checking = new AbortController();
  const stopChecking = (): void => checking.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', stopChecking, { once: true });
  const t0 = performance.now();
  const typeCheck = options.typeCheck ?? TS_ENTRY.test(options.entry);
  // npm dependencies are resolved first (in parallel with finding the engine): the type check reads
  // the packages' own declarations from the laid-out tree
  const packages = Object.keys(options.dependencies ?? {});
  const resolving: Promise<DependencyTree | undefined> =
    packages.length > 0 ? resolveDependencies(options.dependencies ?? {}, options.npm) : Promise.resolve(undefined);
  resolving.catch(() => undefined);
  const resolvedMs = resolving.then(() => Math.round((performance.now() - t0) * 10) / 10, () => 0);
  const check = typeCheck
    ? resolving
        .then((tree) =>
          runInWorker<TypeCheckResult>(
            { op: 'typecheck', files: options.files, entry: options.entry, sdkRoot, packages, ...(tree ? { typesRoot: tree.root } : {}) },
            checking.signal,
          ),
        )
        .then((r) => ({ ...r, ms: Math.round((performance.now() - t0) * 10) / 10 }))
    : undefined;
  check?.catch(() => undefined);
  try {
    const engineStarted = performance.now();
    const engine = await engineFor(options);
    const engineMs = Math.round((performance.now() - engineStarted) * 10) / 10;
    options.onPhase?.('compiling');
    return await withDeadline(
      limits.timeoutMs,
      'JS compile',
      async (remaining, signal) => {
        signal.addEventListener('abort', () => checking.abort(signal.reason), { once: true });
        const timings: Record<string, number> = {};
        let t = performance.now();
        const lap = (name: string): void => {
          const now = performance.now();
          timings[name] = Math.round((now - t) * 10) / 10;
          t = now;
        };
        timings.engine = engineMs;
        const tree = await resolving;
        if (tree !== undefined) {
          timings.dependencies = await resolvedMs;
          t = performance.now();
        }
        let bundle;
        try {
          bundle = await bundleJs(options.files, options.entry, sdkRoot, entryWrapper, tree?.root);
        } catch (err) {
          if (err instanceof BundleError) {
            const native = err.diagnostics.find((d) => d.code === 'DEPENDENCY_NOT_PURE');
            if (native) {
              throw new UeeError('DEPENDENCY_NOT_PURE', native.message, {
                details: { diagnostics: err.diagnostics, ...(native.file ? { file: native.file } : {}) },
                hint: native.hint ?? 'pick a pure-JS package',
              });
            }
            throw compileFailed(err.diagnostics, 'bundling failed');
          }
          throw err;
        }
        lap('bundle');
        /** Type errors, which win over any later failure. */
        const typeErrors = async (): Promise<readonly Diagnostic[]> => {
          if (!check) return [];
          const result = await check;
          timings.typecheck = result.ms;
          if (result.diagnostics.some((d) => d.severity === 'error')) throw compileFailed(result.diagnostics, 'type check failed');
          return result.diagnostics;
        };
        const exported = new Set(bundle.entryExports);
        const keep = options.exports ?? [
          ...(exported.has('handle') || !exported.has('infer') ? ['handle' as const] : []),
          ...(exported.has('infer') ? ['infer' as const] : []),
        ];
        const hostFunctions = usedHostFunctions(bundle.code, HOST_FUNCTIONS);
        let wasm: Uint8Array;
        try {
          const prelude = `${await stdlibScript(polyfillsFor(bundle.code))}\n${preludeFor(bundle.lineMap)}`;
          const snapshot = await runWizer(engine.wasmPath, `${prelude}\0${bundle.code}`, remaining(), signal);
          lap('snapshot');
          wasm = await finishModule(snapshot, {
            keepExports: keep,
            hostFunctions,
            features: engine.features,
            memoryMaxPages: limits.memoryMaxPages,
          });
          lap('postprocess');
        } catch (err) {
          await typeErrors();
          throw err;
        }
        const typeDiagnostics = await typeErrors();
        timings.total = Math.round((performance.now() - t0) * 10) / 10;
        const info = parseWasm(wasm);
        const diagnostics: Diagnostic[] = [...bundle.warnings, ...typeDiagnostics, ...checkContract(info)];
        (options.logger ?? silentLogger).debug('compiled JS plugin', { size: wasm.length, timings });
        const report = buildReport(wasm, 'js', diagnostics, timings, info);
        if (tree === undefined) return { wasm, report };
        const dependencies = tree.packages.map(({ name, version, license, integrity }) => ({ name, version, license, integrity }));
        return { wasm, report: { ...report, dependencies } };
      },
      options.signal,
    );
  } finally {
    // a compile that failed otherwise lets its check finish on the warm thread (tens of ms) rather than lose that thread
    options.signal?.removeEventListener('abort', stopChecking);
  }
}
