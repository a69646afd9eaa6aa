import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import type { Logger } from '../core/logger.js';
import { BRIDGE, MAX_REQUEST_BYTES, errorAnswer } from './protocol.js';
import type { DoneMessage, FromWorker, LoadMessage, ToWorker, WorkerInit } from './protocol.js';
import { workerEntry } from './worker-entry.js';

/** Options of a {@link WorkerPool}, complete (see `ExecutionHostOptions` for defaults). */
export interface PoolOptions {
  size: number;
  /** Bytes of each worker's bridge buffer; at least 1 MiB + 64 so every legal request fits. */
  bridgeBytes: number;
  resourceLimits: ResourceLimits;
  /** After a deadline passes during a host call, how long the plugin gets to unwind before its worker is killed. */
  timeoutGraceMs: number;
  logger: Logger;
}

/** A host call's answer: JSON text, and whether it ends the call (budget breach). */
export interface HostCallAnswer {
  body: string;
  fatal: boolean;
}

/** One call to run on some worker. */
export interface PoolJob {
  pluginId: string;
  input: string;
  instanceKey: string;
  timeoutMs: number;
  /** Answers a host call of this job; must not throw (answer `ok:false` instead). */
  hostCall(fnId: number, request: string): Promise<HostCallAnswer> | HostCallAnswer;
}

/** How a job ended, seen from the main thread. */
export type JobOutcome =
  | { kind: 'done'; done: DoneMessage; durationMs: number }
  | { kind: 'timeout'; durationMs: number }
  | { kind: 'crashed'; message: string; durationMs: number };

interface Running {
  id: number;
  job: PoolJob;
  resolve: (outcome: JobOutcome) => void;
  started: number;
  timer: NodeJS.Timeout;
  grace: NodeJS.Timeout | null;
  /** Sequence number of the host call the main thread is answering, if any. */
  hostSeq: number | null;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  i32: Int32Array;
  buf: Buffer;
  overflow: MessagePort;
  ready: boolean;
  dead: boolean;
  running: Running | null;
}

interface Queued {
  job: PoolJob;
  resolve: (outcome: JobOutcome) => void;
}

const TIMEOUT_ANSWER = errorAnswer('TIMEOUT', 'the call ran out of time');

