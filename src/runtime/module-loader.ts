import { createHash } from 'node:crypto';
import type { Capability, HostFunctionName } from '../core/capabilities.js';
import { UeeError } from '../core/errors.js';
import { ENTRY_EXPORT, MODULE_LIMITS, capMemory, capTables, checkModuleContract, parseWasm, type MemoryLimits } from '../core/wasm/index.js';
import type { PluginKind } from './types.js';
import { wasmApi } from './wasm-api.js';

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

/**
 * Validates a module against docs/plugin-abi.md (the shared `checkModuleContract`, the same checks
 * the compiler's artifact reports make) and compiles it. Rejects with the first violation, in this
 * order: malformed binaries and start sections (`INVALID_MODULE`), imports of WASI or of host
 * functions the capabilities do not grant (`CAPABILITY_DENIED`, naming every missing capability),
 * unknown imports or wrong signatures (`INVALID_MODULE`), a missing `handle`/`infer` export, and a
 * memory minimum above `memoryPages` or tables/globals over `MODULE_LIMITS` (`BUDGET_EXCEEDED`). A
 * missing or larger memory maximum is rewritten down to `memoryPages`, a table maximum down to
 * `MODULE_LIMITS.tableElements`.
 */
export async function prepareModule(bytes: Uint8Array, req: ModuleRequirements): Promise<PreparedModule> {
  const info = parseWasm(bytes);
  const { violations, hostImports } = checkModuleContract(info, req);
  const first = violations[0];
  if (first !== undefined) throw new UeeError(first.code, first.message, { details: first.details, hint: first.hint });
  const entry = ENTRY_EXPORT[req.kind];
  const mem = info.memories[0];
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // Everything the module can grow gets a declared maximum before it is compiled: a table or memory
  // grown past what V8 can allocate aborts the whole process, not just the call.
  const memCapped = mem === undefined ? bytes : capMemory(bytes, req.memoryPages);
  const capped = info.tables.length === 0 ? memCapped : capTables(memCapped, MODULE_LIMITS.tableElements);
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
