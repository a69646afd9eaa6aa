import { workflowTools } from '../workflow-tools.js';
import type { ToolDefinition } from '../define-tool.js';
import { modelTools } from '../model-tools.js';
import { pluginCompile } from './compile.js';
import { pluginConfigure } from './configure.js';
import { deadLetterList, deadLetterReplay } from './dead-letters.js';
import { pluginDeploy } from './deploy.js';
import { pluginList, pluginLogs, pluginMetrics, pluginSource } from './observe.js';
import { pluginScaffold } from './scaffold.js';
import { pluginTest } from './test-tool.js';
import { eventTrace } from './trace.js';
import { deadLetterRedrive, invocationList } from './records.js';
import { experimentEnd, experimentReport, experimentStart } from './experiments.js';

export { pluginScaffold, pluginCompile, pluginTest, pluginDeploy, pluginConfigure, pluginList, pluginSource, pluginLogs, pluginMetrics, deadLetterList, deadLetterReplay, deadLetterRedrive, eventTrace, invocationList, experimentStart, experimentReport, experimentEnd };
export { modelList, modelCall, modelUsage, modelTools } from '../model-tools.js';
export { runSandbox } from './sandbox.js';
export type { SandboxPlugin, SandboxOptions, RunResult } from './sandbox.js';
export { scanEmits, scanOutputs, graphWarnings } from './graph.js';
export type { GraphNode, GraphOutput } from './graph.js';
export { sdkTypings, typingsUri, SDK_TYPINGS } from './scaffold.js';
export { TENANT_SCOPE_DEFAULT } from './manifest-scope.js';
export type { TypingsLanguage } from './scaffold.js';

/**
 * The plugin-lifecycle tools (scaffold, compile, test, deploy, configure, observe, dead letters,
 * traces) and the model-gateway tools: the second half of the MCP surface, next to `coreTools()`.
 */
export function pluginTools(): ToolDefinition[] {
  return [
    pluginScaffold,
    pluginCompile,
    pluginTest,
    pluginDeploy,
    pluginConfigure,
    pluginList,
    pluginSource,
    pluginLogs,
    pluginMetrics,
    deadLetterList,
    deadLetterReplay,
    deadLetterRedrive,
    eventTrace,
    invocationList,
    experimentStart,
    experimentReport,
    experimentEnd,
    ...modelTools(),
    ...workflowTools(),
  ];
}
