/**
 * The Rust toolchain: Debian's `rustc` (package `rustc` with `libstd-rust-dev-wasm32`) compiles the
 * plugin crate for `wasm32-unknown-unknown` as a `cdylib`, linked against the dependency-free SDK
 * `sdk/rust/uee_plugin.rs` (built once per rustc version into `node_modules/.cache/uee/rust/`).
 * No Cargo, no crates.io. The plugin's files are written to a private temp dir; rustc runs with an
 * empty environment and is killed on timeout or cancel. Source constructs that would read the
 * server at compile time — `include!`/`include_str!`/`include_bytes!` (any file), `env!`/
 * `option_env!` (the server's environment) and `#[path]` (a module from any file) — are refused
 * before rustc runs.
 */
import { execFile } from 'node:child_process';
import { lowerPriority } from './priority.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { UeeError } from '../core/errors.js';
import { parseWasm, setMemoryMaximum } from '../core/wasm/index.js';
import { findRepoRoot } from './engine-build.js';
import { buildReport, checkContract } from './inspect.js';
import { checkSources, resolveLimits, withDeadline } from './limits.js';
import type { CompileLimits, CompileResult, Diagnostic } from './types.js';

/** Options for {@link compileRust}. */
export interface CompileRustOptions extends CompileLimits {
  /** Source files by relative path (`lib.rs`, `score.rs`, …); `mod score;` finds `score.rs`. */
  files: Record<string, string>;
  /** The crate root; it exports `#[no_mangle] pub extern "C" fn handle() -> i32` (and/or `infer`). */
  entry: string;
  /** rustc `-C opt-level`. @default 2 */
  optimizeLevel?: 0 | 1 | 2 | 3 | 's' | 'z';
  /** The rustc binary; it needs the wasm32-unknown-unknown standard library. @default '/usr/bin/rustc' */
  rustc?: string;
  /** Cancels the compile: rustc is killed at once (`CANCELLED`). */
  signal?: AbortSignal;
}

/** Debian's rustc: another one earlier on PATH (rustup's) may lack the wasm32 standard library. */
export const DEFAULT_RUSTC = '/usr/bin/rustc';

const FORBIDDEN: readonly { pattern: RegExp; message: string }[] = [
  { pattern: /\b(include|include_str|include_bytes)\s*!/g, message: 'include!/include_str!/include_bytes! would read files of the compile server' },
  { pattern: /\b(env|option_env)\s*!/g, message: 'env!/option_env! would read the environment of the compile server' },
  { pattern: /#\s*!?\s*\[\s*path\s*=/g, message: '#[path] would load a module from outside the given files' },
];
const NO_SERVER_ACCESS_HINT = 'Plugins get data through host functions at run time; put constants and modules in the given files.';

/** Positions of constructs that read the server at compile time (see the file comment). */
export function forbiddenRust(files: Record<string, string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [file, text] of Object.entries(files)) {
    for (const { pattern, message } of FORBIDDEN) {
      for (const m of text.matchAll(pattern)) {
        const before = text.slice(0, m.index);
        const line = before.split('\n').length;
        out.push({ severity: 'error', file, line, col: m.index - before.lastIndexOf('\n'), message, hint: NO_SERVER_ACCESS_HINT });
      }
    }
  }
  return out;
}

interface RustcMessage {
  readonly $message_type?: string;
  readonly message: string;
  readonly level: string;
  readonly code?: { readonly code: string } | null;
  readonly spans: readonly { file_name: string; line_start: number; column_start: number; is_primary: boolean; text?: { text: string }[] }[];
  readonly children?: readonly { message: string; level: string }[];
}

