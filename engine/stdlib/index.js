// The standard library evaluated into every JS plugin's snapshot before the prelude and the plugin
// (so it costs nothing per call): TextEncoder/TextDecoder, crypto, a Node-like console formatter, a
// loose Date.parse, a small en-US Intl, Number#toString(radix). The core-js modules for ES2022-2025
// built-ins and URL/atob/structuredClone/… are added before it by src/compiler/stdlib.ts, each only
// when the plugin's code names what it provides. Exposes its internals to the prelude as
// globalThis.__ueeStd.
import { TextDecoder, TextEncoder } from './encoding.js';
import { crypto } from './crypto.js';
import { format, inspect, setStackMapper } from './inspect.js';
import { installLooseDate } from './date.js';
import { installIntl } from './intl.js';
import { installNumberToString } from './number.js';

const define = (name, value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
define('TextEncoder', TextEncoder);
define('TextDecoder', TextDecoder);
define('crypto', crypto);
installLooseDate(globalThis);
installIntl(globalThis);
installNumberToString();

// Strong references are all a single-call plugin needs: nothing is collected within a call that it
// could observe, and no finalizer could run before the call ends.
if (typeof globalThis.WeakRef !== 'function') {
  class WeakRef {
    #target;
    constructor(target) {
      if (target === null || (typeof target !== 'object' && typeof target !== 'function')) throw new TypeError('WeakRef: invalid target');
      this.#target = target;
    }
    deref() {
      return this.#target;
    }
  }
  Object.defineProperty(WeakRef.prototype, Symbol.toStringTag, { value: 'WeakRef', configurable: true });
  class FinalizationRegistry {
    constructor(cleanup) {
      if (typeof cleanup !== 'function') throw new TypeError('FinalizationRegistry: cleanup must be callable');
    }
    register() {}
    unregister() {
      return false;
    }
  }
  Object.defineProperty(FinalizationRegistry.prototype, Symbol.toStringTag, { value: 'FinalizationRegistry', configurable: true });
  define('WeakRef', WeakRef);
  define('FinalizationRegistry', FinalizationRegistry);
}
// There are no threads (the engine is built without Atomics): feature tests must not find half of it.
delete globalThis.SharedArrayBuffer;

Object.defineProperty(globalThis, '__ueeStd', { value: { format, inspect, setStackMapper }, configurable: true });
