/**
 * Entry of a compiler worker thread (started by `worker-pool.ts`, bundled to plain JS by
 * `worker-entry.ts` when running from sources). It runs the CPU-bound, in-process toolchain steps
 * that a cancel must be able to stop at once: the TypeScript check, the AssemblyScript compiler and clang (C).
 * One job at a time: `{ id, job }` in, `{ id, result }` or `{ id, error }` out. A cancel terminates
 * the thread; nothing here needs cleaning up.
 */
import { parentPort } from 'node:worker_threads';
import { toUeeError } from '../core/errors.js';
import { compileAssemblyScriptHere } from './compile-as.js';
import { compileCHere } from './compile-c.js';
import { saveTypeScriptCache } from './ts-loader.js';
import { typeCheckTs } from './typecheck-ts.js';
import type { WorkerJob, WorkerReply } from './worker-protocol.js';

async function run(job: WorkerJob): Promise<unknown> {
  switch (job.op) {
    case 'typecheck': {
      const result = await typeCheckTs(job.files, job.entry, job.sdkRoot, job.packages, job.typesRoot);
      saveTypeScriptCache();
      return result;
    }
    case 'asc':
      return compileAssemblyScriptHere(job.options);
    case 'clang':
      return compileCHere(job.options);
  }
}

const port = parentPort;
if (port) {
  port.on('message', (msg: { id: number; job: WorkerJob }) => {
    run(msg.job).then(
      (result) => port.postMessage({ id: msg.id, result } satisfies WorkerReply),
      (err: unknown) => port.postMessage({ id: msg.id, error: toUeeError(err).toJSON() } satisfies WorkerReply),
    );
  });
}
