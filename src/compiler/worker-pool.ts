/**
 * The process's compiler threads: CPU-bound toolchain steps (the TypeScript check, AssemblyScript)
 * run here so that a cancelled or timed-out compile stops at once — the thread running it is
 * terminated, not left to finish. Threads are started lazily, reused while idle (a warm thread keeps
 * TypeScript and its parsed lib, so later checks cost tens of ms), at most {@link MAX_THREADS} run
 * at once (more jobs wait in order), and an idle thread does not hold the process open. A thread
 * lost to a cancel is replaced in the background by a warmed one.
 */
import { Worker } from 'node:worker_threads';
import { UeeError } from '../core/errors.js';
import type { SerializedError } from '../core/errors.js';
import { compilerWorkerEntry } from './worker-entry.js';
import type { WorkerJob, WorkerReply } from './worker-protocol.js';

/** Threads running jobs at once; more jobs queue. */
const MAX_THREADS = 4;
/** Idle threads kept warm. */
const MAX_IDLE = 2;

interface Thread {
  readonly worker: Worker;
  /** The running job's settle functions, when busy. */
  job: { id: number; resolve: (r: unknown) => void; reject: (e: Error) => void } | undefined;
  /** Whether the thread has checked TypeScript once (its lib is parsed). */
  warm: boolean;
}

const idle: Thread[] = [];
const busy = new Set<Thread>();
const waiting: (() => void)[] = [];
let nextId = 1;
/** Threads started and not yet exited. */
let alive = 0;
/** Threads that have exited since the process started (a cancel shows as one more). */
let exited = 0;

function fromWire(e: SerializedError): UeeError {
  return new UeeError(e.code, e.message, {
    ...(e.details ? { details: e.details } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    retryable: e.retryable,
  });
}

async function spawn(): Promise<Thread> {
  const worker = new Worker(await compilerWorkerEntry(), {
    // never inherit the parent's loaders (tsx, vitest): the worker script is plain JS
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdout: false,
    stderr: false,
  });
  const thread: Thread = { worker, job: undefined, warm: false };
  alive++;
  worker.on('message', (reply: WorkerReply) => {
    const job = thread.job;
    if (!job || job.id !== reply.id) return;
    thread.job = undefined;
    if ('error' in reply) job.reject(fromWire(reply.error));
    else job.resolve(reply.result);
  });
  const lost = (err: Error): void => {
    thread.job?.reject(new UeeError('INTERNAL', `a compiler thread died: ${err.message}`, { cause: err, retryable: true }));
    thread.job = undefined;
    if (busy.delete(thread)) waiting.shift()?.();
    const i = idle.indexOf(thread);
    if (i >= 0) idle.splice(i, 1);
  };
  worker.on('error', lost);
  worker.on('exit', (code) => {
    alive--;
    exited++;
    lost(new Error(`exited with code ${code}`));
  });
  return thread;
}

async function acquire(): Promise<Thread> {
  for (;;) {
    const warm = idle.findIndex((t) => t.warm);
    const thread = idle.splice(warm >= 0 ? warm : 0, idle.length > 0 ? 1 : 0)[0];
    if (thread) return thread;
    if (busy.size < MAX_THREADS) return spawn();
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
}

function release(thread: Thread): void {
  busy.delete(thread);
  if (idle.length < MAX_IDLE) {
    thread.worker.unref();
    idle.push(thread);
  } else {
    void thread.worker.terminate();
  }
  waiting.shift()?.();
}

function cancelled(): UeeError {
  return new UeeError('CANCELLED', 'the compile was cancelled', { hint: 'compile again if the result is still needed' });
}

/**
 * Runs `job` on a compiler thread. When `signal` aborts first, the thread is terminated at once and
 * the call rejects with `CANCELLED` (or the signal's reason when it is a `UeeError`, e.g. `TIMEOUT`).
 */
export async function runInWorker<T>(job: WorkerJob, signal?: AbortSignal): Promise<T> {
  const reason = (): UeeError => (signal?.reason instanceof UeeError ? signal.reason : cancelled());
  if (signal?.aborted) throw reason();
  const thread = await acquire();
  if (signal?.aborted) {
    release(thread);
    throw reason();
  }
  busy.add(thread);
  thread.worker.ref();
  const id = nextId++;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      thread.job = { id, resolve: (r) => resolve(r as T), reject };
      onAbort = (): void => {
        thread.job = undefined;
        busy.delete(thread);
        void thread.worker.terminate();
        waiting.shift()?.();
        if (thread.warm) replaceWarm();
        reject(reason());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      thread.worker.postMessage({ id, job });
    });
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    if (busy.has(thread) && thread.job === undefined) {
      if (job.op === 'typecheck') thread.warm = true;
      release(thread);
    }
  }
}

const WARM_FILES = { 'main.ts': 'export const warm: number = [1].length;\n' };
let warming: Promise<void> | undefined;
let warmSdkRoot: string | undefined;

/**
 * Starts a thread and makes it check a tiny TypeScript file, so the next check finds TypeScript and
 * its lib loaded. Idempotent while one warm-up runs; never rejects.
 */
export function warmCompilerThread(sdkRoot: string): Promise<void> {
  warmSdkRoot = sdkRoot;
  if (idle.some((t) => t.warm)) return Promise.resolve();
  warming ??= runInWorker({ op: 'typecheck', files: WARM_FILES, entry: 'main.ts', sdkRoot })
    .then(() => undefined, () => undefined)
    .finally(() => {
      warming = undefined;
    });
  return warming;
}

function replaceWarm(): void {
  if (warmSdkRoot !== undefined && !idle.some((t) => t.warm)) void warmCompilerThread(warmSdkRoot);
}

/**
 * Compiler threads: idle, running a job, alive (started, not exited) and exited so far — tests check
 * that a cancel stopped one.
 */
export function compilerThreadCount(): { idle: number; busy: number; alive: number; exited: number } {
  return { idle: idle.length, busy: busy.size, alive, exited };
}

/** Terminates every thread (tests, benches, shutdown). Running jobs reject. */
export async function stopCompilerThreads(): Promise<void> {
  const all = [...idle.splice(0), ...busy];
  busy.clear();
  await Promise.all(all.map((t) => t.worker.terminate().catch(() => 0)));
}
