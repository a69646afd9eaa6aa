/**
 * Artifact reports and the module-contract checks of docs/plugin-abi.md, shared by every toolchain
 * and used on their own for uploaded `.wasm` files (any Extism PDK).
 */
import { createHash } from 'node:crypto';
import { UeeError } from '../core/errors.js';
import type { ArtifactReport, Capability, Diagnostic, SourceLanguage } from './types.js';
import { HOST_FUNCTION_CAPABILITIES } from './types.js';
import type { FuncType, WasmInfo } from './wasm-binary.js';
import { parseWasm } from './wasm-binary.js';

const ENV = 'extism:host/env';
const USER = 'extism:host/user';
const PLUGIN_EXPORTS = ['handle', 'infer'];

const sig = (t: FuncType | undefined): string => (t ? `(${t.params.join(', ')}) -> (${t.results.join(', ')})` : '?');

/** Checks a parsed module against the contract; returns diagnostics (errors make it unusable). */
export function checkContract(info: WasmInfo): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err = (message: string, hint?: string): void => {
    out.push({ severity: 'error', file: '<module>', message, ...(hint ? { hint } : {}) });
  };
  for (const imp of info.imports) {
    const id = `${imp.module}/${imp.name}`;
    if (imp.module === 'wasi_snapshot_preview1' || imp.module.startsWith('wasi')) {
      err(`imports WASI function ${id}: WASI is not available to plugins (no ambient clock, random or files)`,
        'Build without WASI (e.g. Rust --target wasm32-unknown-unknown, TinyGo -target wasm-unknown, or the Extism PDK defaults) and take time and randomness from input.context.');
    } else if (imp.module === USER) {
      if (!(imp.name in HOST_FUNCTION_CAPABILITIES)) {
        err(`imports unknown host function ${id}`, `Host functions are: ${Object.keys(HOST_FUNCTION_CAPABILITIES).join(', ')}.`);
      } else if (imp.kind !== 'function' || sig(imp.type) !== '(i64) -> (i64)') {
        err(`host function ${id} has signature ${sig(imp.type)}; expected (i64) -> (i64)`,
          'Declare it as taking and returning an Extism memory offset (u64).');
      }
    } else if (imp.module !== ENV) {
      err(`imports ${id} from an unknown module`, `Only ${ENV} and ${USER} imports are linked.`);
    }
  }
  const entry = info.exports.filter((e) => PLUGIN_EXPORTS.includes(e.name));
  if (entry.length === 0) err('exports neither handle nor infer', 'Export `handle` (event/workflow plugins) or `infer` (model plugins).');
  for (const e of entry) {
    if (e.kind !== 'function' || sig(e.type) !== '() -> (i32)') {
      err(`export ${e.name} has signature ${sig(e.type)}; expected () -> (i32)`, 'Return 0 on success and non-zero after error_set.');
    }
  }
  return out;
}

/** Builds the artifact report of finished module bytes. */
export function buildReport(
  wasm: Uint8Array,
  language: SourceLanguage,
  diagnostics: readonly Diagnostic[],
  timings: Record<string, number>,
  info: WasmInfo = parseWasm(wasm),
): ArtifactReport {
  const hostFunctions = info.imports.filter((i) => i.module === USER).map((i) => i.name);
  const caps = new Set<Capability>();
  for (const f of hostFunctions) {
    const c = HOST_FUNCTION_CAPABILITIES[f];
    if (c) caps.add(c);
  }
  return {
    language,
    size: wasm.length,
    sha256: createHash('sha256').update(wasm).digest('hex'),
    exports: info.exports.map((e) => ({ name: e.name, kind: e.kind })),
    imports: info.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    hostFunctions,
    capabilities: [...caps].sort(),
    ...(info.memory ? { memory: { min: info.memory.min, ...(info.memory.max === undefined ? {} : { max: info.memory.max }) } } : {}),
    diagnostics,
    timings,
  };
}

/** Options for {@link inspectWasm}. */
export interface InspectOptions {
  /** Largest accepted module. @default 16 MiB */
  maxBytes?: number;
}

/**
 * Validates an uploaded module (any Extism PDK) against docs/plugin-abi.md and reports it.
 * Throws `PAYLOAD_TOO_LARGE`, or `VALIDATION_FAILED` with `details.report` listing every problem.
 */
export function inspectWasm(bytes: Uint8Array, options: InspectOptions = {}): ArtifactReport {
  const t0 = performance.now();
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  if (bytes.length > maxBytes) {
    throw new UeeError('PAYLOAD_TOO_LARGE', `module is ${bytes.length} bytes; the limit is ${maxBytes}`, {
      details: { size: bytes.length, limit: maxBytes },
      hint: 'Strip debug info (wasm-opt --strip-debug) or build with size optimisation.',
    });
  }
  let info: WasmInfo;
  try {
    info = parseWasm(bytes);
  } catch (err) {
    throw new UeeError('VALIDATION_FAILED', `module cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
  const diagnostics: Diagnostic[] = [];
  const wasmApi = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
  if (!wasmApi.validate(bytes)) {
    diagnostics.push({ severity: 'error', file: '<module>', message: 'WebAssembly validation failed (uses features this Node cannot run, or is malformed)' });
  }
  diagnostics.push(...checkContract(info));
  const report = buildReport(bytes, 'wasm', diagnostics, { inspect: performance.now() - t0 }, info);
  if (diagnostics.some((d) => d.severity === 'error')) {
    throw new UeeError('VALIDATION_FAILED', diagnostics.filter((d) => d.severity === 'error').map((d) => d.message).join('; '), {
      details: { report },
      hint: diagnostics.find((d) => d.hint)?.hint ?? 'Fix the listed problems and upload again.',
    });
  }
  return report;
}
