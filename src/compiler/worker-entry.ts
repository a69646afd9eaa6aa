/**
 * The script compiler threads start from. In a compiled build it is the sibling `compile-worker.js`.
 * From TypeScript sources (tests, `uee` under tsx) the worker is bundled once with esbuild into a
 * content-addressed `.mjs` under `node_modules/.cache/uee/`, npm packages left as imports (they
 * resolve from the repository's node_modules), so each thread starts under plain Node: no loader
 * hook re-reads TypeScript or binaryen (which AssemblyScript loads) in the thread. An input stamp
 * (size + mtime of every bundled source, see `input-stamp.ts`) lets later processes skip esbuild.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleWorkerScript, oncePerProcess } from '../core/worker-script.js';
import { findRepoRoot } from './engine-build.js';
import { readStamp, writeStamp } from './input-stamp.js';

/** URL of the compiler worker script (see the file comment); bundled once per process. */
export const compilerWorkerEntry = oncePerProcess(async (): Promise<URL> => {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./compile-worker.js', here);
  const root = findRepoRoot();
  const dir = join(root, 'node_modules', '.cache', 'uee');
  const stampPath = join(dir, 'compile-worker.stamp.json');
  const entry = fileURLToPath(new URL('./compile-worker.ts', here));
  const stamped = readStamp<string>(stampPath, entry);
  if (stamped !== undefined && existsSync(stamped)) return pathToFileURL(stamped);
  const bundled = await bundleWorkerScript(entry, dir, 'compile-worker', { absWorkingDir: root, packages: 'external' });
  writeStamp(stampPath, entry, bundled.inputs.map((p) => join(root, p)), fileURLToPath(bundled.url));
  return bundled.url;
});
