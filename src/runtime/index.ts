export { ExecutionHost, type InvokeCallOptions, BUDGET_CEILING_SETTINGS, DEFAULT_BUDGET_CEILING, checkBudgetCeiling } from './host.js';
export type { BudgetCeiling, ExecutionHostOptions, HostState, LoadedPluginInfo } from './host.js';
export { DEFAULT_UNFINISHED_DELIVERIES, quarantinedDelivery } from './quarantine.js';
export { DEFAULT_BUDGET } from './types.js';
export type {
  InvocationContext,
  InvocationInput,
  InvocationResult,
  LoadedPluginSpec,
  PluginKind,
  PluginLogLine,
  ResourceBudget,
  TenantScope,
  Usage,
} from './types.js';
export { commitEffects, DEFAULT_TIMER_HORIZON_MS, effectsIdempotencyKey, emptyEffects, isEmptyEffects, timerEntityId, timerWrites, TIMER_ENTITY_TYPE } from './effects.js';
export type { CommitMeta, EffectSet, EmittedEvent, TimerCausation, TimerOp, TimerRecord } from './effects.js';
export { createLocalModelGateway, createStoreHostServices } from './services.js';
export type { HostServices, ModelCallRequest, ModelGateway, ReadModelQuery } from './services.js';
export { DEFAULT_RATE_LIMITS } from './rate-limit.js';
export type { RateLimit, RateLimitOptions } from './rate-limit.js';
export { HOST_FUNCTIONS, grantedHostFunctions } from '../core/capabilities.js';
export type { HostFunctionName } from '../core/capabilities.js';
export { KERNEL_FUNCTIONS } from '../core/wasm/index.js';
export { prepareModule } from './module-loader.js';
export type { ModuleRequirements, PreparedModule } from './module-loader.js';
export { parseWasm, capMemory } from '../core/wasm/index.js';
export type { WasmInfo, MemoryLimits } from '../core/wasm/index.js';
