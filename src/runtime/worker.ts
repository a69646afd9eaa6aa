/**
 * Runtime worker entry: runs plugins with @extism/extism in main-thread mode (inside this worker
 * thread), from modules compiled once by the main thread. Every call is synchronous here: host
 * calls that need the main thread block on the Atomics bridge. At a call's deadline the main thread
 * writes its id to `BRIDGE.CANCEL`, and the next kernel call ends it; a plugin that never calls the
 * kernel is killed with this thread by the main thread's watchdog after a short grace.
 */
import { readlinkSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import createPlugin from '@extism/extism';
import type { CallContext, Plugin } from '@extism/extism';
import { HOST_FUNCTIONS } from '../core/capabilities.js';
import { KERNEL_NAMESPACE, USER_NAMESPACE } from '../core/wasm/index.js';
import { DirectIo, DirectIoError, IO_STAGED } from './direct-io.js';
import { BRIDGE, MAX_LOG_LINE_BYTES, MAX_REQUEST_BYTES, MAX_REQUEST_DEPTH, errorAnswer, jsonDepthExceeds, okAnswer } from './protocol.js';
import { packDone } from './done-codec.js';
import type { BatchMessage, DoneMessage, FromWorker, InvokeJob, LoadMessage, ToWorker, WorkerInit } from './protocol.js';
import type { PluginLogLine } from './types.js';

if (parentPort === null) throw new Error('the runtime worker must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const i32 = new Int32Array(init.sab);
const i64 = new BigInt64Array(init.sab, 0, BRIDGE.DATA_OFFSET / 8);
const u8 = new Uint8Array(init.sab);
const dataCapacity = init.sab.byteLength - BRIDGE.DATA_OFFSET;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A gathered batch's plugin ids and instance keys (see BatchMessage.gathered): given back as written, a leading U+FEFF too. */
const idDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
const HOST_MSG: FromWorker = { t: 'host' };
/** Extism addresses carry the block index in the top 16 bits. */
const OFFSET_MASK = (1n << 48n) - 1n;
/** Extism's block index space overflows past 2^15 blocks (the "16k calls" bug); stay well under. */
const MAX_BLOCKS = 30_000;
/**
 * Idle instances this worker keeps at most, across plugins and tenants (within `init.instances.idleBytes`
 * of linear memory too): what an idle instance holds beyond its linear memory (its Extism plugin and
 * kernel, ~5.5 KiB resident for the no-op module, 2026-12-07) stays bounded whatever the byte budget.
 */
const MAX_IDLE_INSTANCES = 4096;
/** Released linear memory after which the worker collects garbage at once (wasm memories are freed only by GC). */
const COLLECT_AFTER_BYTES = 32 * 1024 * 1024;

/**
 * A collector the worker may call: linear memories are ArrayBuffers, released only when V8
 * collects them, and an idle worker may never collect on its own, so instances dropped from the
 * cache would keep their memory resident. `--expose-gc` set at run time takes effect for the new
 * context only, not for the process's existing ones.
 */
const collect: (() => void) | null = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
})();
let releasedBytes = 0;

/** Bytes of a kernel `log_*` block decoded at most (the line keeps 4096 characters): a huge block must not become a huge string. */
const KERNEL_LOG_BYTES = 16 * 1024;

/** Thrown through the plugin to end the call at once; sticky for the rest of the call. */
class CallAborted extends Error {}

interface Instance {
  plugin: Plugin;
  exports: Record<string, unknown>;
  /** Its direct I/O ({@link DirectIo}): null when the module has none; undefined until its first call. */
  io: DirectIo | null | undefined;
  key: string | null;
  uses: number;
  initialized: boolean;
  /** When it was last put back idle (performance.now()). */
  idleSince: number;
  /** Linear-memory bytes it held when it was parked idle (counted in {@link idleTotal}). */
  parkedBytes: number;
}

interface Entry {
  load: LoadMessage;
  /**
   * Its idle instances by key: at most one per tenant it last ran for, and one fresh (`null`, never
   * called). A worker runs one call at a time, so a tenant's next call finds its instance warm; a
   * global plugin's calls follow each other's tenants all the time (a lane's batch is one tenant's,
   * the next batch another's), and with a few idle instances per plugin nearly each of them started
   * a new one. What bounds them is the worker's, across plugins: {@link MAX_IDLE_INSTANCES},
   * `idleBytes` and `idleMs` (see {@link lru}).
   */
  idle: Map<string | null, Instance>;
  preparing: Promise<Instance> | null;
}

