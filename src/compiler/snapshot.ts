/**
 * Turns the generic engine plus one plugin bundle into a finished module:
 * 1. Wizer (pinned 10.0.0) runs `wizer.initialize`, which evaluates the prelude and the bundle read
 *    from stdin, and snapshots the initialised memory.
 * 2. Post-processing in one linear pass (`stub-imports.ts`): keep only the plugin's entry exports (and the direct-I/O ones, DIRECT_IO_EXPORTS),
 *    replace `extism:host/user` imports the source never names with stubs (so the deploy-time
 *    capability check sees only what is used), replace every WASI import with a stub (no ambient
 *    authority). Encodings that pass does not know fall back to binaryen in a worker thread
 *    (`binaryen-worker.mjs`), with features set to exactly what the engine's objects use.
 * 3. A memory maximum is written into the memory section.
 */
import { execFile } from 'node:child_process';
import { lowerPriority } from './priority.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UeeError } from '../core/errors.js';
import { DIRECT_IO_EXPORTS, setMemoryMaximum } from '../core/wasm/index.js';

import { runBinaryen } from './binaryen-host.js';
import type { ImportFate } from './stub-imports.js';
import { UnsupportedWasm, stubImports } from './stub-imports.js';

/** Path of the native wizer binary shipped by `@bytecodealliance/wizer-<platform>`. */
export function wizerPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@bytecodealliance/wizer-${process.platform}-${process.arch}`;
  try {
    return join(require.resolve(`${pkg}/package.json`), '..', process.platform === 'win32' ? 'wizer.exe' : 'wizer');
  } catch (err) {
    throw new UeeError('INTERNAL', `wizer binary package ${pkg} is not installed`, { cause: err, hint: 'Run npm ci.' });
  }
}

/** A failure reported by the engine while evaluating the bundle at snapshot time. */
export interface InitFailure {
  readonly phase: string;
  readonly message: string;
  readonly stack: string;
}

/** Parses the `UEE_INIT_ERROR <phase>: <message>\n<stack>` line the shim prints before exiting. */
export function parseInitFailure(stderr: string): InitFailure | undefined {
  const m = /UEE_INIT_ERROR (\w+): ([^\n]*)\n?([\s\S]*)/.exec(stderr);
  if (!m) return undefined;
  return { phase: m[1] ?? '', message: m[2] ?? '', stack: (m[3] ?? '').split('\nError:')[0]?.trim() ?? '' };
}

/**
 * Runs Wizer over the engine with `payload` on stdin; returns the snapshot bytes. When `signal`
 * aborts, the Wizer process is killed and the call rejects with the signal's reason.
 */
export async function runWizer(enginePath: string, payload: string, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'uee-wizer-'));
  const out = join(dir, 'out.wasm');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        wizerPath(),
        [enginePath, '-o', out, '--allow-wasi', '--inherit-stdio', 'true', '--init-func', 'wizer.initialize',
          '--wasm-bulk-memory', 'true'],
        { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, killSignal: 'SIGKILL', ...(signal ? { signal } : {}) },
        (err, _stdout, stderr) => {
          if (!err) return resolve();
          if (signal?.aborted) return reject(signal.reason instanceof UeeError ? signal.reason : (err as Error));
          const failure = parseInitFailure(stderr);
          if (failure) {
            return reject(new UeeError('COMPILE_FAILED', `plugin top-level code failed: ${failure.message}`, {
              details: { failure },
              hint: 'Top-level code runs once at compile time: it must not call host functions or loop forever; move work into a handler.',
            }));
          }
          if ((err as { killed?: boolean }).killed) {
            return reject(new UeeError('TIMEOUT', `snapshot exceeded ${timeoutMs} ms`, {
              details: { timeoutMs },
              hint: 'Top-level code runs at compile time: remove long loops from module scope.',
            }));
          }
          reject(new UeeError('COMPILE_FAILED', 'wizer failed to snapshot the engine', { details: { stderr: stderr.slice(-2000) }, cause: err }));
        },
      );
      lowerPriority(child.pid);
      child.stdin?.end(payload);
    });
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Options for {@link finishModule}. */
export interface FinishOptions {
  /** Entry exports to keep (`handle`, `infer`). */
  readonly keepExports: readonly string[];
  /** `extism:host/user` functions the source names; the others become stubs answering "not linked". */
  readonly hostFunctions: ReadonlySet<string>;
  /** Features of the engine objects (target_features names). */
  readonly features: readonly string[];
  /** Memory maximum in pages. */
  readonly memoryMaxPages: number;
  /** Run binaryen validation. @default true */
  readonly validate?: boolean;
}

const KEEP: ImportFate = { kind: 'keep' };
const ZERO: ImportFate = { kind: 'stub', body: 'zero' };
const TRAP: ImportFate = { kind: 'stub', body: 'unreachable' };
const ENOSYS: ImportFate = { kind: 'stub', body: { i32: 52 } };

/** Post-processes a Wizer snapshot into the finished plugin module (see the file comment). */
export async function finishModule(snapshot: Uint8Array, options: FinishOptions): Promise<Uint8Array> {
  try {
    const out = stubImports(snapshot, {
      keepExports: [...options.keepExports, ...DIRECT_IO_EXPORTS],
      fate: (module, name, results) => {
        if (module === 'extism:host/user') return options.hostFunctions.has(name) ? KEEP : ZERO;
        // proc_exit must not return; the rest answer ENOSYS (52), which the engine never reaches at run time
        if (module.startsWith('wasi')) return name === 'proc_exit' || results.length === 0 ? TRAP : ENOSYS;
        return KEEP;
      },
    });
    return setMemoryMaximum(out, options.memoryMaxPages);
  } catch (err) {
    if (!(err instanceof UnsupportedWasm)) throw err;
  }
  const out = await runBinaryen({
    snapshot,
    keepExports: [...options.keepExports, ...DIRECT_IO_EXPORTS],
    hostFunctions: [...options.hostFunctions],
    features: [...options.features],
    validate: options.validate !== false,
  });
  return setMemoryMaximum(out, options.memoryMaxPages);
}
