import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let cached: Promise<URL> | null = null;

/**
 * The script runtime workers start from. In a compiled build it is the sibling `worker.js`. When
 * running from TypeScript sources (tests, `tsx`), the worker is bundled once per process with
 * esbuild into a content-addressed `.mjs` in the OS temp dir, so each worker starts under plain
 * node: measured ~45 ms per worker, against ~250 ms when each worker registers the tsx loader
 * itself (`--import tsx` in a worker's execArgv does not work on Node 20). Replacing a killed
 * worker is therefore cheap.
 */
export function workerEntry(): Promise<URL> {
  cached ??= resolveEntry().catch((err: unknown) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function resolveEntry(): Promise<URL> {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./worker.js', here);
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./worker.ts', here))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('esbuild produced no worker bundle');
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const file = join(tmpdir(), `uee-runtime-worker-${hash}.mjs`);
  if (!existsSync(file)) {
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, code);
    await rename(temp, file);
  }
  return pathToFileURL(file);
}
