/**
 * The process's binaryen worker (see `binaryen-worker.mjs` for why it is a plain-JS worker thread):
 * started once, lazily or ahead of time by {@link warmBinaryen}, and kept for the life of the
 * process. It holds the event loop open only while a request is pending.
 */
import { Worker } from 'node:worker_threads';
import { UeeError } from '../core/errors.js';

/** One post-processing request (the worker's message shape). */
export interface BinaryenRequest {
  readonly snapshot: Uint8Array;
  readonly keepExports: readonly string[];
  readonly hostFunctions: readonly string[];
  readonly features: readonly string[];
  readonly validate: boolean;
}

interface Reply {
  readonly id: number;
  readonly wasm?: Uint8Array;
  readonly ready?: boolean;
  readonly error?: string;
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

class BinaryenWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  dead = false;

  constructor() {
    // No execArgv: the worker must not inherit a loader (tsx) that would transform binaryen.js.
    this.worker = new Worker(new URL('./binaryen-worker.mjs', import.meta.url), { execArgv: [], stdout: false, stderr: false });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      p.resolve(reply);
    });
    const fail = (err: Error): void => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`binaryen worker exited with code ${code}`)));
  }

  request(message: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id });
    });
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }
}

let current: BinaryenWorker | undefined;

function worker(): BinaryenWorker {
  if (!current || current.dead) current = new BinaryenWorker();
  return current;
}

/**
 * Starts the binaryen worker and resolves once binaryen is loaded in it (~0.5-1 s, off the main
 * thread). Idempotent; servers call it at start so the first compile does not pay for the load.
 */
export async function warmBinaryen(): Promise<void> {
  const reply = await worker().request({ type: 'ping' });
  if (reply.error !== undefined) throw new UeeError('INTERNAL', `binaryen failed to load: ${reply.error}`, { hint: 'Run npm ci.' });
}

/** Post-processes a snapshot in the worker; binaryen failures are `INTERNAL`. */
export async function runBinaryen(req: BinaryenRequest): Promise<Uint8Array> {
  let reply: Reply;
  try {
    reply = await worker().request({ type: 'finish', ...req });
  } catch (err) {
    throw new UeeError('INTERNAL', 'the binaryen worker died while post-processing the module', { cause: err, retryable: true });
  }
  if (reply.error !== undefined || reply.wasm === undefined) {
    throw new UeeError('INTERNAL', `binaryen post-processing failed: ${reply.error ?? 'no output'}`);
  }
  return reply.wasm;
}

/** Whether this process has started the binaryen worker (the JS compile path must not need it: COMPILE-FAST-1). */
export function binaryenStarted(): boolean {
  return current !== undefined;
}

/** Stops the worker (tests and benches that want a fresh one). */
export async function stopBinaryen(): Promise<void> {
  const w = current;
  current = undefined;
  if (w) await w.terminate();
}
