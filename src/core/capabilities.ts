/** The capabilities a plugin can declare (seed §6). Each grants a fixed set of host functions. */
export const CAPABILITIES = [
  'readEntities',
  'writeEntities',
  'emitEvents',
  'updateReadModels',
  'accessTenantConfig',
  'invokeModels',
  'executeTimers',
  'spawnWorkflows',
] as const;

/** One of {@link CAPABILITIES}. */
export type Capability = (typeof CAPABILITIES)[number];

/** The Extism import namespace of UEE host functions. */
export const HOST_NAMESPACE = 'extism:host/user';

/**
 * The host functions of `extism:host/user` in ABI order. The index is the runtime's bridge wire id,
 * so new functions are only ever appended.
 */
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
  'record_metric',
] as const;

/** One of {@link HOST_FUNCTIONS}. */
export type HostFunctionName = (typeof HOST_FUNCTIONS)[number];

/**
 * Host function → the capability that grants it (`null`: always granted). The single source of
 * truth for deploy-time validation, instance linking and compiler artifact reports; its keys are in
 * {@link HOST_FUNCTIONS} order.
 */
export const HOST_FUNCTION_CAPABILITY: Readonly<Record<HostFunctionName, Capability | null>> = {
  read_entity: 'readEntities',
  query_read_model: 'readEntities',
  write_entity: 'writeEntities',
  emit_event: 'emitEvents',
  update_read_model: 'updateReadModels',
  get_tenant_config: 'accessTenantConfig',
  call_model: 'invokeModels',
  schedule_timer: 'executeTimers',
  cancel_timer: 'executeTimers',
  spawn_workflow: 'spawnWorkflows',
  log: null,
  // Custom experiment metrics touch no data: granted to every plugin, like `log` (names are checked).
  record_metric: null,
};

/** Whether `name` is one of the {@link HOST_FUNCTIONS}. */
export function isHostFunction(name: string): name is HostFunctionName {
  return Object.hasOwn(HOST_FUNCTION_CAPABILITY, name);
}

/** Host functions granted by a set of capabilities (always including `log` and `record_metric`), in {@link HOST_FUNCTIONS} order. */
export function grantedHostFunctions(capabilities: Iterable<Capability>): Set<HostFunctionName> {
  const granted = new Set(capabilities);
  return new Set(HOST_FUNCTIONS.filter((fn) => {
    const cap = HOST_FUNCTION_CAPABILITY[fn];
    return cap === null || granted.has(cap);
  }));
}

/** Capabilities required by a list of `extism:host/user` import names; unknown names are returned apart. */
export function requiredCapabilities(hostImports: Iterable<string>): { capabilities: Capability[]; unknown: string[] } {
  const caps = new Set<Capability>();
  const unknown: string[] = [];
  for (const name of hostImports) {
    if (!isHostFunction(name)) unknown.push(name);
    else {
      const cap = HOST_FUNCTION_CAPABILITY[name];
      if (cap) caps.add(cap);
    }
  }
  return { capabilities: CAPABILITIES.filter((c) => caps.has(c)), unknown };
}
