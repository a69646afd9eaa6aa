export { Router, isSpawnOf, mayTouch, PINS_VIEW, WORKFLOW_SPAWNED } from './router.js';
export type { RouterOptions, RouterState } from './router.js';
export { RouterMetrics } from './metrics.js';
export type { PluginMetricsSnapshot } from './metrics.js';
export type { HandleInput, InvocationOutcome, PluginInvoker } from './types.js';
