/**
 * The AssemblyScript toolchain: the asc API in-process over in-memory files, with `@extism/as-pdk`
 * and the UEE SDK (`import … from "uee-plugin"`, served from `sdk/as`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UeeError } from '../core/errors.js';
import { findRepoRoot } from './engine-build.js';
import { buildReport, checkContract } from './inspect.js';
import { checkSources, resolveLimits, withDeadline } from './limits.js';
import { runInWorker } from './worker-pool.js';
import type { CompileLimits, CompileResult, Diagnostic } from './types.js';
import { DIRECT_IO_EXPORTS, parseWasm, setMemoryMaximum } from '../core/wasm/index.js';

/** The generated entry file that re-exports the SDK's direct-I/O functions. */
const DIRECT_IO_ENTRY = '__uee_direct_io__.ts';
/** A source importing the SDK. */
const USES_SDK = /from\s*["']uee-plugin["']/;

/** Options for {@link compileAssemblyScript}. */
export interface CompileAsOptions extends CompileLimits {
  /** Source files by relative path. */
  files: Record<string, string>;
  /** The entry file; it exports `handle(): i32` and/or `infer(): i32`. */
  entry: string;
  /** asc optimisation level 0–3. @default 3 */
  optimizeLevel?: number;
  /** Cancels the compile: the compiler thread running asc is terminated at once (`CANCELLED`). */
  signal?: AbortSignal;
}

const PACKAGES: Record<string, string> = {
  'uee-plugin': 'sdk/as',
  '@extism/as-pdk': 'node_modules/@extism/as-pdk',
};

interface AscApi {
  main(argv: string[], options: Record<string, unknown>): Promise<{ error: Error | null }>;
}
let ascPromise: Promise<AscApi> | undefined;

const normal = (p: string): string => p.replace(/\\/g, '/').replace(/^\.?\//, '');

/** Parses asc's `ERROR TS2322: message\n :\n 12 │ code\n └─ in main.ts(12,5)` diagnostics. */
export function parseAscDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const blocks = stderr.split(/\n(?=(?:ERROR|WARNING)\b)/);
  for (const block of blocks) {
    const head = /^(ERROR|WARNING)(?: (\w+))?: ([^\n]*)/.exec(block.trim());
    if (!head) continue;
    const at = /in ([^\s(]+)\((\d+),(\d+)\)/.exec(block);
    const file = at?.[1]?.replace(/^~lib\//, 'node_modules/');
    out.push({
      severity: head[1] === 'ERROR' ? 'error' : 'warning',
      ...(file ? { file } : {}),
      ...(at ? { line: Number(at[2]), col: Number(at[3]) } : {}),
      message: head[2] ? `${head[2]}: ${head[3] ?? ''}` : (head[3] ?? ''),
    });
  }
  return out;
}

/**
 * Compiles an AssemblyScript plugin on a compiler thread (`worker-pool.ts`), so a timeout or a
 * cancel stops asc at once. Throws `PAYLOAD_TOO_LARGE`, `VALIDATION_FAILED`, `COMPILE_FAILED` (with
 * `details.diagnostics`, file:line:col), `TIMEOUT` or `CANCELLED`.
 */
export async function compileAssemblyScript(options: CompileAsOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  checkSources(options.files, options.entry, limits.maxSourceBytes);
  const { signal: outer, ...rest } = options;
  return withDeadline(
    limits.timeoutMs,
    'AssemblyScript compile',
    (_remaining, signal) => runInWorker<CompileResult>({ op: 'asc', options: rest }, signal),
    outer,
  );
}

/** The compile itself, in the calling thread (a compiler thread runs it; see {@link compileAssemblyScript}). */
export async function compileAssemblyScriptHere(options: Omit<CompileAsOptions, 'signal'>): Promise<CompileResult> {
  const limits = resolveLimits(options);
  const root = findRepoRoot();
  {
    const t0 = performance.now();
    ascPromise ??= import('assemblyscript/asc').then((m) => m.default as unknown as AscApi);
    const asc = await ascPromise;
    const files = Object.fromEntries(Object.entries(options.files).map(([k, v]) => [normal(k), v]));
    let binary: Uint8Array | undefined;
    let stderr = '';
    const sink = { write: (s: string | Uint8Array) => { stderr += typeof s === 'string' ? s : new TextDecoder().decode(s); return true; } };
    const readSource = async (filename: string, baseDir: string): Promise<string | null> => {
      const name = normal(join(baseDir, filename));
      if (name in files) return files[name] ?? null;
      const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(.+)$/.exec(name);
      const pkg = m?.[1] ? PACKAGES[m[1]] : undefined;
      if (!m || !pkg || !m[2]) return null;
      return readFile(join(root, pkg, m[2]), 'utf8').catch(() => null);
    };
    // A module using the SDK exports its direct-I/O functions too (docs/plugin-abi.md): asc exports
    // what every entry file exports, so they come in through a second entry of their own.
    const entries = [normal(options.entry)];
    if (!(DIRECT_IO_ENTRY in files) && Object.values(files).some((text) => USES_SDK.test(text))) {
      files[DIRECT_IO_ENTRY] = `export { ${DIRECT_IO_EXPORTS.join(', ')} } from "uee-plugin";\n`;
      entries.push(DIRECT_IO_ENTRY);
    }
    const { error } = await asc.main(
      [
        ...entries, '--outFile', 'plugin.wasm', '--optimizeLevel', String(options.optimizeLevel ?? 3),
        '--shrinkLevel', '0', '--runtime', 'incremental', '--use', 'abort=~lib/uee-plugin/index/ueeAbort',
        '--maximumMemory', String(limits.memoryMaxPages), '--noColors',
        // Top-level code runs from `_initialize` (called once per instance by the runtime), never from
        // a start section: docs/plugin-abi.md rejects those, as they would run outside any watchdog.
        '--exportStart', '_initialize',
      ],
      {
        readFile: readSource,
        writeFile: (name: string, contents: Uint8Array | string) => {
          if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
        },
        listFiles: () => [],
        stdout: sink,
        stderr: sink,
      },
    );
    const diagnostics = parseAscDiagnostics(stderr);
    if (error || binary === undefined) {
      const first = diagnostics.find((d) => d.severity === 'error');
      throw new UeeError('COMPILE_FAILED', first ? `${first.file ?? ''}:${first.line ?? 0}:${first.col ?? 0}: ${first.message}` : (error?.message ?? 'asc produced no module'), {
        details: { diagnostics, stderr: stderr.slice(0, 4000) },
        hint: 'Fix the reported position; host functions come from "uee-plugin" (see docs/sdk.md).',
      });
    }
    const wasm = setMemoryMaximum(binary, limits.memoryMaxPages);
    const info = parseWasm(wasm);
    const all = [...diagnostics, ...checkContract(info)];
    const timings = { asc: Math.round(performance.now() - t0) };
    if (all.some((d) => d.severity === 'error')) {
      throw new UeeError('COMPILE_FAILED', all.filter((d) => d.severity === 'error').map((d) => d.message).join('; '), {
        details: { diagnostics: all },
        hint: 'Export `handle(): i32` (or `infer`) and use only uee-plugin host functions (no Date.now / Math.random: take them from input.context).',
      });
    }
    return { wasm, report: buildReport(wasm, 'assemblyscript', all, timings, info) };
  }
}