/** Parses rustc's `--error-format=json` lines into diagnostics positioned in the given files. */
export function parseRustcDiagnostics(stderr: string, files: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let m: RustcMessage;
    try {
      m = JSON.parse(line) as RustcMessage;
    } catch {
      continue;
    }
    if (m.$message_type !== undefined && m.$message_type !== 'diagnostic') continue;
    if (m.level !== 'error' && m.level !== 'warning') continue;
    if (/^aborting due to|^\d+ warnings? emitted/.test(m.message)) continue;
    const span = m.spans.find((s) => s.is_primary && files.has(s.file_name)) ?? m.spans.find((s) => files.has(s.file_name));
    const help = m.children?.find((c) => c.level === 'help')?.message;
    out.push({
      severity: m.level === 'error' ? 'error' : 'warning',
      ...(span ? { file: span.file_name, line: span.line_start, col: span.column_start } : {}),
      ...(span?.text?.[0] ? { lineText: span.text[0].text } : {}),
      message: m.message,
      ...(m.code?.code ? { code: m.code.code } : {}),
      ...(help ? { hint: help } : {}),
    });
  }
  return out;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<{ stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      // an empty environment: nothing of the server reaches the compiler (PATH for its linker only)
      { cwd, env: { PATH: '/usr/bin:/bin', HOME: cwd }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, ...(signal ? { signal } : {}) },
      (error, _stdout, stderr) => resolve({ stderr, ...(error ? { error } : {}) }),
    );
    lowerPriority(child.pid);
  });
}

function unavailable(rustc: string, detail: string): UeeError {
  return new UeeError('BACKEND_UNAVAILABLE', `the Rust toolchain is not usable: ${detail}`, {
    details: { rustc },
    hint: 'The server needs Debian\'s rustc with the wasm32 standard library: apt-get install -y rustc libstd-rust-dev-wasm32 (.ci/run does this).',
  });
}

const sdkBuilds = new Map<string, Promise<string>>();

/** The SDK rlib for this rustc, built once (content-addressed by the SDK source and `rustc -vV`). */
function sdkRlib(rustc: string, root: string, timeoutMs: number): Promise<string> {
  let pending = sdkBuilds.get(rustc);
  if (!pending) {
    pending = buildSdk(rustc, root, timeoutMs);
    pending.catch(() => sdkBuilds.delete(rustc));
    sdkBuilds.set(rustc, pending);
  }
  return pending;
}

