/**
 * The script compiler threads start from. In a compiled build it is the sibling `compile-worker.js`.
 * From TypeScript sources (tests, `uee` under tsx) the worker is bundled once with esbuild into a
 * content-addressed `.mjs` under `node_modules/.cache/uee/`, npm packages left as imports (they
 * resolve from the repository's node_modules), so each thread starts under plain Node: no loader
 * hook re-reads TypeScript or binaryen (which AssemblyScript loads) in the thread. An input stamp
 * (size + mtime of every bundled source, see `input-stamp.ts`) lets later processes skip esbuild.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findRepoRoot } from './engine-build.js';
import { readStamp, writeStamp } from './input-stamp.js';

let cached: Promise<URL> | null = null;

/** URL of the compiler worker script (see the file comment); bundled once per process. */
export function compilerWorkerEntry(): Promise<URL> {
  cached ??= resolveEntry().catch((err: unknown) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function resolveEntry(): Promise<URL> {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./compile-worker.js', here);
  const root = findRepoRoot();
  const dir = join(root, 'node_modules', '.cache', 'uee');
  const stampPath = join(dir, 'compile-worker.stamp.json');
  const entry = fileURLToPath(new URL('./compile-worker.ts', here));
  const stamped = readStamp<string>(stampPath, entry);
  if (stamped !== undefined && existsSync(stamped)) return pathToFileURL(stamped);
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    metafile: true,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('esbuild produced no compiler worker bundle');
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const file = join(dir, `compile-worker-${hash}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, code);
    await rename(temp, file);
  }
  writeStamp(stampPath, entry, Object.keys(result.metafile.inputs).map((p) => join(root, p)), file);
  return pathToFileURL(file);
}
