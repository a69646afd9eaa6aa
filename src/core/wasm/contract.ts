/**
 * The module contract of docs/plugin-abi.md as data and one checker, shared by the toolchains
 * (artifact reports, uploaded `.wasm` inspection) and the runtime (deploy and load validation), so
 * the two can never disagree about what a valid plugin module is.
 */
import { HOST_FUNCTIONS, HOST_FUNCTION_CAPABILITY, HOST_NAMESPACE, isHostFunction } from '../capabilities.js';
import type { Capability, HostFunctionName } from '../capabilities.js';
import type { ErrorCode } from '../errors.js';
import { formatFuncType, sameFuncType } from './binary.js';
import type { FuncType, WasmInfo } from './binary.js';

/** Namespace of the Extism kernel. */
export const KERNEL_NAMESPACE = 'extism:host/env';
/** Namespace of UEE's host functions. */
export const USER_NAMESPACE = HOST_NAMESPACE;

const i64 = 'i64' as const;
const i32 = 'i32' as const;
const sig = (params: FuncType['params'], results: FuncType['results'] = []): FuncType => ({ params, results });

/**
 * Kernel functions a module may import, with the signatures @extism/extism 1.0.3 implements (JS
 * host functions link against any signature, so they are checked to fail at load, not at call
 * time). `http_request`/`http_status_code` link but always fail: plugins have no network.
 */
export const KERNEL_FUNCTIONS: Readonly<Record<string, FuncType>> = {
  alloc: sig([i64], [i64]),
  free: sig([i64]),
  length: sig([i64], [i64]),
  length_unsafe: sig([i64], [i64]),
  load_u8: sig([i64], [i32]),
  load_u64: sig([i64], [i64]),
  store_u8: sig([i64, i32]),
  store_u64: sig([i64, i64]),
  input_offset: sig([], [i64]),
  input_length: sig([], [i64]),
  input_load_u8: sig([i64], [i32]),
  input_load_u64: sig([i64], [i64]),
  output_set: sig([i64, i64]),
  error_set: sig([i64]),
  config_get: sig([i64], [i64]),
  var_get: sig([i64], [i64]),
  var_set: sig([i64, i64]),
  http_request: sig([i64, i64], [i64]),
  http_status_code: sig([], [i32]),
  log_warn: sig([i64]),
  log_info: sig([i64]),
  log_debug: sig([i64]),
  log_error: sig([i64]),
};

/** Every host function has the shape `(i64) -> i64`: request block in, response block out. */
export const HOST_FUNCTION_TYPE: FuncType = sig([i64], [i64]);

/** Every entry export takes nothing and returns an `i32` status. */
export const ENTRY_TYPE: FuncType = sig([], [i32]);

/**
 * What a module may allocate besides its memory, whatever its budget: V8 lets one table grow to
 * 10M elements and a module define 1M globals, and an allocation failure there is a fatal
 * process-wide OOM, not a trap. Tables are capped at this many elements (the maximum is rewritten
 * at load, like the memory maximum), and modules over the counts are refused.
 */
export const MODULE_LIMITS = {
  /** Elements one table may hold (its declared maximum is lowered to this). */
  tableElements: 65_536,
  /** Tables a module may define. */
  tables: 4,
  /** Globals a module may define. */
  globals: 4096,
} as const;

/** Which kind of plugin a module serves. */
export type ModuleKind = 'event' | 'workflow' | 'model';

/**
 * The optional direct-I/O exports (docs/plugin-abi.md, *Direct I/O*; `src/runtime/direct-io.ts`): a
 * module exporting all of them lets the runtime copy its input, output and host-call bytes as whole
 * ranges of its memory. The JS engine has them; the JS compiler keeps them in every module it makes.
 */
export const DIRECT_IO_EXPORTS = ['uee_io_enable', 'uee_io_flags', 'uee_io_ptr', 'uee_io_len', 'uee_io_stage'] as const;

/** The export the runtime calls for each plugin kind. */
export const ENTRY_EXPORT: Readonly<Record<ModuleKind, 'handle' | 'infer'>> = { event: 'handle', workflow: 'handle', model: 'infer' };

