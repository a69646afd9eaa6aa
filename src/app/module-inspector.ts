import type { ModuleInspector } from '../registry/index.js';
import { DEFAULT_BUDGET_CEILING, checkBudgetCeiling, parseWasm, prepareModule, type BudgetCeiling } from '../runtime/index.js';

/**
 * The registry's deploy-time check, done by the same loader the runtime uses at load time, plus the
 * operator's ceiling on budgets (`BUDGET_EXCEEDED` naming the setting), so a plugin the runtime
 * would refuse is refused at deploy.
 */
export function pluginInspector(ceiling: BudgetCeiling = DEFAULT_BUDGET_CEILING): ModuleInspector {
  return async (bytes, requirements) => {
    checkBudgetCeiling({ memoryPages: requirements.memoryPages, ...(requirements.timeoutMs === undefined ? {} : { timeoutMs: requirements.timeoutMs }) }, ceiling);
    await prepareModule(bytes, requirements);
    const info = parseWasm(bytes);
    return {
      bytes,
      exports: info.exports.map((e) => e.name),
      imports: info.imports.map((i) => `${i.module}/${i.name}`),
    };
  };
}

/** {@link pluginInspector} with the default ceiling. */
export const inspectPluginModule: ModuleInspector = pluginInspector();
