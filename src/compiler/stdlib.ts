/**
 * The JS plugins' standard library, bundled with esbuild into a script the engine evaluates at
 * snapshot time, before the prelude (so nothing of it runs per call):
 * - always: `engine/stdlib/index.js` (TextEncoder/TextDecoder, crypto, the console formatter, a loose
 *   Date.parse, a small en-US Intl, Number#toString(radix));
 * - per plugin: the core-js modules for the ES2022-2026 built-ins and Web APIs the engine lacks, each
 *   only when the plugin's bundle names what it provides ({@link POLYFILLS}), the way usage-based
 *   polyfill injection works. All of core-js would add ~1 MB to every module; a plugin pays only for
 *   what it names. A name reached only dynamically (`obj[name]`) is not seen: {@link ALL_POLYFILLS}.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { findRepoRoot } from './engine-build.js';

type Polyfill = readonly [pattern: RegExp, modules: readonly string[]];

const ITERATOR_HELPERS = ['constructor', 'drop', 'every', 'filter', 'find', 'flat-map', 'for-each', 'from', 'map', 'reduce', 'some', 'take', 'to-array'].map(
  (m) => `es.iterator.${m}`,
);
const SET_METHODS = ['union', 'intersection', 'difference', 'symmetric-difference', 'is-subset-of', 'is-superset-of', 'is-disjoint-from'].map(
  (m) => `es.set.${m}.v2`,
);
const DOM_EXCEPTION = ['web.dom-exception.constructor', 'web.dom-exception.stack', 'web.dom-exception.to-string-tag'];
const URL_MODULES = [
  'web.url.constructor', 'web.url.can-parse', 'web.url.parse', 'web.url.to-json', 'web.url-search-params.constructor',
  'web.url-search-params.delete', 'web.url-search-params.has', 'web.url-search-params.size',
];

/** core-js modules by the names that call for them (a match anywhere in the bundle's text). */
export const POLYFILLS: readonly Polyfill[] = [
  [/\.at\b|["'`]at["'`]/, ['es.array.at', 'es.string.at-alternative', 'es.typed-array.at']],
  [/\bfindLast(Index)?\b/, ['es.array.find-last', 'es.array.find-last-index', 'es.typed-array.find-last', 'es.typed-array.find-last-index']],
  [/\btoReversed\b/, ['es.array.to-reversed', 'es.typed-array.to-reversed']],
  [/\btoSorted\b/, ['es.array.to-sorted', 'es.typed-array.to-sorted']],
  [/\btoSpliced\b/, ['es.array.to-spliced']],
  [/\.with\b|["'`]with["'`]/, ['es.array.with', 'es.typed-array.with']],
  [/\bfromAsync\b/, ['es.array.from-async']],
  [/\bhasOwn\b/, ['es.object.has-own']],
  [/\bgroupBy\b/, ['es.object.group-by', 'es.map.group-by']],
  [/\b(is|to)WellFormed\b/, ['es.string.is-well-formed', 'es.string.to-well-formed']],
  [/\bcause\b/, ['es.error.cause']],
  [/\bwithResolvers\b/, ['es.promise.with-resolvers']],
  [/\.try\b|["'`]try["'`]/, ['es.promise.try']],
  [/\b(union|intersection|difference|symmetricDifference|isSubsetOf|isSupersetOf|isDisjointFrom)\b/, SET_METHODS],
  [/\bIterator\b|\.toArray\b|\.take\(|\.drop\(|\b(values|keys|entries)\(\)\s*\.|function\s*\*|\*\s*\[Symbol\.iterator\]/, ITERATOR_HELPERS],
  [/\bRegExp\s*\.\s*escape\b/, ['es.regexp.escape']],
  [/\bsumPrecise\b/, ['es.math.sum-precise']],
  // JSON.stringify writes a raw JSON value's text only through core-js's own stringify
  [/\b(raw|isRaw)JSON\b/, ['es.json.raw-json', 'es.json.is-raw-json', 'es.json.stringify']],
  [/\bgetOrInsert(Computed)?\b/, ['es.map.get-or-insert', 'es.map.get-or-insert-computed', 'es.weak-map.get-or-insert', 'es.weak-map.get-or-insert-computed']],
  [/\batob\b/, [...DOM_EXCEPTION, 'web.atob']],
  [/\bbtoa\b/, [...DOM_EXCEPTION, 'web.btoa']],
  [/\b(DOMException|crypto)\b/, DOM_EXCEPTION],
  [/\bqueueMicrotask\b/, ['web.queue-microtask']],
  [/\bstructuredClone\b/, [...DOM_EXCEPTION, 'web.structured-clone']],
  [/\bURL(SearchParams)?\b/, URL_MODULES],
];

/** Every polyfill module, for a plugin that wants them all whatever it names. */
export const ALL_POLYFILLS: readonly string[] = [...new Set(POLYFILLS.flatMap(([, m]) => m))];

/** The core-js modules `code` calls for, in a stable order. */
export function polyfillsFor(code: string): string[] {
  const wanted = new Set<string>();
  for (const [pattern, modules] of POLYFILLS) if (pattern.test(code)) for (const m of modules) wanted.add(m);
  return ALL_POLYFILLS.filter((m) => wanted.has(m));
}

const cache = new Map<string, Promise<string>>();

/** The standard-library script (strict, stripped of source text) with `modules` before it; cached per set. */
export function stdlibScript(modules: readonly string[], root: string = findRepoRoot()): Promise<string> {
  const key = modules.join(',');
  let script = cache.get(key);
  if (script) return script;
  const dir = join(root, 'engine', 'stdlib');
  script = build({
    stdin: {
      contents: [...modules.map((m) => `import 'core-js/modules/${m}.js';`), "import './index.js';"].join('\n'),
      resolveDir: dir,
      sourcefile: 'uee-stdlib.js',
    },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2020',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    nodePaths: [join(root, 'node_modules')],
    // QuickJS keeps every function's source text and line table unless told to strip them: for the
    // library that is most of what it would add to each snapshot, and nobody reads it back
    banner: { js: '"use strip";"use strict";' },
  }).then(
    (out) => out.outputFiles[0]?.text ?? '',
    (err: unknown) => {
      cache.delete(key);
      throw err;
    },
  );
  cache.set(key, script);
  return script;
}
