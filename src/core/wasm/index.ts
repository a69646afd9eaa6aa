/**
 * The WebAssembly module contract shared by the toolchains (src/compiler) and the runtime
 * (src/runtime): one binary reader/rewriter and one checker of docs/plugin-abi.md.
 */
export { parseWasm, readTargetFeatures, rewriteMemoryMaximum, capMemory, capTables, setMemoryMaximum, formatFuncType, sameFuncType } from './binary.js';
export type { ExternKind, FuncType, MemoryLimits, ValType, WasmExport, WasmImport, WasmInfo } from './binary.js';
export {
  DIRECT_IO_EXPORTS,
  ENTRY_EXPORT,
  ENTRY_TYPE,
  HOST_FUNCTION_TYPE,
  KERNEL_FUNCTIONS,
  KERNEL_NAMESPACE,
  USER_NAMESPACE,
  MODULE_LIMITS,
  checkModuleContract,
} from './contract.js';
export type { ContractCheck, ContractRequirements, ContractViolation, ModuleKind } from './contract.js';