interface CallState {
  /** The invoke message's id (what the main thread writes to `BRIDGE.CANCEL` at the deadline). */
  id: number;
  entry: Entry;
  ctx: CallContext | null;
  /** The instance's direct I/O, when it has it: input, output and host calls bypass the kernel. */
  io: DirectIo | null;
  input: Uint8Array;
  inputView: DataView;
  inputAddr: bigint | null;
  outputAddr: bigint | null;
  outputLen: number;
  errorAddr: bigint | null;
  hostCalls: number;
  blocks: number;
  blockBytes: number;
  abort: { code: string; message: string; details?: Record<string, unknown> } | null;
  /** The main thread raised the abort (budget or timeout) and already knows why. */
  abortedByHost: boolean;
  logs: PluginLogLine[];
  logBytes: number;
  droppedLogs: number;
}

const plugins = new Map<string, Entry>();
let active: CallState | null = null;
let seq = 0;

function current(): CallState {
  if (active === null) throw new CallAborted('kernel call outside of a plugin call');
  return active;
}

/**
 * Ends the call when the main thread cancelled it (its deadline passed; the main thread already
 * answered TIMEOUT). Kernel calls check it, so a plugin that calls the kernel now and then — the JS
 * engine from its interrupt handler — unwinds at once instead of costing its worker.
 */
function checkCancel(st: CallState): void {
  if (Atomics.load(i32, BRIDGE.CANCEL) !== st.id) return;
  st.abortedByHost = true;
  abort(st, 'TIMEOUT', 'the call overran its deadline');
}

function abort(st: CallState, code: string, message: string, details?: Record<string, unknown>): never {
  st.abort ??= { code, message, ...(details === undefined ? {} : { details }) };
  throw new CallAborted(message);
}

function pushLog(st: CallState, level: PluginLogLine['level'], message: string, fields?: Record<string, unknown>, bytes = Math.min(message.length, 4096)): void {
  const limits = st.entry.load.limits;
  if (st.logs.length >= limits.logLines || st.logBytes + bytes > limits.logBytes) {
    st.droppedLogs++;
    return;
  }
  st.logBytes += bytes;
  st.logs.push({ level, message: message.slice(0, 4096), ...(fields === undefined ? {} : { fields }) });
}

function noteBlock(st: CallState, bytes: number): void {
  st.blocks++;
  st.blockBytes += bytes;
  if (st.blocks > MAX_BLOCKS) abort(st, 'BUDGET_EXCEEDED', `more than ${MAX_BLOCKS} memory blocks in one call`, { limit: 'memoryBlocks' });
  if (st.blockBytes > st.entry.load.limits.blockBytes) {
    abort(st, 'BUDGET_EXCEEDED', `allocated more than ${st.entry.load.limits.blockBytes} bytes of host memory`, {
      limit: 'memoryPages',
      allowedBytes: st.entry.load.limits.blockBytes,
    });
  }
}

/** Ends the call when its output is over the plugin's budget (set through the kernel or left by direct I/O alike). */
function checkOutputBytes(st: CallState, length: number): void {
  const limit = st.entry.load.limits.outputBytes;
  if (length > limit) abort(st, 'BUDGET_EXCEEDED', `output of ${length} bytes exceeds the budget of ${limit}`, { limit: 'outputBytes' });
}

function blockText(ctx: CallContext, addr: bigint, length?: number): string {
  const block = ctx.read(addr);
  if (block === null) return '';
  const bytes = block.bytes();
  return decoder.decode(length === undefined ? bytes : bytes.subarray(0, length));
}