/**
 * What a module is checked against. Without `kind` the module must export `handle` or `infer`
 * (compile time, when the manifest is not known yet); without `capabilities` no grant is checked;
 * without `memoryPages` no budget is checked.
 */
export interface ContractRequirements {
  kind?: ModuleKind;
  capabilities?: readonly Capability[];
  memoryPages?: number;
}

/** One way a module breaks the contract, ready to become a `UeeError` or a diagnostic. */
export interface ContractViolation {
  code: Extract<ErrorCode, 'INVALID_MODULE' | 'CAPABILITY_DENIED' | 'BUDGET_EXCEEDED'>;
  message: string;
  /** What to change, phrased for an agent. */
  hint: string;
  details: Record<string, unknown>;
}

/** The outcome of {@link checkModuleContract}. */
export interface ContractCheck {
  /** Every violation, in the order the runtime reports them (the first is what a load fails with). */
  violations: ContractViolation[];
  /** Valid `extism:host/user` imports, in import order. */
  hostImports: HostFunctionName[];
}

const PDK_HINT = 'build the module with an Extism PDK or a UEE toolchain (docs/plugin-abi.md)';

/**
 * Checks a parsed module against docs/plugin-abi.md: no start section; imports only functions, of
 * the Extism kernel (with its signatures) or of UEE's host functions (`(i64) -> i64`), never WASI;
 * the host functions granted by `capabilities`; the entry export of `kind` as `() -> i32`; at most one
 * memory, whose minimum fits `memoryPages`; tables and globals within {@link MODULE_LIMITS}.
 */
export function checkModuleContract(info: WasmInfo, req: ContractRequirements = {}): ContractCheck {
  const violations: ContractViolation[] = [];
  const hostImports: HostFunctionName[] = [];
  const invalid = (message: string, details: Record<string, unknown> = {}, hint = PDK_HINT): void => {
    violations.push({ code: 'INVALID_MODULE', message, hint, details });
  };
  if (info.hasStart) invalid('modules with a start section are not accepted (it would run outside any watchdog)', {}, 'export `_initialize` instead of a start function');
  const granted = req.capabilities === undefined ? undefined : new Set(req.capabilities);
  const missing = new Map<Capability, HostFunctionName[]>();
  for (const imp of info.imports) {
    const where = { module: imp.module, name: imp.name };
    const id = `${imp.module}.${imp.name}`;
    if (imp.module.startsWith('wasi')) {
      violations.push({
        code: 'CAPABILITY_DENIED',
        message: `WASI import ${id} is not available to plugins (no ambient clock, random or files)`,
        hint: 'build without WASI (e.g. Rust --target wasm32-unknown-unknown, TinyGo -target wasm-unknown, or the Extism PDK defaults); clock and randomness come from the event context',
        details: where,
      });
    } else if (imp.kind !== 'function' || imp.type === undefined) {
      invalid(`import ${id} is a ${imp.kind}; only functions may be imported`, where);
    } else if (imp.module === KERNEL_NAMESPACE) {
      const expected = KERNEL_FUNCTIONS[imp.name];
      if (expected === undefined) invalid(`unknown Extism kernel function ${imp.name}`, where);
      else if (!sameFuncType(expected, imp.type)) {
        invalid(`kernel function ${imp.name} imported as ${formatFuncType(imp.type)}, expected ${formatFuncType(expected)}`, where);
      }
    } else if (imp.module === USER_NAMESPACE) {
      const fn = imp.name;
      if (!isHostFunction(fn)) invalid(`unknown host function ${id}`, where, `host functions are: ${HOST_FUNCTIONS.join(', ')} (docs/plugin-abi.md)`);
      else if (!sameFuncType(HOST_FUNCTION_TYPE, imp.type)) {
        invalid(`host function ${fn} imported as ${formatFuncType(imp.type)}, expected ${formatFuncType(HOST_FUNCTION_TYPE)}`, where,
          'declare it as taking and returning an Extism memory offset (u64)');
      } else {
        const cap = HOST_FUNCTION_CAPABILITY[fn];
        if (granted !== undefined && cap !== null && !granted.has(cap)) missing.set(cap, [...(missing.get(cap) ?? []), fn]);
        else hostImports.push(fn);
      }
    } else {
      invalid(`import ${id} from unknown namespace ${imp.module}`, where, `import only from ${KERNEL_NAMESPACE} and ${USER_NAMESPACE}`);
    }
  }
  if (missing.size > 0) {
    const caps = [...missing.keys()];
    violations.push({
      code: 'CAPABILITY_DENIED',
      message: `the module imports host functions its capabilities do not grant: needs ${caps.join(', ')}`,
      hint: `declare the capabilities ${caps.join(', ')} or remove those imports`,
      details: { missingCapabilities: caps, functions: Object.fromEntries(missing) },
    });
  }
  checkEntry(info, req.kind, invalid);
  if (info.memories.length > 1) invalid('modules may define at most one memory', { memories: info.memories.length });
  const mem = info.memories[0];
  if (mem !== undefined && req.memoryPages !== undefined && mem.min > req.memoryPages) {
    violations.push({
      code: 'BUDGET_EXCEEDED',
      message: `the module needs ${mem.min} memory pages at start, over the budget of ${req.memoryPages}`,
      hint: 'raise maximumResourceBudget.memoryPages or lower the module initial memory',
      details: { limit: 'memoryPages', min: mem.min, memoryPages: req.memoryPages },
    });
  }
  checkAllocations(info, violations);
  return { violations, hostImports };
}

