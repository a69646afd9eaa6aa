/**
 * The C toolchain: the clang that builds the JS engine (`@yowasp/clang`, clang compiled to wasm)
 * compiles the plugin freestanding for `wasm32` (no libc, no WASI) with the header-only SDK
 * `sdk/c/uee_plugin.h`. clang runs on a compiler thread (`worker-pool.ts`), so a cancel or timeout
 * terminates it, and sees only a virtual file system holding the given files and the SDK: an
 * `#include` cannot reach the server's files.
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UeeError } from '../core/errors.js';
import { parseWasm, setMemoryMaximum } from '../core/wasm/index.js';
import { findRepoRoot } from './engine-build.js';
import { buildReport, checkContract } from './inspect.js';
import { checkSources, resolveLimits, withDeadline } from './limits.js';
import type { CompileLimits, CompileResult, Diagnostic } from './types.js';
import { runInWorker } from './worker-pool.js';

/** Options for {@link compileC}. */
export interface CompileCOptions extends CompileLimits {
  /** Source files by relative path (`main.c`, `score.h`, …); every `.c` file is compiled and linked. */
  files: Record<string, string>;
  /** The file defining the entry (`UEE_EXPORT("handle") int handle(void)`); listed first. */
  entry: string;
  /** clang `-O` level. @default '2' */
  optimizeLevel?: '0' | '1' | '2' | '3' | 's' | 'z';
  /** Cancels the compile: the thread running clang is terminated at once (`CANCELLED`). */
  signal?: AbortSignal;
}

/** Directory of the SDK header in clang's virtual file system (`#include "uee_plugin.h"`). */
const SDK_DIR = '.uee-sdk';

interface YowaspClang {
  runClang(args: string[], files: Record<string, unknown>, options?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** Parses clang's `file:line:col: error: message` lines (caret lines are turned off). */
export function parseClangDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of stderr.matchAll(/^([^:\n]+):(\d+):(\d+): (error|warning|fatal error): ([^\n]*)/gm)) {
    const file = (m[1] ?? '').replace(/^\.\//, '');
    out.push({
      severity: m[4] === 'warning' ? 'warning' : 'error',
      file: file.startsWith(`${SDK_DIR}/`) ? `sdk/c/${file.slice(SDK_DIR.length + 1)}` : file,
      line: Number(m[2]),
      col: Number(m[3]),
      message: m[5] ?? '',
    });
  }
  return out;
}

/** Nested object of files as @yowasp/clang's virtual file system wants it. */
function tree(files: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, text] of Object.entries(files)) {
    const parts = path.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) dir = (dir[part] ??= {}) as Record<string, unknown>;
    dir[parts[parts.length - 1]!] = text;
  }
  return root;
}

const normal = (p: string): string => posix.normalize(p.replace(/\\/g, '/')).replace(/^\.?\//, '');

/**
 * Compiles a C plugin on a compiler thread. Throws `PAYLOAD_TOO_LARGE`, `VALIDATION_FAILED`,
 * `COMPILE_FAILED` (clang or link errors with file:line:col), `TIMEOUT` or `CANCELLED`.
 */
export async function compileC(options: CompileCOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  checkSources(options.files, options.entry, limits.maxSourceBytes);
  const { signal: outer, ...rest } = options;
  return withDeadline(limits.timeoutMs, 'C compile', (_remaining, signal) => runInWorker<CompileResult>({ op: 'clang', options: rest }, signal), outer);
}

/** The compile itself, in the calling thread (a compiler thread runs it; see {@link compileC}). */
export async function compileCHere(options: Omit<CompileCOptions, 'signal'>): Promise<CompileResult> {
  const limits = resolveLimits(options);
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(options.files)) {
    const n = normal(name);
    if (n.startsWith('../') || n.startsWith('/') || n.startsWith(SDK_DIR)) {
      throw new UeeError('VALIDATION_FAILED', `file name ${name} is not a relative path`, { hint: 'Name files like main.c or lib/score.h.' });
    }
    files[n] = text;
  }
  const entry = normal(options.entry);
  const sources = [entry, ...Object.keys(files).filter((f) => f.endsWith('.c') && f !== entry)];
  files[`${SDK_DIR}/uee_plugin.h`] = await readFile(join(findRepoRoot(), 'sdk', 'c', 'uee_plugin.h'), 'utf8');
  const t0 = performance.now();
  const clang = (await import('@yowasp/clang')) as unknown as YowaspClang;
  let stderr = '';
  const decoder = new TextDecoder();
  let out: Record<string, unknown> | undefined;
  try {
    out = await clang.runClang(
      [
        'clang', '--target=wasm32', `-O${options.optimizeLevel ?? '2'}`, '-std=c11', '-nostdlib', '-ffreestanding',
        '-fno-color-diagnostics', '-fno-caret-diagnostics', '-I', SDK_DIR,
        '-Wl,--no-entry', '-Wl,--strip-all', `-Wl,--max-memory=${limits.memoryMaxPages * 65536}`,
        ...sources, '-o', 'plugin.wasm',
      ],
      tree(files),
      {
        stderr: (b: Uint8Array | null) => {
          if (b) stderr += decoder.decode(b);
        },
        stdout: () => undefined,
        fetchProgress: () => undefined,
      },
    );
  } catch {
    out = undefined; // clang exited non-zero: the diagnostics say why
  }
  const bytes = out?.['plugin.wasm'];
  const diagnostics = parseClangDiagnostics(stderr);
  if (!(bytes instanceof Uint8Array)) {
    const first = diagnostics.find((d) => d.severity === 'error');
    const undefinedSymbol = /undefined symbol: (\S+)/.exec(stderr)?.[1];
    throw new UeeError(
      'COMPILE_FAILED',
      first ? `${first.file ?? '?'}:${first.line ?? 0}:${first.col ?? 0}: ${first.message}` : undefinedSymbol ? `undefined symbol: ${undefinedSymbol}` : 'clang produced no module',
      {
        details: { diagnostics, ...(first ? {} : { stderr: stderr.slice(-4000) }) },
        hint: undefinedSymbol
          ? `There is no libc: define ${undefinedSymbol} yourself or use the helpers of uee_plugin.h.`
          : 'Fix the reported position; host functions come from #include "uee_plugin.h" (sdk/c/uee_plugin.h).',
      },
    );
  }
  const wasm = setMemoryMaximum(bytes, limits.memoryMaxPages);
  const info = parseWasm(wasm);
  const all = [...diagnostics, ...checkContract(info)];
  if (all.some((d) => d.severity === 'error')) {
    throw new UeeError('COMPILE_FAILED', all.filter((d) => d.severity === 'error').map((d) => d.message).join('; '), {
      details: { diagnostics: all },
      hint: 'Export the entry with UEE_EXPORT("handle") int handle(void) and use only uee_plugin.h host functions.',
    });
  }
  return { wasm, report: buildReport(wasm, 'c', all, { clang: Math.round(performance.now() - t0) }, info) };
}
