import type { ModuleInspector } from '../registry/index.js';
import { parseWasm, prepareModule } from '../runtime/index.js';

/** The registry's deploy-time check, done by the same loader the runtime uses at load time. */
export const inspectPluginModule: ModuleInspector = async (bytes, requirements) => {
  await prepareModule(bytes, requirements);
  const info = parseWasm(bytes);
  return {
    bytes,
    exports: info.exports.map((e) => e.name),
    imports: info.imports.map((i) => `${i.module}/${i.name}`),
  };
};