function checkAllocations(info: WasmInfo, violations: ContractViolation[]): void {
  const over = (message: string, limit: keyof typeof MODULE_LIMITS, actual: number, hint: string): void => {
    violations.push({ code: 'BUDGET_EXCEEDED', message, hint, details: { limit: `MODULE_LIMITS.${limit}`, allowed: MODULE_LIMITS[limit], actual } });
  };
  if (info.tables.length > MODULE_LIMITS.tables) {
    over(`the module defines ${info.tables.length} tables, over the platform limit of ${MODULE_LIMITS.tables}`, 'tables', info.tables.length,
      'define at most one function table (build without extra reference-type tables)');
  }
  for (const t of info.tables) {
    if (t.min > MODULE_LIMITS.tableElements) {
      over(`a table starts with ${t.min} elements, over the platform limit of ${MODULE_LIMITS.tableElements}`, 'tableElements', t.min,
        'lower the table size (fewer indirectly called functions)');
      break;
    }
  }
  if (info.globals > MODULE_LIMITS.globals) {
    over(`the module defines ${info.globals} globals, over the platform limit of ${MODULE_LIMITS.globals}`, 'globals', info.globals,
      'keep state in linear memory instead of thousands of globals');
  }
}

function checkEntry(info: WasmInfo, kind: ModuleKind | undefined, invalid: (message: string, details: Record<string, unknown>, hint?: string) => void): void {
  const returnHint = 'take no parameters and return 0 on success, non-zero after error_set';
  if (kind !== undefined) {
    const entry = ENTRY_EXPORT[kind];
    const exp = info.exports.find((e) => e.name === entry);
    if (exp === undefined || exp.kind !== 'function') invalid(`a ${kind} plugin must export the function "${entry}"`, { export: entry }, `export \`${entry}\``);
    else if (exp.type === undefined || !sameFuncType(exp.type, ENTRY_TYPE)) {
      invalid(`export "${entry}" must have the type ${formatFuncType(ENTRY_TYPE)}`, { export: entry, actual: formatFuncType(exp.type) }, returnHint);
    }
    return;
  }
  const entries = info.exports.filter((e) => e.name === 'handle' || e.name === 'infer');
  if (entries.length === 0) {
    invalid('exports neither handle nor infer', {}, 'export `handle` (event/workflow plugins) or `infer` (model plugins)');
  }
  for (const e of entries) {
    if (e.kind !== 'function' || e.type === undefined || !sameFuncType(e.type, ENTRY_TYPE)) {
      invalid(`export "${e.name}" must have the type ${formatFuncType(ENTRY_TYPE)}`, { export: e.name, actual: formatFuncType(e.type) }, returnHint);
    }
  }
}
