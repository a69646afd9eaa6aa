/** The WAT toolchain: WebAssembly text → binary with wabt, then the same contract checks. */
import { UeeError } from '../core/errors.js';
import { buildReport, checkContract } from './inspect.js';
import { checkSources, resolveLimits } from './limits.js';
import type { CompileLimits, CompileResult, Diagnostic } from './types.js';
import { parseWasm, setMemoryMaximum } from '../core/wasm/index.js';

/** Options for {@link compileWat}. */
export interface CompileWatOptions extends CompileLimits {
  /** The module text. */
  source: string;
  /** File name used in diagnostics. @default 'plugin.wat' */
  filename?: string;
}

interface WabtModule {
  resolveNames(): void;
  validate(): void;
  toBinary(o: Record<string, boolean>): { buffer: Uint8Array };
  destroy(): void;
}
interface Wabt {
  parseWat(filename: string, text: string, features?: Record<string, boolean>): WabtModule;
}
let wabtPromise: Promise<Wabt> | undefined;

/** Parses wabt's `plugin.wat:3:5: error: message` lines. */
export function parseWabtDiagnostics(text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of text.matchAll(/^([^:\n]+):(\d+):(\d+): (error|warning): ([^\n]*)(?:\n([^\n]*))?/gm)) {
    out.push({
      severity: m[4] === 'warning' ? 'warning' : 'error',
      file: m[1] ?? '',
      line: Number(m[2]),
      col: Number(m[3]),
      message: m[5] ?? '',
      ...(m[6] ? { lineText: m[6] } : {}),
    });
  }
  return out;
}

/** Compiles WAT. Throws `PAYLOAD_TOO_LARGE` or `COMPILE_FAILED` (file:line:col diagnostics). */
export async function compileWat(options: CompileWatOptions): Promise<CompileResult> {
  const limits = resolveLimits(options);
  const filename = options.filename ?? 'plugin.wat';
  checkSources({ [filename]: options.source }, filename, limits.maxSourceBytes);
  const t0 = performance.now();
  wabtPromise ??= import('wabt').then((m) => (m.default as unknown as () => Promise<Wabt>)());
  const wabt = await wabtPromise;
  let mod: WabtModule | undefined;
  let binary: Uint8Array;
  try {
    mod = wabt.parseWat(filename, options.source, { multi_value: true, bulk_memory: true, sign_extension: true, sat_float_to_int: true, mutable_globals: true });
    mod.resolveNames();
    mod.validate();
    binary = mod.toBinary({ log: false, write_debug_names: false }).buffer;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const diagnostics = parseWabtDiagnostics(text);
    const first = diagnostics[0];
    throw new UeeError('COMPILE_FAILED', first ? `${first.file ?? ''}:${first.line ?? 0}:${first.col ?? 0}: ${first.message}` : text, {
      details: { diagnostics },
      hint: 'Fix the WAT at the reported position.',
      cause: err,
    });
  } finally {
    mod?.destroy();
  }
  const wasm = setMemoryMaximum(binary, limits.memoryMaxPages);
  const info = parseWasm(wasm);
  const diagnostics = checkContract(info);
  if (diagnostics.some((d) => d.severity === 'error')) {
    throw new UeeError('COMPILE_FAILED', diagnostics.map((d) => d.message).join('; '), {
      details: { diagnostics },
      hint: diagnostics.find((d) => d.hint)?.hint ?? 'Follow docs/plugin-abi.md.',
    });
  }
  return { wasm, report: buildReport(wasm, 'wat', diagnostics, { wabt: Math.round(performance.now() - t0) }, info) };
}
