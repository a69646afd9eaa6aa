import { readFileSync } from 'node:fs';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import type { Logger } from '../core/logger.js';
import { unpackDone } from './done-codec.js';
import { BRIDGE, MAX_REQUEST_BYTES, errorAnswer } from './protocol.js';
import type { BatchDoneMessage, DoneMessage, FromWorker, InstanceCacheLimits, LoadMessage, ToWorker, WorkerInit } from './protocol.js';
import { workerEntry } from './worker-entry.js';

/** Options of a {@link WorkerPool}, complete (see `ExecutionHostOptions` for defaults). */
export interface PoolOptions {
  size: number;
  /** Bytes of each worker's bridge buffer; at least 1 MiB + 64 so every legal request fits. */
  bridgeBytes: number;
  resourceLimits: ResourceLimits;
  /** After a deadline passes, how much CPU time (ms) the worker thread gets to unwind the call before it is killed (see `unwindGraceLeft`). */
  timeoutGraceMs: number;
  /** Reads a worker thread's CPU time (ms) from its `/proc/<pid>/task/<tid>/stat`. @default {@link threadCpuMs} */
  readThreadCpu?: (statPath: string | undefined) => number | undefined;
  /**
   * Hard cap on the workers the jobs of one share (tenant) may hold at once. Below it, a share's
   * fair part is `floor(size / active shares)` (at least 1), where a share is active while it
   * submitted a job within `activeWindowMs`: a tenant alone uses every worker, and as soon as
   * another tenant is active it is held to its part, leaving workers free for the other.
   */
  maxWorkersPerTenant: number;
  /** Workers the jobs of one plugin may hold at once. */
  maxWorkersPerPlugin: number;
  /** How long a share counts as active after its last job was submitted. */
  activeWindowMs: number;
  /** How each worker keeps idle instances. */
  instances: InstanceCacheLimits;
  /**
   * Most jobs sent to a worker in one message (same share, plugin and instance key, in queue order).
   * 1 sends every job alone.
   */
  maxBatch: number;
  /**
   * The host-call bridge's spinning. A host call is a worker's request answered by the main thread;
   * waking a sleeping thread costs tens of microseconds on a VM, twice per call (measured: 115 µs from
   * request to the main thread's handler, 43 µs from answer to the worker running again, where the
   * store's answer itself takes ~20). After a request's message, the main thread polls the bridges
   * between its tasks (a `setImmediate` loop) until `mainMs` passed without a request or no batch
   * runs, and a worker whose request finds it polling sends no message and spins up to `workerUs` for
   * its answer before it sleeps. A plugin that makes no host call is never polled for. `mainMs` 0
   * turns both off (every request is a message, every wait a sleep). Polling runs only while fewer
   * workers run than there are `cores`: the main thread's polling and a worker's spinning take a
   * core, which must not be one the running workers need.
   */
  hostCallSpin: { mainMs: number; workerUs: number; cores: number };
  /**
   * Expected work one batch may hold a worker for: a plugin whose calls took `d` ms on average
   * (moving average, per plugin) gets batches of `floor(batchTargetMs / d)` jobs (1 to `maxBatch`),
   * so batching a slow plugin never holds a worker longer than sending its jobs one by one would.
   */
  batchTargetMs: number;
  logger: Logger;
}

/** A host call's answer: JSON text, and whether it ends the call (budget breach). */
export interface HostCallAnswer {
  body: string;
  fatal: boolean;
  /**
   * Not answered yet: over a host-call rate, the worker sleeps this long (at most until its call's
   * deadline) and asks again; `body` is unused.
   */
  waitMs?: number;
}

/**
 * One call to run on some worker. `share` and `pluginId` decide fairness: jobs wait in one queue
 * per share (the tenant the work is done for), shares are served round-robin, and no share holds
 * more than its fair part of the workers (see `PoolOptions.maxWorkersPerTenant`), nor one plugin
 * more than `maxWorkersPerPlugin`, so one tenant's slow or runaway plugins delay only that tenant.
 */
export interface PoolJob {
  /** Who the work is for (the event's tenant; `''` for global events). */
  share: string;
  pluginId: string;
  input: string;
  instanceKey: string;
  timeoutMs: number;
  /** Answers a host call of this job; must not throw (answer `ok:false` instead). */
  hostCall(fnId: number, request: string): Promise<HostCallAnswer> | HostCallAnswer;
  /**
   * Asked when the job leaves the queue for a worker: false drops it unrun (`dropped`) — its caller
   * no longer wants it (the router's queue lease it was submitted under has ended while it waited, and
   * the new holder runs the delivery itself). Must be cheap and must not throw. @default always wanted
   */
  wanted?: (() => boolean) | undefined;
}

