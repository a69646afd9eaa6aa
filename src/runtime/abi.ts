import { HOST_FUNCTION_CAPABILITY as CORE_HOST_FUNCTION_CAPABILITY, HOST_NAMESPACE } from '../core/capabilities.js';
import type { Capability } from '../core/capabilities.js';
import type { FuncType } from './wasm-binary.js';

export type { Capability };

/**
 * The plugin ABI as data (docs/plugin-abi.md): the host functions in bridge order, the capability
 * granting each (core's table), and the Extism kernel functions a module may import. Shared by the loader (validation) and the
 * worker (linking), so the two can never disagree.
 */

/** Host functions of `extism:host/user`, in bridge order (the index is the wire id). */
export const HOST_FUNCTIONS = [
  'read_entity',
  'query_read_model',
  'write_entity',
  'emit_event',
  'update_read_model',
  'get_tenant_config',
  'call_model',
  'schedule_timer',
  'cancel_timer',
  'spawn_workflow',
  'log',
] as const;

/** One of {@link HOST_FUNCTIONS}. */
export type HostFunctionName = (typeof HOST_FUNCTIONS)[number];

/** The capability that grants each host function; `null` means always granted (from core). */
export const HOST_FUNCTION_CAPABILITY = CORE_HOST_FUNCTION_CAPABILITY as Readonly<Record<HostFunctionName, Capability | null>>;

/** Namespace of the Extism kernel. */
export const KERNEL_NAMESPACE = 'extism:host/env';
/** Namespace of UEE's host functions. */
export const USER_NAMESPACE = HOST_NAMESPACE;

const i64 = 'i64' as const;
const i32 = 'i32' as const;
const sig = (params: FuncType['params'], results: FuncType['results'] = []): FuncType => ({ params, results });

/**
 * Kernel functions a module may import, with the signatures @extism/extism 1.0.3 implements (JS
 * host functions link against any signature, so the loader checks them to fail at load, not at
 * call time). `http_request`/`http_status_code` link but always fail: plugins have no network.
 */
export const KERNEL_FUNCTIONS: Record<string, FuncType> = {
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

/** The host functions a set of capabilities grants (`log` always). */
export function grantedFunctions(capabilities: readonly Capability[]): HostFunctionName[] {
  const caps = new Set<Capability>(capabilities);
  return HOST_FUNCTIONS.filter((fn) => {
    const cap = HOST_FUNCTION_CAPABILITY[fn];
    return cap === null || caps.has(cap);
  });
}