/** Kernel functions we implement ourselves: the limits are checked where the plugin crosses over. */
const kernel = {
  alloc(ctx: CallContext, size: bigint): bigint {
    const st = current();
    if (st.abort) throw new CallAborted(st.abort.message);
    checkCancel(st);
    if (size < 0n || size > BigInt(st.entry.load.limits.blockBytes)) {
      abort(st, 'BUDGET_EXCEEDED', `allocation of ${size} bytes exceeds the memory budget`, { limit: 'memoryPages' });
    }
    noteBlock(st, Number(size));
    return ctx.alloc(size);
  },
  input_offset(ctx: CallContext): bigint {
    const st = current();
    if (st.inputAddr === null) {
      noteBlock(st, st.input.length);
      st.inputAddr = st.input.length === 0 ? ctx.alloc(0n) : ctx.store(st.input);
    }
    return st.inputAddr;
  },
  input_length(): bigint {
    const st = current();
    if (st.abort) throw new CallAborted(st.abort.message);
    checkCancel(st);
    return BigInt(st.input.length);
  },
  input_load_u8: (_ctx: CallContext, addr: bigint): number => current().inputView.getUint8(Number(addr & OFFSET_MASK)),
  input_load_u64: (_ctx: CallContext, addr: bigint): bigint => current().inputView.getBigUint64(Number(addr & OFFSET_MASK), true),
  output_set(ctx: CallContext, addr: bigint, length: bigint): void {
    const st = current();
    st.ctx = ctx;
    if (length > ctx.length(addr)) throw new RangeError('output_set: length longer than the block');
    checkOutputBytes(st, Number(length));
    st.outputAddr = addr;
    st.outputLen = Number(length);
  },
  error_set(ctx: CallContext, addr: bigint): void {
    const st = current();
    st.ctx = ctx;
    st.errorAddr = addr;
  },
  http_request: (): bigint => 0n,
  http_status_code: (): number => 0,
  log_debug: (ctx: CallContext, addr: bigint): void => pushLog(current(), 'debug', blockText(ctx, addr, KERNEL_LOG_BYTES)),
  log_info: (ctx: CallContext, addr: bigint): void => pushLog(current(), 'info', blockText(ctx, addr, KERNEL_LOG_BYTES)),
  log_warn: (ctx: CallContext, addr: bigint): void => pushLog(current(), 'warn', blockText(ctx, addr, KERNEL_LOG_BYTES)),
  log_error: (ctx: CallContext, addr: bigint): void => pushLog(current(), 'error', blockText(ctx, addr, KERNEL_LOG_BYTES)),
};

const SPIN_NS = BigInt(Math.max(0, Math.floor(init.spinUs))) * 1000n;

/** Spins until the answer is there (true), or the main thread stops polling or `init.spinUs` passed (false). */
function spinForAnswer(): boolean {
  if (SPIN_NS === 0n) return false;
  const until = process.hrtime.bigint() + SPIN_NS;
  for (let k = 1; Atomics.load(i32, BRIDGE.POLLING) === 1; k++) {
    if (Atomics.load(i32, BRIDGE.STATE) !== BRIDGE.STATE_REQUEST) return true;
    if ((k & 63) === 0 && process.hrtime.bigint() > until) return false;
  }
  return Atomics.load(i32, BRIDGE.STATE) !== BRIDGE.STATE_REQUEST;
}

/**
 * Sends a request over the bridge and blocks until the main thread answers. A call over a host-call
 * rate is not answered but told to wait (`FLAG_WAIT`): it sleeps that long — a deadline passing
 * meanwhile (`CANCEL`, notified) ends the call — and sends the request again.
 */
function bridgeCall(st: CallState, fnId: number, request: Uint8Array): { answer: Uint8Array; fatal: boolean } {
  for (;;) {
    const r = bridgeRound(fnId, request);
    if (r !== undefined) return r;
    const cancel = Atomics.load(i32, BRIDGE.CANCEL);
    checkCancel(st);
    Atomics.wait(i32, BRIDGE.CANCEL, cancel, i32[BRIDGE.LENGTH]! / 1000);
    checkCancel(st);
  }
}