async function buildSdk(rustc: string, root: string, timeoutMs: number): Promise<string> {
  const source = join(root, 'sdk', 'rust', 'uee_plugin.rs');
  const version = await run(rustc, ['-vV'], tmpdir(), 10_000);
  if (version.error) throw unavailable(rustc, version.error.message);
  const hash = createHash('sha256').update(await readFile(source)).update(version.stderr).update(String(version.error ?? '')).update(rustc).digest('hex').slice(0, 16);
  const dir = join(root, 'node_modules', '.cache', 'uee', 'rust', hash);
  const rlib = join(dir, 'libuee_plugin.rlib');
  if (existsSync(rlib)) return rlib;
  const work = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(work, { recursive: true });
  const built = await run(
    rustc,
    ['--edition', '2021', '--crate-type', 'rlib', '--crate-name', 'uee_plugin', '--target', 'wasm32-unknown-unknown', '-C', 'opt-level=2', source, '-o', join(work, 'libuee_plugin.rlib')],
    work,
    timeoutMs,
  );
  if (built.error) {
    await rm(work, { recursive: true, force: true });
    const stderr = built.stderr.slice(-2000);
    throw unavailable(rustc, /can't find crate for `(std|core)`|target may not be installed/.test(stderr) ? 'the wasm32-unknown-unknown standard library is missing' : stderr || built.error.message);
  }
  await mkdir(dirname(dir), { recursive: true });
  await rename(work, dir).catch(async () => rm(work, { recursive: true, force: true })); // another process won the race
  return rlib;
}

const normal = (p: string): string => posix.normalize(p.replace(/\\/g, '/')).replace(/^\.?\//, '');

/**
 * Compiles a Rust plugin crate. Throws `PAYLOAD_TOO_LARGE`, `VALIDATION_FAILED` (file names),
 * `COMPILE_FAILED` (rustc errors with file:line:col and the `E0308`-style code, or a refused
 * construct), `BACKEND_UNAVAILABLE` (no usable rustc), `TIMEOUT` or `CANCELLED`.
 */
export async function compileRust(options: CompileRustOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  checkSources(options.files, options.entry, limits.maxSourceBytes);
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(options.files)) {
    const n = normal(name);
    if (n.startsWith('../') || n.startsWith('/') || !n.endsWith('.rs')) {
      throw new UeeError('VALIDATION_FAILED', `file name ${name} is not a relative .rs path inside the crate`, { hint: 'Name files like lib.rs or score/mod.rs.' });
    }
    files[n] = text;
  }
  const refused = forbiddenRust(files);
  if (refused.length > 0) {
    const first = refused[0]!;
    throw new UeeError('COMPILE_FAILED', `${first.file}:${first.line}:${first.col}: ${first.message}`, { details: { diagnostics: refused }, hint: NO_SERVER_ACCESS_HINT });
  }
  const rustc = options.rustc ?? DEFAULT_RUSTC;
  const root = findRepoRoot();
  return withDeadline(
    limits.timeoutMs,
    'Rust compile',
    async (remaining, signal) => {
      const t0 = performance.now();
      const rlib = await sdkRlib(rustc, root, remaining());
      const tSdk = performance.now();
      const dir = await mkdtemp(join(tmpdir(), 'uee-rust-'));
      try {
        for (const [name, text] of Object.entries(files)) {
          await mkdir(dirname(join(dir, name)), { recursive: true });
          await writeFile(join(dir, name), text);
        }
        const { stderr, error } = await run(
          rustc,
          [
            '--edition', '2021', '--crate-type', 'cdylib', '--crate-name', 'plugin', '--target', 'wasm32-unknown-unknown',
            '-C', `opt-level=${options.optimizeLevel ?? 2}`, '-C', 'strip=debuginfo', '--error-format=json',
            '--extern', `uee_plugin=${rlib}`, normal(options.entry), '-o', 'plugin.wasm',
          ],
          dir,
          remaining(),
          signal,
        );
        if (signal.aborted) throw signal.reason instanceof UeeError ? signal.reason : new UeeError('CANCELLED', 'the compile was cancelled');
        const diagnostics = parseRustcDiagnostics(stderr, new Set(Object.keys(files)));
        if (error) {
          const first = diagnostics.find((d) => d.severity === 'error');
          throw new UeeError('COMPILE_FAILED', first ? `${first.file ?? '?'}:${first.line ?? 0}:${first.col ?? 0}: ${first.code ? `${first.code}: ` : ''}${first.message}` : `rustc failed: ${error.message}`, {
            details: { diagnostics, ...(first ? {} : { stderr: stderr.slice(-4000) }) },
            hint: first?.hint ?? 'Fix the reported position; host functions come from `use uee_plugin::*;` (sdk/rust/uee_plugin.rs).',
          });
        }
        const wasm = setMemoryMaximum(new Uint8Array(await readFile(join(dir, 'plugin.wasm'))), limits.memoryMaxPages);
        const info = parseWasm(wasm);
        const all = [...diagnostics, ...checkContract(info)];
        if (all.some((d) => d.severity === 'error')) {
          throw new UeeError('COMPILE_FAILED', all.filter((d) => d.severity === 'error').map((d) => d.message).join('; '), {
            details: { diagnostics: all },
            hint: 'Export `#[no_mangle] pub extern "C" fn handle() -> i32` (or `infer`) calling uee_plugin::dispatch.',
          });
        }
        const timings = { sdk: Math.round(tSdk - t0), rustc: Math.round(performance.now() - tSdk) };
        return { wasm, report: buildReport(wasm, 'rust', all, timings, info) };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    options.signal,
  );
}
