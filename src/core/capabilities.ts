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
 * Host function → the capability that grants it (`null`: always granted). The single source of
 * truth for deploy-time validation, instance linking and compiler artifact reports.
 */
export const HOST_FUNCTION_CAPABILITY: Readonly<Record<string, Capability | null>> = {
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
};

/** Host functions granted by a set of capabilities (always including `log`). */
export function grantedHostFunctions(capabilities: Iterable<Capability>): Set<string> {
  const granted = new Set(capabilities);
  return new Set(
    Object.entries(HOST_FUNCTION_CAPABILITY)
      .filter(([, cap]) => cap === null || granted.has(cap))
      .map(([name]) => name),
  );
}

/** Capabilities required by a list of `extism:host/user` import names; unknown names are returned apart. */
export function requiredCapabilities(hostImports: Iterable<string>): { capabilities: Capability[]; unknown: string[] } {
  const caps = new Set<Capability>();
  const unknown: string[] = [];
  for (const name of hostImports) {
    if (!(name in HOST_FUNCTION_CAPABILITY)) unknown.push(name);
    else {
      const cap = HOST_FUNCTION_CAPABILITY[name];
      if (cap) caps.add(cap);
    }
  }
  return { capabilities: CAPABILITIES.filter((c) => caps.has(c)), unknown };
}