/**
 * A fixed-size pool of our own worker threads. Each job runs on one idle worker; a watchdog timer
 * per job kills the worker when the job overruns its `timeoutMs` (or, when the overrun happens
 * while the main thread is answering a host call, answers `TIMEOUT` and kills it only if the
 * plugin does not unwind within the grace period), then starts a replacement with every loaded
 * module. Other workers keep serving throughout.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #entry: URL;
  readonly #slots = new Set<Slot>();
  readonly #queue: Queued[] = [];
  readonly #modules = new Map<string, LoadMessage>();
  #nextId = 1;
  #closing = false;
  #idleWaiters: Array<() => void> = [];
  #startFailures = 0;
  /** Workers replaced after a timeout or a crash, since start. */
  replacements = 0;

  private constructor(options: PoolOptions, entry: URL) {
    this.#options = options;
    this.#entry = entry;
  }

  /** Starts `size` workers and resolves once all are ready. */
  static async create(options: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options, await workerEntry());
    try {
      await Promise.all(Array.from({ length: options.size }, () => pool.#spawn()));
    } catch (err) {
      await pool.close(0);
      throw err;
    }
    return pool;
  }

  /** Live workers. */
  get size(): number {
    return this.#slots.size;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Makes a module available to every worker, present and future. */
  load(msg: LoadMessage): void {
    this.#modules.set(msg.pluginId, msg);
    for (const slot of this.#slots) this.#post(slot, msg);
  }

  /** Forgets a module everywhere. */
  unload(pluginId: string): void {
    this.#modules.delete(pluginId);
    for (const slot of this.#slots) this.#post(slot, { t: 'unload', pluginId });
  }

  /** Runs a job on the next idle worker. Never rejects. */
  run(job: PoolJob): Promise<JobOutcome> {
    return new Promise((resolve) => {
      this.#queue.push({ job, resolve });
      this.#pump();
    });
  }

  /** Waits until no job is queued or running, up to `graceMs`, then terminates every worker. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    if (this.#queue.length > 0 || [...this.#slots].some((s) => s.running !== null)) {
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    const slots = [...this.#slots];
    this.#slots.clear();
    for (const slot of slots) {
      slot.dead = true;
      if (slot.running !== null) this.#settle(slot.running, { kind: 'crashed', message: 'the runtime closed', durationMs: 0 });
    }
    for (const q of this.#queue.splice(0)) q.resolve({ kind: 'crashed', message: 'the runtime closed', durationMs: 0 });
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => 0)));
  }

  async #spawn(): Promise<void> {
    const sab = new SharedArrayBuffer(Math.max(this.#options.bridgeBytes, BRIDGE.DATA_OFFSET + MAX_REQUEST_BYTES));
    const channel = new MessageChannel();
    const init: WorkerInit = { sab, overflow: channel.port2 };
    const worker = new Worker(this.#entry, {
      workerData: init,
      transferList: [channel.port2],
      resourceLimits: this.#options.resourceLimits,
      // Never inherit the parent's loaders (tsx, vitest): the worker script is plain JS.
      execArgv: ['--disable-warning=ExperimentalWarning'],
    });
    const slot: Slot = { worker, i32: new Int32Array(sab), buf: Buffer.from(sab), overflow: channel.port1, ready: false, dead: false, running: null };
    this.#slots.add(slot);
    for (const msg of this.#modules.values()) this.#post(slot, msg);
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'host') this.#hostCall(slot);
        else if (msg.t === 'done') this.#done(slot, msg);
        else {
          slot.ready = true;
          this.#startFailures = 0;
          resolve();
          this.#pump();
        }
      });
      worker.on('error', (err) => {
        reject(err);
        this.#lost(slot, `worker failed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        reject(new Error(`worker exited with code ${code} before it was ready`));
        this.#lost(slot, `worker exited with code ${code}`);
      });
    });
    await ready;
  }

  #post(slot: Slot, msg: ToWorker): void {
    if (!slot.dead) slot.worker.postMessage(msg);
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let free: Slot | undefined;
      for (const s of this.#slots) {
        if (s.ready && !s.dead && s.running === null) {
          free = s;
          break;
        }
      }
      if (free === undefined) return;
      const next = this.#queue.shift()!;
      this.#start(free, next);
    }
    if (this.#idleWaiters.length > 0 && ![...this.#slots].some((s) => s.running !== null)) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  #start(slot: Slot, q: Queued): void {
    const id = this.#nextId++;
    const running: Running = {
      id,
      job: q.job,
      resolve: q.resolve,
      started: performance.now(),
      timer: setTimeout(() => this.#deadline(slot, running), q.job.timeoutMs),
      grace: null,
      hostSeq: null,
      settled: false,
    };
    slot.running = running;
    this.#post(slot, { t: 'invoke', id, pluginId: q.job.pluginId, input: q.job.input, instanceKey: q.job.instanceKey });
  }

  #settle(r: Running, outcome: JobOutcome): void {
    if (r.settled) return;
    r.settled = true;
    clearTimeout(r.timer);
    r.resolve(outcome);
  }

  #done(slot: Slot, msg: DoneMessage): void {
    const r = slot.running;
    if (r === null || r.id !== msg.id) return;
    if (r.grace !== null) clearTimeout(r.grace);
    slot.running = null;
    this.#settle(r, { kind: 'done', done: msg, durationMs: performance.now() - r.started });
    this.#pump();
  }

  #hostCall(slot: Slot): void {
    const r = slot.running;
    const seq = Atomics.load(slot.i32, BRIDGE.SEQ);
    if (r === null || r.settled) {
      // The call was given up (deadline passed): end it at once.
      this.#answer(slot, { body: TIMEOUT_ANSWER, fatal: true });
      return;
    }
    const fnId = slot.i32[BRIDGE.FN]!;
    const length = slot.i32[BRIDGE.LENGTH]!;
    const request = slot.buf.toString('utf8', BRIDGE.DATA_OFFSET, BRIDGE.DATA_OFFSET + length);
    r.hostSeq = seq;
    const answer = r.job.hostCall(fnId, request);
    const deliver = (a: HostCallAnswer): void => {
      if (slot.running !== r || r.hostSeq !== seq || slot.dead) return;
      r.hostSeq = null;
      this.#answer(slot, a);
    };
    if (answer instanceof Promise) {
      answer.then(deliver, (err: unknown) => deliver({ body: errorAnswer('INTERNAL', String(err)), fatal: false }));
    } else deliver(answer);
  }

  #answer(slot: Slot, a: HostCallAnswer): void {
    const bytes = Buffer.byteLength(a.body);
    slot.i32[BRIDGE.FLAGS] = a.fatal ? BRIDGE.FLAG_FATAL : 0;
    if (bytes <= slot.buf.length - BRIDGE.DATA_OFFSET) {
      slot.buf.write(a.body, BRIDGE.DATA_OFFSET, 'utf8');
      slot.i32[BRIDGE.LENGTH] = bytes;
      Atomics.store(slot.i32, BRIDGE.STATE, BRIDGE.STATE_ANSWER_SAB);
    } else {
      slot.overflow.postMessage({ body: a.body });
      Atomics.store(slot.i32, BRIDGE.STATE, BRIDGE.STATE_ANSWER_PORT);
    }
    Atomics.notify(slot.i32, BRIDGE.STATE);
  }

  #deadline(slot: Slot, r: Running): void {
    if (r.settled || slot.running !== r) return;
    this.#settle(r, { kind: 'timeout', durationMs: performance.now() - r.started });
    if (r.hostSeq !== null && !slot.dead) {
      // The worker is parked in the bridge: answer TIMEOUT, which ends the call without a kill.
      r.hostSeq = null;
      this.#answer(slot, { body: TIMEOUT_ANSWER, fatal: true });
      r.grace = setTimeout(() => {
        if (slot.running === r) this.#kill(slot, 'did not unwind after TIMEOUT');
      }, this.#options.timeoutGraceMs);
      return;
    }
    this.#kill(slot, 'call overran its timeout');
  }

  #kill(slot: Slot, reason: string): void {
    if (slot.dead) return;
    this.#options.logger.warn('runtime worker killed', { reason, threadId: slot.worker.threadId });
    void slot.worker.terminate();
    this.#lost(slot, reason);
  }

  #lost(slot: Slot, reason: string): void {
    if (slot.dead && !this.#slots.has(slot)) return;
    const wasReady = slot.ready;
    slot.dead = true;
    this.#slots.delete(slot);
    const r = slot.running;
    slot.running = null;
    if (r !== null) {
      if (r.grace !== null) clearTimeout(r.grace);
      this.#settle(r, { kind: 'crashed', message: reason, durationMs: performance.now() - r.started });
    }
    if (this.#closing) {
      this.#pump();
      return;
    }
    this.replacements++;
    // A worker that dies before it is ready is retried with backoff; its own exit lands here again.
    const delay = wasReady ? 0 : Math.min(100 * 2 ** this.#startFailures++, 5000);
    setTimeout(() => {
      if (this.#closing) return;
      this.#spawn().catch((err: unknown) => this.#options.logger.error('runtime worker failed to start', { err }));
    }, delay).unref();
  }
}
