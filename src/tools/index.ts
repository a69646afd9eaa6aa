import type { ToolDefinition } from './define-tool.js';
import { entityGet, entityHistory, entityPut, entityQuery } from './entity-tools.js';
import { eventEmit } from './event-tools.js';
import { readModelGet, readModelQuery } from './read-model-tools.js';
import { queryExplain, queryIndex } from './query-tools.js';
import { projectionDefine, projectionDrop, projectionGet, projectionList, projectionRebuild } from './projection-tools.js';
import { tenantConfigGet, tenantConfigSet, tenantCreate, tenantList } from './tenant-tools.js';

export { defineTool } from './define-tool.js';
export type { ToolAnnotations, ToolContext, ToolDefinition, ToolSpec, ClientLogLevel, ToolGate, ReviewHooks, ReviewBundle, ReviewFile, ChangeReview, ReviewSimulation, ReviewCost, SimulatedRun } from './define-tool.js';
export { ToolRegistry, errorResult } from './registry.js';
export { guardArguments } from './input-guard.js';
export type { InputLimits } from './input-guard.js';
export { inputJsonSchema, outputJsonSchema, namedShapes } from './json-schema.js';
export { resolveScope, scopeLabel, GLOBAL_LABEL } from './scope.js';
export { errorCatalogue, defaultHint } from './error-catalogue.js';
export type { ErrorCodeInfo } from './error-catalogue.js';
export {
  isPathLike,
  safeName,
  text,
  TenantArg,
  EntityIdArg,
  EntityTypeArg,
  EventTypeArg,
  ViewArg,
  PluginNameArg,
  JsonObjectArg,
  FilterArg,
  SortArg,
  LimitArg,
  CursorArg,
  DryRunArg,
  RationaleArg,
  ProposalRefSchema,
  PlanSchema,
  ToolErrorSchema,
  EntityOut,
  EventOut,
} from './schemas.js';
export type { Plan, ToolError, ProposalRef } from './schemas.js';
export { entityGet, entityPut, entityQuery, entityHistory, readModelGet, readModelQuery, queryExplain, queryIndex, projectionDefine, projectionRebuild, projectionList, projectionGet, projectionDrop, eventEmit, tenantList, tenantCreate, tenantConfigGet, tenantConfigSet };

/** The entity, read-model, event and tenant tools: the first half of the MCP surface. */
export function coreTools(): ToolDefinition[] {
  return [entityGet, entityPut, entityQuery, entityHistory, readModelGet, readModelQuery, queryExplain, queryIndex, projectionDefine, projectionRebuild, projectionList, projectionGet, projectionDrop, eventEmit, tenantList, tenantCreate, tenantConfigGet, tenantConfigSet];
}

/**
 * Names of the tools of the second half of issue 4 (scaffold, compile, test, deploy, configure,
 * observe) and of the model gateway, all registered by `pluginTools()` from `./plugin-tools/`. Prompts
 * refer to them; a prompt mentions only tools that are registered or listed here.
 */
export const PLANNED_TOOL_NAMES = [
  'plugin_scaffold',
  'plugin_compile',
  'plugin_test',
  'plugin_deploy',
  'plugin_configure',
  'plugin_list',
  'plugin_source',
  'plugin_logs',
  'plugin_metrics',
  'dead_letter_list',
  'dead_letter_replay',
  'event_trace',
  'model_list',
  'model_call',
  'model_usage',
] as const;

export { pluginTools, sdkTypings, typingsUri, SDK_TYPINGS, TENANT_SCOPE_DEFAULT } from './plugin-tools/index.js';
export type { TypingsLanguage } from './plugin-tools/index.js';

import { EntityOut, EventOut, PlanSchema, ProposalRefSchema } from './schemas.js';
import { DeadLetterOut } from './plugin-tools/dead-letters.js';
import { ExperimentOut } from './plugin-tools/experiments.js';
import { RunOut } from './plugin-tools/sandbox.js';
import { DiagnosticOut } from './plugin-tools/compile.js';
import { PluginOut } from './plugin-tools/shared.js';
import { PluginListingOut } from './plugin-tools/observe.js';

/** The shapes tool results share, named in output schemas (`uee://schemas/shapes` serves them). */
export const SHARED_SHAPES = [EntityOut, EventOut, PlanSchema, ProposalRefSchema, RunOut, DeadLetterOut, ExperimentOut, DiagnosticOut, PluginOut, PluginListingOut] as const;
