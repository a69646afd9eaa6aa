/**
 * Loads the `typescript` package (one 9 MB CommonJS file) with a V8 code cache, for the compiler
 * worker's type checker. Plain `require` spends 0.5-1 s parsing and compiling it in every process
 * (twice that under the tsx loader, which inspects every required file); with the cache the load
 * takes a third of that. The cache lives at `node_modules/.cache/uee/` keyed by the TypeScript and
 * Node versions; V8 rejects a stale one (other flags, other build), which is then rewritten.
 * {@link saveTypeScriptCache} is called after a first check, so the cache holds the bytecode of the
 * parser and checker functions that check used, not only the top level.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import type * as TS from 'typescript';
import { findRepoRoot } from './engine-build.js';

let loaded: { ts: typeof TS; script: Script | undefined; cacheFile: string | undefined; fresh: boolean } | undefined;

/** The TypeScript compiler API, loaded once per thread (see the file comment). Falls back to `require`. */
export function loadTypeScript(): typeof TS {
  if (loaded) return loaded.ts;
  const require = createRequire(import.meta.url);
  const file = require.resolve('typescript');
  try {
    const version = (JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8')) as { version: string }).version;
    const cacheFile = join(findRepoRoot(), 'node_modules', '.cache', 'uee', `typescript-${version}-node${process.version}.v8`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
    const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData ? { cachedData } : {}) });
    const mod = { exports: {} as typeof TS };
    (script.runInThisContext() as (...args: unknown[]) => void).call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
    loaded = { ts: mod.exports, script, cacheFile, fresh: cachedData === undefined || script.cachedDataRejected === true };
  } catch {
    loaded = { ts: require('typescript') as typeof TS, script: undefined, cacheFile: undefined, fresh: false };
  }
  return loaded.ts;
}

/** Writes the code cache once when it was missing or rejected; failures are ignored (it is only a cache). */
export function saveTypeScriptCache(): void {
  if (!loaded?.fresh || !loaded.script || !loaded.cacheFile) return;
  loaded.fresh = false;
  try {
    mkdirSync(dirname(loaded.cacheFile), { recursive: true });
    const temp = `${loaded.cacheFile}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temp, loaded.script.createCachedData());
    renameSync(temp, loaded.cacheFile);
  } catch {
    // a read-only install simply loads without the cache
  }
}