/** One request and its answer; undefined when the main thread answered "wait" (see {@link bridgeCall}). */
function bridgeRound(fnId: number, request: Uint8Array): { answer: Uint8Array; fatal: boolean } | undefined {
  u8.set(request, BRIDGE.DATA_OFFSET);
  i32[BRIDGE.LENGTH] = request.length;
  i32[BRIDGE.FN] = fnId;
  i32[BRIDGE.SEQ] = ++seq;
  i32[BRIDGE.FLAGS] = 0;
  Atomics.store(i32, BRIDGE.STATE, BRIDGE.STATE_REQUEST);
  // While the main thread polls the bridge it sees the request without a message and answers within
  // microseconds unless a task of its own runs: the answer is awaited spinning for a while, as waking
  // a sleeping thread costs tens of microseconds here. A worker never sleeps on a request it has not
  // posted: one stored just as the main thread stopped polling would be seen by nobody.
  if (Atomics.load(i32, BRIDGE.POLLING) === 0 || !spinForAnswer()) port.postMessage(HOST_MSG);
  let state: number;
  while ((state = Atomics.load(i32, BRIDGE.STATE)) === BRIDGE.STATE_REQUEST) Atomics.wait(i32, BRIDGE.STATE, BRIDGE.STATE_REQUEST);
  const flags = i32[BRIDGE.FLAGS]!;
  if ((flags & BRIDGE.FLAG_WAIT) !== 0) return undefined;
  const fatal = (flags & BRIDGE.FLAG_FATAL) !== 0;
  let answer: Uint8Array;
  if (state === BRIDGE.STATE_ANSWER_SAB) {
    answer = u8.subarray(BRIDGE.DATA_OFFSET, BRIDGE.DATA_OFFSET + i32[BRIDGE.LENGTH]!);
  } else {
    const received: unknown = receiveMessageOnPort(init.overflow);
    answer = encoder.encode(overflowBody(received) ?? errorAnswer('INTERNAL', 'host answer lost'));
  }
  return { answer, fatal };
}

function overflowBody(received: unknown): string | undefined {
  const message = (received as { message?: { body?: unknown } } | undefined)?.message;
  return typeof message?.body === 'string' ? message.body : undefined;
}

/** Answers a host call: staged in the module's memory when the request came by direct I/O, else as a kernel block. */
function answerWith(ctx: CallContext, st: CallState, answer: Uint8Array | string, direct: boolean): bigint {
  const bytes = typeof answer === 'string' ? encoder.encode(answer) : answer;
  noteBlock(st, bytes.length);
  if (direct && st.io !== null) {
    st.io.stage(bytes);
    return IO_STAGED;
  }
  return ctx.store(bytes);
}

function hostFunction(name: string, fnId: number) {
  return (ctx: CallContext, addr: bigint): bigint => {
    const st = current();
    if (st.abort) throw new CallAborted(st.abort.message);
    checkCancel(st);
    if (++st.hostCalls > st.entry.load.limits.hostCalls) {
      abort(st, 'BUDGET_EXCEEDED', `more than ${st.entry.load.limits.hostCalls} host calls in one call`, { limit: 'hostCalls' });
    }
    // Offset 0 is never a kernel block: with direct I/O on, the request is in the module's memory.
    const direct = addr === 0n && st.io !== null;
    try {
      // A view of the module's memory when direct: read before the module runs again (the answer's staging).
      const request = direct ? st.io!.request() : (ctx.read(addr)?.bytes() ?? null);
      if (request === null) return answerWith(ctx, st, errorAnswer('VALIDATION_FAILED', `${name}: the request block does not exist`), direct);
      if (request.length > MAX_REQUEST_BYTES || request.length > dataCapacity) {
        return answerWith(ctx, st, errorAnswer('PAYLOAD_TOO_LARGE', `${name}: request of ${request.length} bytes exceeds ${MAX_REQUEST_BYTES}`), direct);
      }
      // Checked before anything parses, clones or stores the request, on this side of the bridge.
      if (jsonDepthExceeds(request, MAX_REQUEST_DEPTH)) {
        return answerWith(ctx, st, errorAnswer('VALIDATION_FAILED', `${name}: the request nests deeper than ${MAX_REQUEST_DEPTH} levels`), direct);
      }
      if (name === 'log') return answerWith(ctx, st, logCall(st, request), direct);
      const { answer, fatal } = bridgeCall(st, fnId, request);
      if (fatal) {
        st.abortedByHost = true;
        st.abort ??= { code: 'ABORTED', message: `${name}: the host ended the call` };
        throw new CallAborted(st.abort.message);
      }
      return answerWith(ctx, st, answer, direct);
    } catch (err) {
      if (err instanceof CallAborted || err instanceof DirectIoError) throw err;
      // A failing host function answers; it never takes the worker (or the call) down.
      return answerWith(ctx, st, errorAnswer('INTERNAL', `${name}: ${err instanceof Error ? err.message : String(err)}`), direct);
    }
  };
}

