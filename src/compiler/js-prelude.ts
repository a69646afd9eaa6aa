import type { LineMap } from './bundle-js.js';

/**
 * The engine prelude: JS evaluated by the engine at snapshot time, before the plugin bundle. It owns
 * the dispatch protocol between the C shim and the plugin:
 * - `globalThis.__uee` is the registry the SDK (`uee:plugin`) and the generated entry fill:
 *   `handle`, `infer`, and `events[type]` (handlers declared with `on()`; `'*'` catches the rest).
 * - `__ueeRun(kind, inputText)` parses the input, sets the per-event clock, seed and budget
 *   (`context.now`, `context.randomSeed`, `context.budget`), calls the handler and reports the result
 *   (or a `{ code, message }` error) through the shim's native functions, also for promises.
 * - `console.*` formats like Node's (`util.format`, from the standard library in `engine/stdlib`)
 *   and writes through `Host.log`.
 * - Stacks name the author's files: `plugin.js:<line>` is mapped through the bundle's line map.
 * - The intrinsics it relies on (`JSON`, …) are captured before the plugin's code runs, so a plugin
 *   that replaces `JSON.stringify` cannot change how its output is encoded.
 * The standard library is evaluated before it (see `stdlib.ts`).
 */
const PRELUDE = String.raw`((lineMap) => {
  'use strict';
  const native = globalThis.__ueeNative;
  delete globalThis.__ueeNative;
  const std = globalThis.__ueeStd;
  delete globalThis.__ueeStd;
  const Host = globalThis.Host;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const dateParse = Date.parse;
  const registry = { handle: undefined, infer: undefined, events: Object.create(null) };
  Object.defineProperty(globalThis, '__uee', { value: registry });
  const mapStack = (stack) => stack.replace(/plugin\.js:(\d+)(?::\d+)?/g, (all, line) => {
    const v = lineMap.lines[Number(line) - 1];
    if (v === undefined || v < 0) return all;
    return lineMap.sources[Math.floor(v / 65536)] + ':' + (v % 65536);
  });
  std.setStackMapper(mapStack);
  const logAt = (level) => (...args) => { Host.log({ level, message: std.format(...args) }); };
  const console = {};
  for (const [name, level] of [['log', 'info'], ['info', 'info'], ['debug', 'debug'], ['warn', 'warn'], ['error', 'error'], ['trace', 'debug']]) {
    Object.defineProperty(console, name, { value: { [name]: logAt(level) }[name], writable: true, enumerable: true, configurable: true });
  }
  console.dir = (v, opts) => { Host.log({ level: 'info', message: std.inspect(v, opts) }); };
  console.table = console.log;
  console.assert = (ok, ...args) => { if (!ok) Host.log({ level: 'error', message: 'Assertion failed' + (args.length ? ': ' + std.format(...args) : '') }); };
  const counts = new Map();
  console.count = (label = 'default') => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); Host.log({ level: 'info', message: label + ': ' + n }); };
  console.countReset = (label = 'default') => { counts.delete(label); };
  console.group = console.groupCollapsed = console.groupEnd = console.time = console.timeEnd = console.timeLog = () => undefined;
  Object.defineProperty(globalThis, 'console', { value: console, writable: true, configurable: true });
  const fmt = (v) => (typeof v === 'string' ? v : std.inspect(v));
  const toError = (e) => {
    if (e !== null && typeof e === 'object') {
      const typed = typeof e.code === 'string' && e.code !== '';
      const code = typed ? e.code : 'UNCAUGHT_EXCEPTION';
      let message = typeof e.message === 'string' ? e.message : String(e);
      if (!typed && typeof e.name === 'string') message = e.name + ': ' + message;
      if (!typed && typeof e.stack === 'string') {
        const at = e.stack.split('\n').find((l) => l.indexOf('plugin.js') >= 0);
        if (at) message += ' (' + mapStack(at.trim()) + ')';
      }
      return { code, message };
    }
    return { code: 'UNCAUGHT_EXCEPTION', message: 'thrown value: ' + fmt(e) };
  };
  const fail = (e) => {
    let text;
    try { text = stringify(toError(e)); } catch (x) { text = '{"code":"UNCAUGHT_EXCEPTION","message":"unserialisable error"}'; }
    native.error(text);
  };
  const succeed = (v) => {
    if (v === undefined) { native.output(undefined); return; }
    let text;
    try { text = stringify(v); } catch (e) {
      fail({ code: 'OUTPUT_NOT_JSON', message: 'the handler result is not JSON-serialisable: ' + (e && e.message) });
      return;
    }
    native.output(text);
  };
  globalThis.__ueeRun = (kind, text) => {
    let input;
    try { input = parse(text); } catch (e) { fail({ code: 'INPUT_INVALID', message: 'the input is not JSON' }); return; }
    const c = (input && typeof input.context === 'object' && input.context) || {};
    const b = (typeof c.budget === 'object' && c.budget) || {};
    const now = typeof c.now === 'string' ? dateParse(c.now) : typeof c.now === 'number' ? c.now : 0;
    native.setContext(now, typeof c.randomSeed === 'string' ? c.randomSeed : '', b.fuel, b.heapBytes);
    let fn;
    if (kind === 'infer') fn = registry.infer;
    else {
      fn = registry.handle;
      if (fn === undefined) {
        const type = input && input.event && input.event.type;
        fn = (typeof type === 'string' && registry.events[type]) || registry.events['*'];
      }
    }
    if (typeof fn !== 'function') {
      if (kind === 'infer') fail({ code: 'NO_HANDLER', message: 'the plugin exports no infer function' });
      else succeed(undefined);
      return;
    }
    let r;
    try { r = fn(input); } catch (e) { fail(e); return; }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') r.then(succeed, fail);
    else succeed(r);
  };
})`;

/** The prelude script for a bundle with the given line map (see {@link LineMap}). */
export function preludeFor(lineMap: LineMap): string {
  return `${PRELUDE}(${JSON.stringify(lineMap)});\n`;
}

/** The generated bundle entry: imports the user's entry and registers its `handle`/`infer` exports. */
export function entryWrapper(entryPath: string, exports: readonly string[]): string {
  // Only the entry points the module has: naming a missing one makes esbuild warn on every compile.
  return [
    `import * as m from ${JSON.stringify(entryPath)};`,
    `const r = globalThis.__uee;`,
    ...['handle', 'infer'].filter((name) => exports.includes(name)).map((name) => `if (typeof m.${name} === 'function') r.${name} = m.${name};`),
    '',
  ].join('\n');
}
