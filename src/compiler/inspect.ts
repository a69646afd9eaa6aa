/**
 * Artifact reports and the module-contract checks of docs/plugin-abi.md, shared by every toolchain
 * and used on their own for uploaded `.wasm` files (any Extism PDK). The checks are core's
 * `checkModuleContract`, the same the runtime applies at deploy and load.
 */
import { createHash } from 'node:crypto';
import { HOST_NAMESPACE, requiredCapabilities } from '../core/capabilities.js';
import { UeeError } from '../core/errors.js';
import type { WasmInfo } from '../core/wasm/index.js';
import { checkModuleContract, parseWasm } from '../core/wasm/index.js';
import type { ArtifactReport, Diagnostic, SourceLanguage } from './types.js';

/**
 * Checks a parsed module against the contract, as far as it can be known without a manifest (no
 * kind: `handle` or `infer`; no capability grant; no memory budget). Errors make it unusable.
 */
export function checkContract(info: WasmInfo): Diagnostic[] {
  return checkModuleContract(info).violations.map((v) => ({ severity: 'error', file: '<module>', message: v.message, hint: v.hint }));
}

/** Builds the artifact report of finished module bytes. */
export function buildReport(
  wasm: Uint8Array,
  language: SourceLanguage,
  diagnostics: readonly Diagnostic[],
  timings: Record<string, number>,
  info: WasmInfo = parseWasm(wasm),
): ArtifactReport {
  const hostFunctions = info.imports.filter((i) => i.module === HOST_NAMESPACE).map((i) => i.name);
  const memory = info.memories[0] ?? info.imports.find((i) => i.memory !== undefined)?.memory;
  return {
    language,
    size: wasm.length,
    sha256: createHash('sha256').update(wasm).digest('hex'),
    exports: info.exports.map((e) => ({ name: e.name, kind: e.kind })),
    imports: info.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    hostFunctions,
    capabilities: requiredCapabilities(hostFunctions).capabilities.sort(),
    ...(memory ? { memory: { min: memory.min, ...(memory.max === null ? {} : { max: memory.max }) } } : {}),
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
