/**
 * The engine prelude: JS evaluated by the engine at snapshot time, before the plugin bundle. It owns
 * the dispatch protocol between the C shim and the plugin:
 * - `globalThis.__uee` is the registry the SDK (`uee:plugin`) and the generated entry fill:
 *   `handle`, `infer`, and `events[type]` (handlers declared with `on()`; `'*'` catches the rest).
 * - `__ueeRun(kind, inputText)` parses the input, sets the per-event clock, seed and budget
 *   (`context.now`, `context.randomSeed`, `context.budget`), calls the handler and reports the result
 *   (or a `{ code, message }` error) through the shim's native functions, also for promises.
 * - `console.*` writes through `Host.log`.
 */
export const JS_PRELUDE = String.raw`(() => {
  'use strict';
  const native = globalThis.__ueeNative;
  delete globalThis.__ueeNative;
  const Host = globalThis.Host;
  const registry = { handle: undefined, infer: undefined, events: Object.create(null) };
  Object.defineProperty(globalThis, '__uee', { value: registry });
  const fmt = (v) => {
    if (typeof v === 'string') return v;
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  };
  const logAt = (level) => (...args) => { Host.log({ level, message: args.map(fmt).join(' ') }); };
  globalThis.console = { log: logAt('info'), info: logAt('info'), debug: logAt('debug'), warn: logAt('warn'), error: logAt('error') };
  const toError = (e) => {
    if (e !== null && typeof e === 'object') {
      const typed = typeof e.code === 'string' && e.code !== '';
      const code = typed ? e.code : 'UNCAUGHT_EXCEPTION';
      let message = typeof e.message === 'string' ? e.message : String(e);
      if (!typed && typeof e.name === 'string') message = e.name + ': ' + message;
      if (!typed && typeof e.stack === 'string') {
        const at = e.stack.split('\n').find((l) => l.indexOf('plugin.js') >= 0);
        if (at) message += ' (' + at.trim() + ')';
      }
      return { code, message };
    }
    return { code: 'UNCAUGHT_EXCEPTION', message: 'thrown value: ' + fmt(e) };
  };
  const fail = (e) => {
    let text;
    try { text = JSON.stringify(toError(e)); } catch (x) { text = '{"code":"UNCAUGHT_EXCEPTION","message":"unserialisable error"}'; }
    native.error(text);
  };
  const succeed = (v) => {
    if (v === undefined) { native.output(undefined); return; }
    let text;
    try { text = JSON.stringify(v); } catch (e) {
      fail({ code: 'OUTPUT_NOT_JSON', message: 'the handler result is not JSON-serialisable: ' + (e && e.message) });
      return;
    }
    native.output(text);
  };
  globalThis.__ueeRun = (kind, text) => {
    let input;
    try { input = JSON.parse(text); } catch (e) { fail({ code: 'INPUT_INVALID', message: 'the input is not JSON' }); return; }
    const c = (input && typeof input.context === 'object' && input.context) || {};
    const b = (typeof c.budget === 'object' && c.budget) || {};
    const now = typeof c.now === 'string' ? Date.parse(c.now) : typeof c.now === 'number' ? c.now : 0;
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
})();
`;

/** The generated bundle entry: imports the user's entry and registers its `handle`/`infer` exports. */
export function entryWrapper(entryPath: string): string {
  return [
    `import * as m from ${JSON.stringify(entryPath)};`,
    `const r = globalThis.__uee;`,
    `if (typeof m.handle === 'function') r.handle = m.handle;`,
    `if (typeof m.infer === 'function') r.infer = m.infer;`,
    '',
  ].join('\n');
}
