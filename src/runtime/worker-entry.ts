import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { bundleWorkerScript, oncePerProcess } from '../core/worker-script.js';

/**
 * The script runtime workers start from. In a compiled build it is the sibling `worker.js`. When
 * running from TypeScript sources (tests, `tsx`), the worker is bundled once per process with
 * esbuild into a content-addressed `.mjs` in the OS temp dir, so each worker starts under plain
 * node: measured ~45 ms per worker, against ~250 ms when each worker registers the tsx loader
 * itself (`--import tsx` in a worker's execArgv does not work on Node 20). Replacing a killed
 * worker is therefore cheap.
 */
export const workerEntry = oncePerProcess(async (): Promise<URL> => {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./worker.js', here);
  return (await bundleWorkerScript(fileURLToPath(new URL('./worker.ts', here)), tmpdir(), 'uee-runtime-worker')).url;
});
