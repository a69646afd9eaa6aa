export { PluginRegistry, scopeContext, pluginGroup, laneGroup, queuePlugin, pluginVersionId, recordKey, trustedScope } from './registry.js';
export { DEFAULT_REGISTRY_LIMITS, SUBSCRIBER_GUARD_EVENT, SUBSCRIBER_GUARD_TYPE } from './subscriber-limit.js';
export type { RegistryLimits } from './subscriber-limit.js';
export type { PluginRecord, ModuleInspection, ModuleInspector, BinaryStore, DeployRequest, DeployResult } from './registry.js';
export {
  PluginManifestSchema,
  PluginAttributesSchema,
  ResourceBudgetSchema,
  PluginNameSchema,
  SubscriptionFilterSchema,
  PLUGIN_ENTITY_TYPE,
  checkManifestFilter,
  checkManifestSubscriptions,
  budgetHint,
  RESOURCE_BUDGET_FIELDS,
} from './manifest.js';
export type { PluginManifest, PluginManifestInput, PluginAttributes, ResourceBudget } from './manifest.js';