/**
 * How a job ended, seen from the main thread. `interrupted`: the job never ran to a result because
 * its worker was lost to ANOTHER job of its batch (that one overran or crashed); nothing it did
 * counts, and the caller runs it again. `dropped`: the job was not wanted any more when its turn
 * came ({@link PoolJob.wanted}) and never ran.
 */
export type JobOutcome =
  | { kind: 'done'; done: DoneMessage; durationMs: number }
  | { kind: 'dropped'; durationMs: number }
  | { kind: 'timeout'; durationMs: number }
  | { kind: 'crashed'; message: string; durationMs: number }
  | { kind: 'interrupted'; message: string; durationMs: number };

/** One job of a batch on a worker. */
interface RunningJob {
  id: number;
  job: PoolJob;
  resolve: (outcome: JobOutcome) => void;
  settled: boolean;
}

/** A batch on a worker: its jobs in batch order and its one watchdog. */
interface Running {
  jobs: Map<number, RunningJob>;
  /** The shares and plugins the batch counts against (one of each, unless it gathers several queues' calls). */
  shares: string[];
  pluginIds: string[];
  /** Gathers several shares' or plugins' calls: the calls behind one that overruns are taken back. */
  mixed: boolean;
  started: number;
  /** The batch's one watchdog timer (re-armed for each job's own deadline, only when it fires). */
  timer: NodeJS.Timeout | null;
  /** Sequence number of the host call the main thread is answering, if any, and its job. */
  hostSeq: number | null;
  hostJob: RunningJob | null;
  /** A job whose deadline passed and that was told to unwind (0: none). */
  cancelled: number;
  /** When the worker was told to unwind `cancelled`: wall clock (ms) and the worker thread's CPU time (ms, when readable). */
  cancelledAt?: { wallMs: number; cpuMs: number | undefined };
}

interface Slot {
  worker: Worker;
  i32: Int32Array;
  i64: BigInt64Array;
  buf: Buffer;
  overflow: MessagePort;
  ready: boolean;
  dead: boolean;
  running: Running | null;
  /** Sequence number of the last host call handled: the poll and the request's message may both see one. */
  handledSeq: number;
  /** The worker thread's CPU-time file (Linux), see {@link threadCpuMs}. */
  cpuStat?: string;
}

interface Queued {
  job: PoolJob;
  resolve: (outcome: JobOutcome) => void;
}

/** Jobs waiting for one share, and how many workers it holds. */
interface Share {
  queue: Queued[];
  running: number;
}

const TIMEOUT_ANSWER = errorAnswer('TIMEOUT', 'the call ran out of time');
/** Longest one sleep of a worker over a host-call rate: it then asks again (the bucket may have refilled sooner for it). */
const MAX_WAIT_US = 1_000_000;

/** A starved worker is killed at the latest after this many grace periods of wall clock (see `#graceLeft`). */
const GRACE_WALL_FACTOR = 20;
/** The resolution of a thread's CPU time in /proc (USER_HZ = 100). */
const CPU_TICK_MS = 10;

/**
 * How much longer (ms) a cancelled call may take to unwind, `wallMs` after the cancel with `cpuMs` of
 * CPU used by its worker thread since: none once it had `graceMs` of CPU, or {@link GRACE_WALL_FACTOR}
 * × `graceMs` of wall clock; else until one of the two could be reached (at least one CPU tick).
 */
export function unwindGraceLeft(graceMs: number, wallMs: number, cpuMs: number): number {
  const wallLeft = GRACE_WALL_FACTOR * graceMs - wallMs;
  if (cpuMs >= graceMs || wallLeft <= 0) return 0;
  return Math.max(CPU_TICK_MS, Math.min(graceMs - cpuMs, wallLeft));
}

/** The CPU time (user + system, ms) a thread has used, from its `/proc/<pid>/task/<tid>/stat`; undefined when unreadable. */
export function threadCpuMs(statPath: string | undefined): number | undefined {
  if (statPath === undefined) return undefined;
  try {
    const stat = readFileSync(statPath, 'latin1');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * CPU_TICK_MS : undefined;
  } catch {
    return undefined; // the thread is gone
  }
}
/** Weight of the newest call in a plugin's moving average of call time. */
const COST_WEIGHT = 0.25;

