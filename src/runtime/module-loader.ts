import { createHash } from 'node:crypto';
import { UeeError } from '../core/errors.js';
import {
  HOST_FUNCTIONS,
  HOST_FUNCTION_CAPABILITY,
  HOST_FUNCTION_TYPE,
  KERNEL_FUNCTIONS,
  KERNEL_NAMESPACE,
  USER_NAMESPACE,
  type Capability,
  type HostFunctionName,
} from './abi.js';
import type { PluginKind } from './types.js';
import { wasmApi } from './wasm-api.js';
import { capMemory, formatFuncType, parseWasm, type FuncType, type MemoryLimits } from './wasm-binary.js';

/** A module checked against the ABI, memory-capped and compiled, ready to send to workers. */
export interface PreparedModule {
  module: WebAssembly.Module;
  /** sha256 of the bytes as deployed (before the memory rewrite). */
  sha256: string;
  /** The export the runtime calls. */
  entry: 'handle' | 'infer';
  /** Host functions the module imports (all granted). */
  hostImports: HostFunctionName[];
  /** The module's memory after the rewrite, if it defines one. */
  memory: MemoryLimits | null;
}

/** What the loader checks a module against. */
export interface ModuleRequirements {
  kind: PluginKind;
  capabilities: readonly Capability[];
  memoryPages: number;
}

const sameType = (a: FuncType, b: FuncType): boolean =>
  a.params.length === b.params.length &&
  a.results.length === b.results.length &&
  a.params.every((p, i) => p === b.params[i]) &&
  a.results.every((r, i) => r === b.results[i]);

function invalid(message: string, details: Record<string, unknown>, hint?: string): UeeError {
  return new UeeError('INVALID_MODULE', message, { details, hint: hint ?? 'build the module with an Extism PDK or a UEE toolchain (docs/plugin-abi.md)' });
}

/**
 * Validates a module against docs/plugin-abi.md and compiles it. Rejects, in this order:
 * malformed binaries and start sections (`INVALID_MODULE`), imports of WASI or of host functions
 * the capabilities do not grant (`CAPABILITY_DENIED`, naming every missing capability), unknown
 * imports or wrong signatures (`INVALID_MODULE`), a missing `handle`/`infer` export, and a memory
 * minimum above `memoryPages` (`BUDGET_EXCEEDED`). A missing or larger memory maximum is rewritten
 * down to `memoryPages`.
 */
export async function prepareModule(bytes: Uint8Array, req: ModuleRequirements): Promise<PreparedModule> {
  const info = parseWasm(bytes);
  if (info.hasStart) {
    throw invalid('modules with a start section are not accepted (it would run outside any watchdog)', {});
  }
  const granted = new Set(req.capabilities);
  const missing = new Map<Capability, HostFunctionName[]>();
  const hostImports: HostFunctionName[] = [];
  for (const imp of info.imports) {
    const where = { module: imp.module, name: imp.name };
    if (imp.module === 'wasi_snapshot_preview1' || imp.module.startsWith('wasi')) {
      throw new UeeError('CAPABILITY_DENIED', `WASI import ${imp.module}.${imp.name} is not available to plugins`, {
        details: where,
        hint: 'plugins have no ambient authority: build without WASI (clock and randomness come from the event context)',
      });
    }
    if (imp.kind !== 'func' || imp.type === undefined) throw invalid(`import ${imp.module}.${imp.name} is a ${imp.kind}; only functions may be imported`, where);
    if (imp.module === KERNEL_NAMESPACE) {
      const expected = KERNEL_FUNCTIONS[imp.name];
      if (expected === undefined) throw invalid(`unknown Extism kernel function ${imp.name}`, where);
      if (!sameType(expected, imp.type)) {
        throw invalid(`kernel function ${imp.name} imported as ${formatFuncType(imp.type)}, expected ${formatFuncType(expected)}`, where);
      }
    } else if (imp.module === USER_NAMESPACE) {
      const fn = HOST_FUNCTIONS.find((f) => f === imp.name);
      if (fn === undefined) throw invalid(`unknown host function ${imp.name}`, where, 'see the host-function table in docs/plugin-abi.md');
      if (!sameType(HOST_FUNCTION_TYPE, imp.type)) {
        throw invalid(`host function ${fn} imported as ${formatFuncType(imp.type)}, expected (i64) -> i64`, where);
      }
      const cap = HOST_FUNCTION_CAPABILITY[fn];
      if (cap !== null && !granted.has(cap)) missing.set(cap, [...(missing.get(cap) ?? []), fn]);
      else hostImports.push(fn);
    } else {
      throw invalid(`import from unknown namespace ${imp.module}`, where, `import only from ${KERNEL_NAMESPACE} and ${USER_NAMESPACE}`);
    }
  }
  if (missing.size > 0) {
    const caps = [...missing.keys()];
    throw new UeeError('CAPABILITY_DENIED', `the module imports host functions its capabilities do not grant: needs ${caps.join(', ')}`, {
      details: { missingCapabilities: caps, functions: Object.fromEntries(missing) },
      hint: `declare the capabilities ${caps.join(', ')} or remove those imports`,
    });
  }
  const entry = req.kind === 'model' ? 'infer' : 'handle';
  const exp = info.exports.find((e) => e.name === entry);
  if (exp === undefined || exp.kind !== 'func') throw invalid(`a ${req.kind} plugin must export the function "${entry}"`, { export: entry });
  const entryType = info.functionTypes[exp.index];
  if (entryType === undefined || !sameType(entryType, { params: [], results: ['i32'] })) {
    throw invalid(`export "${entry}" must have the type () -> i32`, { export: entry, actual: entryType && formatFuncType(entryType) });
  }
  if (info.memories.length > 1) throw invalid('modules may define at most one memory', { memories: info.memories.length });
  const mem = info.memories[0];
  if (mem !== undefined && mem.min > req.memoryPages) {
    throw new UeeError('BUDGET_EXCEEDED', `the module needs ${mem.min} memory pages at start, over the budget of ${req.memoryPages}`, {
      details: { limit: 'memoryPages', min: mem.min, memoryPages: req.memoryPages },
      hint: 'raise maximumResourceBudget.memoryPages or lower the module initial memory',
    });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const capped = mem === undefined ? bytes : capMemory(bytes, req.memoryPages);
  let module: WebAssembly.Module;
  try {
    module = await wasmApi.compile(capped);
  } catch (cause) {
    throw new UeeError('INVALID_MODULE', `the module does not compile: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, details: { sha256 } });
  }
  return {
    module,
    sha256,
    entry,
    hostImports,
    memory: mem === undefined ? null : { min: mem.min, max: mem.max === null ? req.memoryPages : Math.min(mem.max, req.memoryPages) },
  };
}