function logCall(st: CallState, request: Uint8Array): string {
  if (request.length > MAX_LOG_LINE_BYTES) {
    return errorAnswer('PAYLOAD_TOO_LARGE', `log: a line of ${request.length} bytes exceeds ${MAX_LOG_LINE_BYTES} (message and fields)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(request));
  } catch {
    return errorAnswer('VALIDATION_FAILED', 'log: the request is not JSON');
  }
  const req = parsed as { level?: unknown; message?: unknown; fields?: unknown };
  const level = req.level === 'debug' || req.level === 'warn' || req.level === 'error' ? req.level : 'info';
  if (typeof req.message !== 'string') return errorAnswer('VALIDATION_FAILED', 'log: message must be a string');
  const fields = typeof req.fields === 'object' && req.fields !== null && !Array.isArray(req.fields) ? (req.fields as Record<string, unknown>) : undefined;
  pushLog(st, level, req.message, fields, request.length);
  return okAnswer({});
}

const silentConsole = { log() {}, info() {}, debug() {}, warn() {}, error() {}, trace() {} } as unknown as Console;

async function instantiate(load: LoadMessage): Promise<Instance> {
  const user: Record<string, (ctx: CallContext, addr: bigint) => bigint> = {};
  for (const name of load.granted) user[name] = hostFunction(name, HOST_FUNCTIONS.indexOf(name as (typeof HOST_FUNCTIONS)[number]));
  const plugin = await createPlugin(load.module, {
    useWasi: false,
    logger: silentConsole,
    functions: { [KERNEL_NAMESPACE]: kernel, [USER_NAMESPACE]: user },
  });
  const instance = (await plugin.getInstance()) as unknown as { exports: Record<string, unknown> };
  return { plugin, exports: instance.exports, io: undefined, key: null, uses: 0, initialized: false, idleSince: performance.now(), parkedBytes: 0 };
}

function prepareSpare(entry: Entry): Promise<Instance> {
  const p = instantiate(entry.load);
  entry.preparing = p;
  void p.then(
    (inst) => {
      if (entry.preparing === p) entry.preparing = null;
      if (plugins.get(entry.load.pluginId) === entry) park(entry, inst);
    },
    () => {
      if (entry.preparing === p) entry.preparing = null;
    },
  );
  return p;
}

async function acquire(entry: Entry, key: string): Promise<{ inst: Instance; us: number }> {
  const idle = entry.idle.get(key) ?? entry.idle.get(null);
  if (idle !== undefined) return { inst: unpark(entry, idle), us: 0 };
  if (entry.preparing !== null) {
    await entry.preparing.catch(() => undefined);
    return acquire(entry, key);
  }
  const t0 = performance.now();
  const inst = await instantiate(entry.load);
  return { inst, us: Math.round((performance.now() - t0) * 1000) };
}

function release(entry: Entry, inst: Instance, reusable: boolean): void {
  if (plugins.get(entry.load.pluginId) !== entry) {
    drop(inst);
    maybeCollect();
    return;
  }
  if (reusable && inst.uses < entry.load.eventsPerInstance) {
    // reset() truncates Extism's block list, so its index space never overflows between calls.
    void inst.plugin.reset();
    park(entry, inst);
    return;
  }
  drop(inst);
  maybeCollect();
  if (!entry.idle.has(null) && entry.preparing === null) {
    // Prepare the next fresh instance while idle, off the next call's critical path.
    setImmediate(() => {
      if (plugins.get(entry.load.pluginId) === entry && !entry.idle.has(null) && entry.preparing === null) void prepareSpare(entry);
    });
  }
}

/** Linear-memory bytes an instance holds. */
function instanceBytes(inst: Instance): number {
  // A WebAssembly.Memory (the project's lib declares no WebAssembly values, hence the shape check).
  const buffer = (inst.exports.memory as { buffer?: unknown } | undefined)?.buffer;
  return buffer instanceof ArrayBuffer ? buffer.byteLength : 0;
}

function drop(inst: Instance): void {
  releasedBytes += instanceBytes(inst);
  void inst.plugin.close().catch(() => undefined);
}

/** Collects once enough instance memory was dropped that keeping it resident would matter. */
function maybeCollect(): void {
  if (releasedBytes < COLLECT_AFTER_BYTES || collect === null) return;
  releasedBytes = 0;
  // After the current turn: the dropped instances may still be referenced by the caller's frame.
  setImmediate(() => collect());
}

/**
 * Linear-memory bytes of every idle instance in this worker, kept up to date as instances are parked
 * and taken, so a call's release checks the budget in O(1) — walking every plugin's idle instances
 * on each call made a call's cost grow with the number of plugins loaded (1,000 tenants' plugins).
 */
let idleTotal = 0;

/**
 * Every idle instance of this worker with its plugin, least recently parked first (a Map keeps
 * insertion order): the budget and the idle time release from the front, so keeping many idle
 * instances costs a release nothing but the ones it lets go.
 */
const lru = new Map<Instance, Entry>();

/** One holder's idle instances — a tenant's (the instance key); fresh ones, never called, are the `null` holder's — least recently parked first. */
interface Holder {
  bytes: number;
  lru: Map<Instance, Entry>;
}
const holders = new Map<string | null, Holder>();
/** The holder that held the most idle bytes when it last parked: the first asked to make room when over its share (see {@link makeRoom}). */
let largest: Holder | undefined;

/**
 * Parks `inst` idle under its key (replacing an older one of that key), then keeps the worker within
 * its limits. An instance larger than the whole byte budget is released instead: parked, it would
 * push every other plugin's and tenant's idle instance out before going itself.
 */
function park(entry: Entry, inst: Instance): void {
  const bytes = instanceBytes(inst);
  if (bytes > init.instances.idleBytes) {
    drop(inst);
    maybeCollect();
    return;
  }
  const older = entry.idle.get(inst.key);
  if (older !== undefined) drop(unpark(entry, older));
  inst.parkedBytes = bytes;
  inst.idleSince = performance.now();
  idleTotal += inst.parkedBytes;
  entry.idle.set(inst.key, inst);
  lru.set(inst, entry);
  let holder = holders.get(inst.key);
  if (holder === undefined) holders.set(inst.key, (holder = { bytes: 0, lru: new Map() }));
  holder.bytes += bytes;
  holder.lru.set(inst, entry);
  if (largest === undefined || holder.bytes >= largest.bytes) largest = holder;
  if (overBudget()) makeRoom(holder);
}

function overBudget(): boolean {
  return idleTotal > init.instances.idleBytes || lru.size > MAX_IDLE_INSTANCES;
}

/**
 * Whether a holder keeps more than its part of the budget, shared evenly by the holders with idle
 * instances. One instance is never past it: with the budget full of one instance per tenant, a
 * tenant new to the worker would otherwise give up its only one at once, on every call, while the
 * others' stayed however long unused.
 */
function overShare(holder: Holder): boolean {
  const n = holders.size;
  return holder.lru.size > 1 && (holder.bytes > init.instances.idleBytes / n || holder.lru.size > MAX_IDLE_INSTANCES / n);
}

/**
 * Back within the budget after `parker` parked: the idle instances of a holder past its share go
 * first, its least recently used first — the parker's own, else the largest holder's — and only then
 * the worker's least recently used. With one LRU for all, a tenant cycling through many plugins (or
 * a few large instances) pushed every other tenant's warm instances out, and each of their calls
 * started an instance again.
 */
function makeRoom(parker: Holder): void {
  let released = false;
  while (overBudget()) {
    const from = overShare(parker) ? parker.lru : largest !== undefined && overShare(largest) ? largest.lru : lru;
    const victim = from.entries().next().value;
    if (victim === undefined) break;
    drop(unpark(victim[1], victim[0]));
    released = true;
  }
  if (released) maybeCollect();
}

/** Takes `inst` out of its plugin's idle instances (and the worker's accounts of them). */
function unpark(entry: Entry, inst: Instance): Instance {
  if (entry.idle.get(inst.key) === inst) entry.idle.delete(inst.key);
  lru.delete(inst);
  const holder = holders.get(inst.key);
  if (holder?.lru.delete(inst)) {
    holder.bytes -= inst.parkedBytes;
    if (holder.lru.size === 0) {
      holders.delete(inst.key);
      if (largest === holder) largest = undefined;
    }
  }
  idleTotal -= inst.parkedBytes;
  inst.parkedBytes = 0;
  return inst;
}

/** Releases every idle instance of a plugin (disabled, or loaded again). */
function dropIdle(entry: Entry): void {
  for (const inst of [...entry.idle.values()]) drop(unpark(entry, inst));
}

/** Releases the instances idle longer than `idleMs`, so memory follows use, not history. Walks only what it releases. */
function trimIdle(now = performance.now()): void {
  let released = false;
  for (const [inst, entry] of lru) {
    if (now - inst.idleSince < init.instances.idleMs) break;
    drop(unpark(entry, inst));
    released = true;
  }
  if (released) maybeCollect();
}

setInterval(() => trimIdle(), Math.max(100, Math.min(init.instances.idleMs, 5000))).unref();

async function invoke(msg: InvokeJob): Promise<DoneMessage> {
  const entry = plugins.get(msg.pluginId);
  const base = { id: msg.id, outputBytes: 0, hostCalls: 0, logs: [], droppedLogs: 0, instantiateUs: 0, durationMs: 0 };
  if (entry === undefined) return { ...base, status: 'aborted', abort: { code: 'NOT_FOUND', message: `plugin ${msg.pluginId} is not loaded in this worker` } };
  const input = msg.input;
  const st: CallState = {
    id: msg.id,
    entry,
    ctx: null,
    io: null,
    input,
    inputView: new DataView(input.buffer, input.byteOffset, input.byteLength),
    inputAddr: null,
    outputAddr: null,
    outputLen: 0,
    errorAddr: null,
    hostCalls: 0,
    blocks: 0,
    blockBytes: 0,
    abort: null,
    abortedByHost: false,
    logs: [],
    logBytes: 0,
    droppedLogs: 0,
  };
  let acquired: { inst: Instance; us: number };
  try {
    acquired = await acquire(entry, msg.instanceKey);
  } catch (err) {
    return { ...base, status: 'trap', text: `instantiation failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  const { inst } = acquired;
  inst.key = msg.instanceKey;
  inst.uses++;
  let rc = 0;
  let thrown: unknown = null;
  let direct: ReturnType<DirectIo['result']> = null;
  active = st;
  try {
    const init = inst.exports._initialize;
    if (!inst.initialized && typeof init === 'function') (init as () => void)();
    inst.initialized = true;
    if (inst.io === undefined) {
      inst.io = DirectIo.of(inst.exports);
      inst.io?.enable();
    }
    st.io = inst.io;
    // Direct I/O: the input is copied into the module's memory (else it reads it through the kernel).
    st.io?.stage(st.input);
    const fn = inst.exports[entry.load.entry] as () => unknown;
    rc = Number(fn());
    if (st.io !== null) {
      direct = st.io.result();
      if (direct?.kind === 'output') checkOutputBytes(st, direct.bytes.length);
    }
  } catch (err) {
    thrown = err;
  } finally {
    active = null;
  }
  // Every field in one literal, in one order (JSON leaves the undefined ones out). Built as a spread
  // of `base` overriding some of its fields, with optional ones added after, that literal and the
  // stores after it cost a call ~4 µs more (the JS no-op's worker time 18.5–20.5 → 15.7–16.1 µs in
  // paired scratch runs, 2026-12-04; in a micro-run alone the spread's object stays in fast mode,
  // so why it was slow here is not pinned down).
  const done: DoneMessage = {
    id: msg.id,
    status: 'ok',
    rc: undefined,
    text: undefined,
    outputBytes: 0,
    abort: undefined,
    hostCalls: st.hostCalls,
    logs: st.logs,
    droppedLogs: st.droppedLogs,
    instantiateUs: acquired.us,
    durationMs: 0,
    directIo: st.io !== null ? true : undefined,
  };
  if (st.abort !== null) {
    done.status = 'aborted';
    if (!st.abortedByHost) done.abort = st.abort;
  } else if (thrown !== null) {
    done.status = 'trap';
    done.text = thrown instanceof Error ? thrown.message : typeof thrown === 'string' ? thrown : 'non-Error exception';
  } else if (rc !== 0 || st.errorAddr !== null || direct?.kind === 'error') {
    done.status = 'error';
    done.rc = rc;
    const text = direct?.kind === 'error' ? decoder.decode(direct.bytes) : st.ctx !== null && st.errorAddr !== null ? blockText(st.ctx, st.errorAddr) : '';
    done.text = text.slice(0, 64 * 1024);
  } else if (direct?.kind === 'output') {
    done.text = decoder.decode(direct.bytes);
    done.outputBytes = direct.bytes.length;
  } else if (st.ctx !== null && st.outputAddr !== null) {
    done.text = blockText(st.ctx, st.outputAddr, st.outputLen);
    done.outputBytes = st.outputLen;
  }
  release(entry, inst, done.status === 'ok');
  return done;
}

function onLoad(msg: LoadMessage): void {
  const loaded = plugins.get(msg.pluginId);
  if (loaded !== undefined) dropIdle(loaded);
  plugins.set(msg.pluginId, { load: msg, idle: new Map(), preparing: null });
}

port.on('message', (msg: ToWorker) => {
  switch (msg.t) {
    case 'load':
      onLoad(msg);
      break;
    case 'unload': {
      const entry = plugins.get(msg.pluginId);
      plugins.delete(msg.pluginId);
      // A disabled plugin's instances give their memory back now, not at some later collection.
      if (entry !== undefined) dropIdle(entry);
      if (entry?.preparing) void entry.preparing.then(drop, () => undefined);
      maybeCollect();
      break;
    }
    case 'batch':
      // Messages are handled one at a time only while nothing awaits: chain the batches so two
      // never interleave (the main thread sends the next only after this one's results anyway).
      batches = batches.then(() => runBatch(msg));
      break;
  }
});

let batches: Promise<void> = Promise.resolve();

/**
 * Runs a batch's calls in order and answers once with every result. Before each call its id and
 * start time go to the bridge header (`RUNNING`, `STARTED_AT_BIG`): the main thread attributes host
 * calls to it and its one watchdog per batch measures each call's own deadline from there.
 */
async function runBatch(msg: BatchMessage): Promise<void> {
  const done: DoneMessage[] = [];
  const { ids, ends, gathered } = msg;
  const calls = ids.length;
  /** The `i`-th part of the batch's buffer: call `i`'s input, or (gathered) a plugin id or instance key after the inputs. */
  const part = (i: number): Uint8Array => msg.input.subarray(i === 0 ? 0 : ends[i - 1], ends[i]);
  const text = (i: number): string => idDecoder.decode(part(i));
  let claimed = 0;
  for (let k = 0; k < calls; k++) {
    const input = part(k);
    const id = ids[k]!;
    if (gathered) {
      // The main thread took the calls not started back (the one before overran): end the batch here.
      if (Atomics.compareExchange(i32, BRIDGE.CLAIM, claimed, id) !== claimed) break;
      claimed = id;
    }
    const job: InvokeJob = gathered ? { id, pluginId: text(calls + 2 * k), input, instanceKey: text(calls + 2 * k + 1) } : { id, pluginId: msg.pluginId, input, instanceKey: msg.instanceKey };
    const t0 = performance.now();
    Atomics.store(i64, BRIDGE.STARTED_AT_BIG, BigInt(Date.now()));
    Atomics.store(i32, BRIDGE.RUNNING, job.id);
    let d: DoneMessage;
    try {
      d = await invoke(job);
    } catch (err) {
      d = {
        id: job.id,
        status: 'aborted',
        abort: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) },
        outputBytes: 0,
        hostCalls: 0,
        logs: [],
        droppedLogs: 0,
        instantiateUs: 0,
        durationMs: 0,
      };
    }
    d.durationMs = performance.now() - t0;
    done.push(d);
  }
  Atomics.store(i32, BRIDGE.RUNNING, 0);
  const { message, transfer } = packDone(done);
  port.postMessage(message, transfer);
}

/** This thread's CPU-time file, so the watchdog's grace period counts the CPU the plugin got to unwind. */
function cpuStatPath(): string | undefined {
  try {
    return `/proc/${readlinkSync('/proc/thread-self')}/stat`;
  } catch {
    return undefined; // not Linux: the grace period is wall-clock time only
  }
}

const cpuStat = cpuStatPath();
port.postMessage({ t: 'ready', ...(cpuStat === undefined ? {} : { cpuStat }) } satisfies FromWorker);