/**
 * A fixed-size pool of our own worker threads. Jobs go to an idle worker in batches — one message
 * and one watchdog per batch — of jobs of one share, plugin and instance key, sized so a batch holds
 * a worker for about `batchTargetMs` (see {@link PoolOptions.batchTargetMs}). The worker runs the
 * batch's jobs one after another and writes which one runs, and since when, to the bridge header;
 * the watchdog fires at that job's own deadline and settles only it as `timeout` and ends the call:
 * parked in a host call, the call is answered `TIMEOUT`; running, the worker is told
 * (`BRIDGE.CANCEL`) and ends it at the plugin's next kernel call, then goes on with the batch. Only a
 * plugin that does not unwind within the grace period costs its worker: it is killed and a
 * replacement started with every loaded module; the batch's other unfinished jobs come back
 * `interrupted` (to be run again), never failed. Other workers keep serving throughout.
 *
 * Scheduling is fair between shares (tenants): one FIFO queue per share, served round-robin, with a
 * cap on the workers a share and a plugin may hold (see {@link PoolJob}); a batch holds one worker.
 * Within a share, jobs start in arrival order, skipping jobs of a plugin at its own cap.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #entry: URL;
  readonly #slots = new Set<Slot>();
  /** Shares with queued or running jobs, in round-robin order (a Map keeps insertion order). */
  readonly #shares = new Map<string, Share>();
  readonly #runningPerPlugin = new Map<string, number>();
  /** When each share last submitted a job (performance.now()), oldest first. */
  readonly #lastActive = new Map<string, number>();
  /** Moving average of each plugin's call time (ms), which sizes its batches. */
  readonly #cost = new Map<string, number>();
  #queued = 0;
  readonly #modules = new Map<string, LoadMessage>();
  #nextId = 1;
  #closing = false;
  #closed = false;
  #pumpScheduled = false;
  #idleWaiters: Array<() => void> = [];
  #startFailures = 0;
  /** Workers replaced after a timeout or a crash, since start. */
  replacements = 0;
  /** Batches sent to workers, and the jobs in them, since start (bench/routing reads the mean). */
  batches = 0;
  batchedJobs = 0;
  /**
   * Host calls answered since start (a request slowed to a rate counts each time it asks), and those
   * of them the main thread saw by polling (no message).
   */
  hostCalls = 0;
  hostCallsPolled = 0;
  /** Calls whose bytes crossed by direct I/O (`DoneMessage.directIo`), since start. */
  directIoCalls = 0;
  /** Host-call messages received (a request the poll answered first may still send one). */
  hostMessages = 0;
  /** Of them, those received while the main thread polled: their worker gave up spinning (the main thread was busy longer than `workerUs`). */
  hostMessagesWhilePolling = 0;
  /** Host calls over a rate, answered "sleep, then ask again" ({@link HostCallAnswer.waitMs}). */
  hostCallsThrottled = 0;
  /** Calls that started a new plugin instance on their worker (none idle for their plugin and instance key there), since start. */
  instancesStarted = 0;

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
    return this.#queued;
  }

  /** Jobs running and waiting per share, for health checks and tests. */
  shares(): Record<string, { running: number; queued: number }> {
    return Object.fromEntries([...this.#shares].map(([k, v]) => [k, { running: v.running, queued: v.queue.length }]));
  }

  /** Makes a module available to every worker, present and future. */
  load(msg: LoadMessage): void {
    this.#modules.set(msg.pluginId, msg);
    this.#cost.delete(msg.pluginId);
    for (const slot of this.#slots) this.#post(slot, msg);
  }

  /** Forgets a module everywhere. */
  unload(pluginId: string): void {
    this.#modules.delete(pluginId);
    this.#cost.delete(pluginId);
    for (const slot of this.#slots) this.#post(slot, { t: 'unload', pluginId });
  }

  /**
   * Runs a job on the next idle worker its share may use, in a batch with the jobs queued beside it.
   * Never rejects.
   */
  run(job: PoolJob): Promise<JobOutcome> {
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve({ kind: 'crashed', message: 'the runtime closed', durationMs: 0 });
        return;
      }
      let share = this.#shares.get(job.share);
      if (share === undefined) {
        share = { queue: [], running: 0 };
        this.#shares.set(job.share, share);
      }
      share.queue.push({ job, resolve });
      this.#queued++;
      this.#lastActive.delete(job.share);
      this.#lastActive.set(job.share, performance.now());
      // Start on the next macrotask, not now: the jobs a caller submits in one go (a queue batch
      // whose inputs resolve over a few microtasks) then leave in one batch instead of the first
      // alone and the rest after it.
      if (!this.#pumpScheduled) {
        this.#pumpScheduled = true;
        setImmediate(() => {
          this.#pumpScheduled = false;
          this.#pump();
        });
      }
    });
  }

  /** Waits until no job is queued or running, up to `graceMs`, then terminates every worker. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    if (this.#queued > 0 || [...this.#slots].some((s) => s.running !== null)) {
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    this.#closed = true;
    const slots = [...this.#slots];
    this.#slots.clear();
    for (const slot of slots) {
      slot.dead = true;
      const r = slot.running;
      slot.running = null;
      if (r !== null) {
        if (r.timer !== null) clearTimeout(r.timer);
        for (const j of r.jobs.values()) this.#settle(j, { kind: 'crashed', message: 'the runtime closed', durationMs: 0 });
      }
    }
    for (const share of this.#shares.values()) {
      for (const q of share.queue.splice(0)) q.resolve({ kind: 'crashed', message: 'the runtime closed', durationMs: 0 });
    }
    this.#shares.clear();
    this.#queued = 0;
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => 0)));
  }

  async #spawn(): Promise<void> {
    const sab = new SharedArrayBuffer(Math.max(this.#options.bridgeBytes, BRIDGE.DATA_OFFSET + MAX_REQUEST_BYTES));
    const channel = new MessageChannel();
    const spin = this.#options.hostCallSpin;
    const init: WorkerInit = { sab, overflow: channel.port2, instances: this.#options.instances, spinUs: spin.mainMs > 0 ? spin.workerUs : 0 };
    const worker = new Worker(this.#entry, {
      workerData: init,
      transferList: [channel.port2],
      resourceLimits: this.#options.resourceLimits,
      // Never inherit the parent's loaders (tsx, vitest): the worker script is plain JS.
      execArgv: ['--disable-warning=ExperimentalWarning'],
    });
    const slot: Slot = {
      worker,
      i32: new Int32Array(sab),
      i64: new BigInt64Array(sab, 0, BRIDGE.DATA_OFFSET / 8),
      buf: Buffer.from(sab),
      overflow: channel.port1,
      ready: false,
      dead: false,
      running: null,
      handledSeq: -1,
    };
    if (this.#polling) Atomics.store(slot.i32, BRIDGE.POLLING, 1);
    this.#slots.add(slot);
    for (const msg of this.#modules.values()) this.#post(slot, msg);
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'host') {
          this.hostMessages++;
          if (this.#polling) this.hostMessagesWhilePolling++;
          // A worker running host calls: the next ones are polled for (a plugin without any costs none).
          if (this.#hostCall(slot)) this.#poll();
        }
        else if (msg.t === 'done') this.#done(slot, msg);
        else {
          if (msg.cpuStat !== undefined) slot.cpuStat = msg.cpuStat;
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

  #post(slot: Slot, msg: ToWorker, transfer?: ArrayBuffer[]): void {
    if (!slot.dead) slot.worker.postMessage(msg, transfer);
  }

  /** Whether the main thread polls the bridges now (see `PoolOptions.hostCallSpin`). */
  #polling = false;
  /** When a host call was last handled (`performance.now()`). */
  #lastBridgeActivity = 0;

  /** Whether the main thread polls the bridges now. */
  get polling(): boolean {
    return this.#polling;
  }

  /** How long (µs) the main thread polls the bridges after a host call; 0 = never (`hostCallSpin.mainMs`). */
  get spinUs(): number {
    return Math.round(this.#options.hostCallSpin.mainMs * 1000);
  }

  /** Workers running a batch now. */
  #runningCount(): number {
    let n = 0;
    for (const slot of this.#slots) if (slot.running !== null && !slot.dead) n++;
    return n;
  }

  /** Starts polling the bridges, unless it runs already, is turned off, or no core is spare. */
  #poll(): void {
    const spin = this.#options.hostCallSpin;
    if (this.#polling || spin.mainMs <= 0 || this.#runningCount() >= spin.cores) return;
    this.#polling = true;
    for (const slot of this.#slots) Atomics.store(slot.i32, BRIDGE.POLLING, 1);
    setImmediate(this.#pollStep);
  }

  /** One look at every running worker's bridge; again on the next turn of the event loop while there is work. */
  readonly #pollStep = (): void => {
    let running = 0;
    for (const slot of this.#slots) {
      if (slot.running === null || slot.dead) continue;
      running++;
      if (this.#hostCall(slot)) this.hostCallsPolled++;
    }
    const spin = this.#options.hostCallSpin;
    if (running > 0 && running < spin.cores && !this.#closed && performance.now() - this.#lastBridgeActivity <= spin.mainMs) {
      setImmediate(this.#pollStep);
      return;
    }
    this.#polling = false;
    for (const slot of this.#slots) Atomics.store(slot.i32, BRIDGE.POLLING, 0);
  };

  #pump(): void {
    while (this.#queued > 0) {
      let free: Slot | undefined;
      for (const s of this.#slots) {
        if (s.ready && !s.dead && s.running === null) {
          free = s;
          break;
        }
      }
      if (free === undefined) break;
      const next = this.#next();
      if (next === undefined) break;
      // Nothing of the batch is wanted any more: its workers are released and the round goes on.
      if (!this.#dropUnwanted(next)) continue;
      this.#start(free, next);
    }
    if (this.#idleWaiters.length > 0 && ![...this.#slots].some((s) => s.running !== null)) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /**
   * Resolves the batch's jobs whose caller no longer wants them ({@link PoolJob.wanted}) as `dropped`
   * and removes them; false when none is left, with the batch's shares and plugins released. One
   * check per job, as it leaves the queue: a job may have waited long behind others.
   */
  #dropUnwanted(next: { batch: Queued[]; shares: string[]; pluginIds: string[] }): boolean {
    let kept: Queued[] | undefined;
    for (const [i, q] of next.batch.entries()) {
      const wanted = q.job.wanted === undefined || q.job.wanted();
      if (!wanted) {
        kept ??= next.batch.slice(0, i);
        q.resolve({ kind: 'dropped', durationMs: 0 });
      } else kept?.push(q);
    }
    if (kept === undefined) return true;
    next.batch = kept;
    if (kept.length > 0) return true;
    this.#release(next.shares, next.pluginIds);
    return false;
  }

  /** Jobs of `pluginId` one batch may hold: its expected work within `batchTargetMs`. */
  #batchLimit(pluginId: string): number {
    const cost = this.#cost.get(pluginId);
    // Unmeasured: one job alone, to learn what a call costs before several wait behind it.
    if (cost === undefined) return 1;
    return Math.max(1, Math.min(this.#options.maxBatch, Math.floor(this.#options.batchTargetMs / Math.max(cost, 0.001))));
  }

  /**
   * Takes the next batch to start: round-robin over shares under their cap, FIFO within a share; the
   * batch is the first job a plugin under its cap has, with the same plugin's later jobs for the same
   * instance key (queue order kept), up to its {@link #batchLimit}.
   *
   * When that leaves room in the batch's expected work (`batchTargetMs`, by the plugins' measured
   * call times), the next shares in the round join it the same way, each with its own plugin and
   * instance key: with 1,000 tenants × 1 plugin and events spread over them, a tenant's queue holds a
   * few events at a time, and one worker message (and its answer) per 3–5 calls was the main thread's
   * largest cost. Each share and plugin in the batch counts one worker held, as in a batch of its own;
   * only plugins whose call time is known join another's batch; and a call of such a batch that
   * overruns the batch's expected time gets the calls behind it taken back to run elsewhere (see
   * {@link #takeBack}), so one tenant's hanging plugin holds up only its own calls.
   */
  #next(): { batch: Queued[]; shares: string[]; pluginIds: string[] } | undefined {
    const cap = this.#shareCap();
    const maxPerPlugin = this.#options.maxWorkersPerPlugin;
    let batch: Queued[] | undefined;
    const shares: string[] = [];
    const pluginIds: string[] = [];
    let room = 0;
    // Shares looked at for one batch: with 1,000 tenants the round is long, and a batch is full long before its end.
    let looked = 0;
    for (const [key, share] of this.#shares) {
      if (share.queue.length === 0 || share.running >= cap) continue;
      if (batch !== undefined && ++looked > 2 * this.#options.maxBatch) break;
      const i = share.queue.findIndex((q) => pluginIds.includes(q.job.pluginId) || (this.#runningPerPlugin.get(q.job.pluginId) ?? 0) < maxPerPlugin);
      if (i < 0) continue;
      const first = share.queue[i]!;
      const cost = this.#cost.get(first.job.pluginId);
      let limit = this.#batchLimit(first.job.pluginId);
      if (batch !== undefined) {
        // Joining another share's batch: only a plugin whose call time is known, within the room left.
        if (cost === undefined) continue;
        limit = Math.min(limit, this.#options.maxBatch - batch.length, Math.floor(room / Math.max(cost, 0.001)));
        if (limit < 1) continue;
      }
      let taken: Queued[];
      if (limit === 1) {
        share.queue.splice(i, 1);
        taken = [first];
      } else {
        taken = [];
        const rest: Queued[] = share.queue.slice(0, i);
        for (let j = i; j < share.queue.length; j++) {
          const q = share.queue[j]!;
          if (taken.length < limit && q.job.pluginId === first.job.pluginId && q.job.instanceKey === first.job.instanceKey) taken.push(q);
          else rest.push(q);
        }
        share.queue = rest;
      }
      this.#queued -= taken.length;
      share.running++;
      shares.push(key);
      if (!pluginIds.includes(first.job.pluginId)) {
        pluginIds.push(first.job.pluginId);
        this.#runningPerPlugin.set(first.job.pluginId, (this.#runningPerPlugin.get(first.job.pluginId) ?? 0) + 1);
      }
      if (batch === undefined) {
        batch = taken;
        if (cost === undefined) break;
        room = this.#options.batchTargetMs - taken.length * cost;
      } else {
        for (const q of taken) batch.push(q);
        room -= taken.length * cost!;
      }
      if (batch.length >= this.#options.maxBatch || room <= 0) break;
    }
    if (batch === undefined) return undefined;
    // Served: these shares go to the back of the round.
    for (const key of shares) {
      const share = this.#shares.get(key)!;
      this.#shares.delete(key);
      this.#shares.set(key, share);
    }
    return { batch, shares, pluginIds };
  }

  /** Workers one share may hold now: its fair part among the active shares, within the hard cap. */
  #shareCap(): number {
    const since = performance.now() - this.#options.activeWindowMs;
    // #lastActive is ordered by time (a submit moves its share to the end), so the expired entries
    // are a prefix: walk only that, never every active share (1,000 tenants made each job O(tenants)).
    let expired = 0;
    for (const [key, at] of this.#lastActive) {
      if (at >= since) break;
      if (!this.#shares.has(key)) this.#lastActive.delete(key);
      else expired++;
    }
    const active = this.#lastActive.size - expired;
    const fair = Math.max(1, Math.floor(this.#options.size / Math.max(1, active)));
    return Math.min(fair, this.#options.maxWorkersPerTenant);
  }

  /** A batch stopped holding its worker (done, or its worker died). */
  #finished(r: Running): void {
    this.#release(r.shares, r.pluginIds);
  }

  /** These shares and plugins hold one worker less. */
  #release(shares: readonly string[], pluginIds: readonly string[]): void {
    for (const key of shares) {
      const share = this.#shares.get(key);
      if (share === undefined) continue;
      share.running--;
      if (share.running <= 0 && share.queue.length === 0) this.#shares.delete(key);
    }
    for (const pluginId of pluginIds) {
      const n = (this.#runningPerPlugin.get(pluginId) ?? 1) - 1;
      if (n <= 0) this.#runningPerPlugin.delete(pluginId);
      else this.#runningPerPlugin.set(pluginId, n);
    }
  }

  #start(slot: Slot, { batch, shares, pluginIds }: { batch: Queued[]; shares: string[]; pluginIds: string[] }): void {
    const first = batch[0]!.job;
    const jobs = new Map<number, RunningJob>();
    for (const q of batch) {
      const id = this.#nextId++;
      jobs.set(id, { id, job: q.job, resolve: q.resolve, settled: false });
    }
    const mixed = shares.length > 1 || pluginIds.length > 1;
    const running: Running = { jobs, shares, pluginIds, mixed, started: performance.now(), timer: null, hostSeq: null, hostJob: null, cancelled: 0 };
    slot.running = running;
    this.batches++;
    this.batchedJobs += batch.length;
    this.#arm(slot, running, mixed ? Math.min(first.timeoutMs, this.#overrunMs) : first.timeoutMs);
    // The calls' inputs, and for a gathered batch each call's plugin id and instance key after them,
    // as UTF-8 in one buffer moved to the worker (see BatchMessage.input).
    const ids: number[] = [];
    const texts: string[] = [];
    for (const j of jobs.values()) {
      ids.push(j.id);
      texts.push(j.job.input);
    }
    if (mixed) {
      for (const j of jobs.values()) texts.push(j.job.pluginId, j.job.instanceKey);
      // The worker sees this before the batch (the message orders it): it claims each call from here.
      Atomics.store(slot.i32, BRIDGE.CLAIM, 0);
    }
    const ends: number[] = [];
    let bytes = 0;
    for (const text of texts) ends.push((bytes += Buffer.byteLength(text)));
    // Not a pooled Buffer (its whole ArrayBuffer moves to the worker), and zeroed: whatever a miscount
    // left unwritten must not be some earlier allocation's bytes in a plugin's input.
    const input = Buffer.alloc(bytes);
    let at = 0;
    for (const text of texts) at += input.write(text, at, 'utf8');
    this.#post(slot, { t: 'batch', pluginId: first.pluginId, instanceKey: first.instanceKey, ids, input, ends, gathered: mixed }, [input.buffer]);
  }

  /** How long one call of a gathered batch may run before the calls behind it are taken back: twice the batch's expected work. */
  get #overrunMs(): number {
    return Math.max(1, 2 * this.#options.batchTargetMs);
  }

  /**
   * Takes back the calls of a gathered batch its worker has not started (the one it runs overran
   * {@link #overrunMs}): one compare-and-exchange on `BRIDGE.CLAIM` from the running call's id to
   * -1, so the worker never starts them (it ends the batch after that call) and they go back to the
   * front of their shares' queues, in order, for the next free worker. The shares and plugins that
   * no longer have a call in the batch stop counting it. Nothing happens if the worker moved to the
   * next call meanwhile (the watchdog looks again).
   */
  #takeBack(r: Running, slot: Slot): void {
    const claimed = Atomics.load(slot.i32, BRIDGE.CLAIM);
    if (claimed <= 0 || !r.jobs.has(claimed)) return;
    const behind: RunningJob[] = [];
    let seen = false;
    for (const j of r.jobs.values()) {
      if (seen) behind.push(j);
      else if (j.id === claimed) seen = true;
    }
    if (behind.length === 0) {
      r.mixed = false;
      return;
    }
    if (Atomics.compareExchange(slot.i32, BRIDGE.CLAIM, claimed, -1) !== claimed) return;
    r.mixed = false;
    for (const j of behind) r.jobs.delete(j.id);
    const keptShares = new Set<string>();
    const keptPlugins = new Set<string>();
    for (const j of r.jobs.values()) {
      keptShares.add(j.job.share);
      keptPlugins.add(j.job.pluginId);
    }
    const back = new Map<string, Queued[]>();
    for (const j of behind) {
      let list = back.get(j.job.share);
      if (list === undefined) back.set(j.job.share, (list = []));
      list.push({ job: j.job, resolve: j.resolve });
    }
    for (const [key, list] of back) {
      let share = this.#shares.get(key);
      if (share === undefined) this.#shares.set(key, (share = { queue: [], running: 0 }));
      share.queue = [...list, ...share.queue];
      this.#queued += list.length;
    }
    this.#release(
      r.shares.filter((k) => !keptShares.has(k)),
      r.pluginIds.filter((p) => !keptPlugins.has(p)),
    );
    r.shares = r.shares.filter((k) => keptShares.has(k));
    r.pluginIds = r.pluginIds.filter((p) => keptPlugins.has(p));
    this.#pump();
  }

  #settle(j: RunningJob, outcome: JobOutcome): void {
    if (j.settled) return;
    j.settled = true;
    j.resolve(outcome);
  }

  #done(slot: Slot, msg: BatchDoneMessage): void {
    const r = slot.running;
    if (r === null) return;
    const done = unpackDone(msg);
    if (!r.jobs.has(done[0]?.id ?? -1)) return;
    if (r.timer !== null) clearTimeout(r.timer);
    slot.running = null;
    this.#finished(r);
    for (const d of done) {
      const j = r.jobs.get(d.id);
      if (j === undefined) continue;
      if (d.directIo === true) this.directIoCalls++;
      if (d.instantiateUs > 0) this.instancesStarted++;
      if (!j.settled) {
        const pluginId = j.job.pluginId;
        const prev = this.#cost.get(pluginId);
        this.#cost.set(pluginId, prev === undefined ? d.durationMs : prev + COST_WEIGHT * (d.durationMs - prev));
      }
      this.#settle(j, { kind: 'done', done: d, durationMs: d.durationMs });
    }
    for (const j of r.jobs.values()) this.#settle(j, { kind: 'crashed', message: 'the worker returned no result for the call', durationMs: 0 });
    this.#pump();
  }

  /** The job of `r` the worker runs now (per the bridge header), if any. */
  #current(slot: Slot, r: Running): RunningJob | undefined {
    return r.jobs.get(Atomics.load(slot.i32, BRIDGE.RUNNING));
  }

  /**
   * Answers the worker's host call if it made one not handled yet (its message or the poll may come
   * second); true if it did.
   */
  #hostCall(slot: Slot): boolean {
    if (Atomics.load(slot.i32, BRIDGE.STATE) !== BRIDGE.STATE_REQUEST) return false;
    const seq = Atomics.load(slot.i32, BRIDGE.SEQ);
    if (seq === slot.handledSeq) return false;
    slot.handledSeq = seq;
    this.hostCalls++;
    this.#lastBridgeActivity = performance.now();
    const r = slot.running;
    const j = r === null ? undefined : this.#current(slot, r);
    if (r === null || j === undefined || j.settled) {
      // The call was given up (deadline passed): end it at once.
      this.#answer(slot, { body: TIMEOUT_ANSWER, fatal: true });
      return true;
    }
    const fnId = slot.i32[BRIDGE.FN]!;
    const length = slot.i32[BRIDGE.LENGTH]!;
    const request = slot.buf.toString('utf8', BRIDGE.DATA_OFFSET, BRIDGE.DATA_OFFSET + length);
    r.hostSeq = seq;
    r.hostJob = j;
    const answer = j.job.hostCall(fnId, request);
    const deliver = (a: HostCallAnswer): void => {
      if (slot.running !== r || r.hostSeq !== seq || slot.dead) return;
      r.hostSeq = null;
      r.hostJob = null;
      this.#answer(slot, a);
    };
    if (answer instanceof Promise) {
      answer.then(deliver, (err: unknown) => deliver({ body: errorAnswer('INTERNAL', String(err)), fatal: false }));
    } else deliver(answer);
    return true;
  }

  #answer(slot: Slot, a: HostCallAnswer): void {
    if (a.waitMs !== undefined && a.waitMs > 0 && !a.fatal) {
      this.hostCallsThrottled++;
      slot.i32[BRIDGE.FLAGS] = BRIDGE.FLAG_WAIT;
      slot.i32[BRIDGE.LENGTH] = Math.min(MAX_WAIT_US, Math.max(1, Math.ceil(a.waitMs * 1000)));
      Atomics.store(slot.i32, BRIDGE.STATE, BRIDGE.STATE_ANSWER_SAB);
      Atomics.notify(slot.i32, BRIDGE.STATE);
      return;
    }
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

  #arm(slot: Slot, r: Running, ms: number): void {
    r.timer = setTimeout(() => this.#watchdog(slot, r), Math.max(1, Math.ceil(ms)));
  }

  /**
   * The batch's watchdog: looks at the job the worker runs now. Before its deadline it sleeps until
   * then; past it, it settles that job as `timeout` and ends the call (see the class comment); a job
   * already told to unwind and still running after the grace period costs the worker.
   */
  #watchdog(slot: Slot, r: Running): void {
    r.timer = null;
    if (slot.running !== r || slot.dead) return;
    const j = this.#current(slot, r);
    if (j === undefined) {
      // Between two calls, or the batch has not started yet: look again at the first deadline possible.
      this.#arm(slot, r, Math.min(...[...r.jobs.values()].filter((x) => !x.settled).map((x) => x.job.timeoutMs), this.#options.timeoutGraceMs, r.mixed ? this.#overrunMs : Infinity));
      return;
    }
    if (r.cancelled === j.id) {
      const more = this.#graceLeft(slot, r);
      if (more > 0) {
        this.#arm(slot, r, more);
        return;
      }
      this.#kill(slot, r.hostJob === j ? 'did not unwind after TIMEOUT' : 'call overran its timeout');
      return;
    }
    const startedAt = Number(Atomics.load(slot.i64, BRIDGE.STARTED_AT_BIG));
    const now = Date.now();
    if (r.mixed && now - startedAt >= this.#overrunMs) this.#takeBack(r, slot);
    const left = startedAt + j.job.timeoutMs - now;
    if (left > 0) {
      this.#arm(slot, r, r.mixed ? Math.min(left, Math.max(1, startedAt + this.#overrunMs - now)) : left);
      return;
    }
    this.#settle(j, { kind: 'timeout', durationMs: Date.now() - startedAt });
    r.cancelled = j.id;
    r.cancelledAt = { wallMs: performance.now(), cpuMs: this.#readCpu(slot.cpuStat) };
    if (r.hostJob === j && r.hostSeq !== null) {
      // The worker is parked in the bridge: answer TIMEOUT, which ends the call without a kill.
      r.hostSeq = null;
      this.#answer(slot, { body: TIMEOUT_ANSWER, fatal: true });
    } else {
      // Running in the plugin: ask the worker to end the call at its next kernel call (the JS engine
      // probes every few thousand polls, also inside a regex match or a long native loop); kill it
      // only if the plugin does not unwind within the grace period (a wasm loop that never calls the kernel).
      Atomics.store(slot.i32, BRIDGE.CANCEL, j.id);
      // Wakes a worker sleeping out a host-call rate (see HostCallAnswer.waitMs) to end the call now.
      Atomics.notify(slot.i32, BRIDGE.CANCEL);
    }
    this.#arm(slot, r, this.#options.timeoutGraceMs);
  }

  /**
   * How much longer a cancelled call may take to unwind. The grace period is CPU time the worker
   * thread got after the cancel, not wall-clock time: on a loaded machine a worker may not run at
   * all for longer than the grace period, and killing it then punishes an engine that would have
   * unwound at its next poll (and every innocent call queued on that worker with it). A plugin that
   * never unwinds (a wasm loop that never calls the kernel) burns the CPU and is killed after the same
   * grace of CPU; a starved one after at most {@link GRACE_WALL_FACTOR} × the grace period of wall
   * clock. Where the thread's CPU time cannot be read (not Linux), the grace period is wall clock.
   */
  #graceLeft(slot: Slot, r: Running): number {
    const at = r.cancelledAt;
    if (at === undefined || at.cpuMs === undefined) return 0;
    const cpu = this.#readCpu(slot.cpuStat);
    if (cpu === undefined) return 0;
    return unwindGraceLeft(this.#options.timeoutGraceMs, performance.now() - at.wallMs, cpu - at.cpuMs);
  }

  #readCpu(statPath: string | undefined): number | undefined {
    return (this.#options.readThreadCpu ?? threadCpuMs)(statPath);
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
      if (r.timer !== null) clearTimeout(r.timer);
      this.#finished(r);
      // The job running when the worker went is the one that took it down; the batch's others
      // (done but unreported, or not started) are innocent: they come back to be run again.
      const culprit = Atomics.load(slot.i32, BRIDGE.RUNNING);
      const durationMs = performance.now() - r.started;
      for (const j of r.jobs.values()) {
        if (j.id === culprit || this.#closing) this.#settle(j, { kind: 'crashed', message: reason, durationMs });
        else this.#settle(j, { kind: 'interrupted', message: `another call of its batch lost the worker: ${reason}`, durationMs: 0 });
      }
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
