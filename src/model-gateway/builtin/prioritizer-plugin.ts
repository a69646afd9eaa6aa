import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UeeError } from '../../core/index.js';
import { PRIORITIZER_WEIGHTS } from './provider.js';

/** Sources of a `kind: model` plugin, in the shape the JS toolchain (`compileJs`) takes. */
export interface ModelPluginSources {
  /** Files by relative path. */
  files: Record<string, string>;
  /** The entry file (it exports `infer`). */
  entry: string;
}

const ENTRY = `import { scoreTask } from './prioritizer-model';
import weights from './weights';

/** The builtin prioritizer's inputs: one task's features (bare, as { task } or { features }) or { tasks: [...] }. */
export function infer(request) {
  const input = request && typeof request.input === 'object' && request.input !== null ? request.input : {};
  if (Array.isArray(input.tasks)) return { scores: input.tasks.map((t) => scoreTask(weights, t)) };
  if (typeof input.task === 'object' && input.task !== null) return scoreTask(weights, input.task);
  if (typeof input.features === 'object' && input.features !== null) return scoreTask(weights, input.features);
  return scoreTask(weights, input);
}
`;

/**
 * The builtin task prioritizer as a wasm model plugin: the dependency-free scoring function of
 * `prioritizer-model.ts` and the committed weights, bundled into a JS plugin whose `infer` answers
 * what the builtin `task.prioritizer.v2` answers for the same features (inputs are not validated
 * as strictly: missing or odd fields take the scorer's neutral values). Compile it with
 * `compileJs(prioritizerPluginSources())` and deploy it with `kind: "model"`.
 */
export function prioritizerPluginSources(): ModelPluginSources {
  const { features, weights, bias } = PRIORITIZER_WEIGHTS;
  return {
    entry: 'main.js',
    files: {
      'main.js': ENTRY,
      'prioritizer-model.ts': readSibling('prioritizer-model'),
      'weights.ts': `export default ${JSON.stringify({ features, weights, bias })};\n`,
    },
  };
}

/** This folder's module `name` as source: `.ts` when running from sources, `.js` from a build. */
function readSibling(name: string): string {
  for (const ext of ['.ts', '.js']) {
    const path = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  throw new UeeError('INTERNAL', `the ${name} sources are not installed next to ${import.meta.url}`);
}
