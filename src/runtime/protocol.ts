import type { MessagePort } from 'node:worker_threads';
import type { PluginLogLine } from './types.js';

/**
 * The wire between the main thread and a runtime worker: structured-clone messages for control
 * (load, a batch of calls, the batch's results) and, for host calls, the "Atomics bridge": the worker writes the request
 * into a SharedArrayBuffer, rings the main thread with a tiny message and blocks in `Atomics.wait`
 * until the main thread has written the answer and notified it.
 */

/** Bridge header slots (Int32 indexes). */
export const BRIDGE = {
  /** One of the `STATE_*` values. */
  STATE: 0,
  /** Byte length of the payload in the data region. */
  LENGTH: 1,
  /** Index of the host function in `HOST_FUNCTIONS`. */
  FN: 2,
  /** Sequence number of the request, echoed by the answer. */
  SEQ: 3,
  /** Answer flags (`FLAG_FATAL`, `FLAG_WAIT`). */
  FLAGS: 4,
  /**
   * Id of a call whose deadline passed (written by the main thread): the worker ends that call at its
   * next kernel call (the JS engine probes with `input_length` from its interrupt handler).
   */
  CANCEL: 5,
  /**
   * Id of the call of a batch the worker is running now (0 between calls): host calls and the
   * batch's one watchdog are attributed to it without a message per call.
   */
  RUNNING: 6,
  /**
   * A batch of several shares' calls ({@link BatchMessage.pluginIds}): the id of the last call the
   * worker started (0 before the first; reset by the main thread before it sends the batch). The
   * worker moves it from the previous call's id to the next one's with a compare-and-exchange
   * before starting each call; the main thread takes the calls not started yet back by moving it
   * from the running call's id to -1, so exactly one side gets each call (the worker then ends the
   * batch after the call it runs).
   */
  CLAIM: 7,
  /** BigInt64 index (bytes 32-39) of when the RUNNING call started, `Date.now()` in ms. */
  STARTED_AT_BIG: 4,
  /**
   * 1 while the main thread polls this bridge between its tasks (see `PoolOptions.hostCallSpin`): a
   * request then needs no message, and the worker spins a little for the answer before it sleeps.
   * A worker that stops spinning without its answer (the main thread cleared this, or its spin time
   * passed) posts the request's message before it sleeps, so no request waits on a poll that ended.
   */
  POLLING: 10,
  /** Where the payload bytes start. */
  DATA_OFFSET: 64,
  STATE_IDLE: 0,
  STATE_REQUEST: 1,
  STATE_ANSWER_SAB: 2,
  /** The answer did not fit: it waits on the overflow port (`receiveMessageOnPort`). */
  STATE_ANSWER_PORT: 3,
  /** The answer ends the call (budget breach or timeout): the worker aborts the plugin. */
  FLAG_FATAL: 1,
  /**
   * Not an answer: the call is over a host-call rate. `LENGTH` holds how many µs the worker sleeps
   * (woken early by a `CANCEL` at its deadline) before it sends the same request again.
   */
  FLAG_WAIT: 2,
} as const;

/** Largest host-call request, in bytes; larger requests are answered `PAYLOAD_TOO_LARGE`. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Deepest nesting of arrays/objects a host-call request may have. Deeper JSON is refused where the
 * call crosses into the host (before anything parses, clones or logs it): recursive code on either
 * side of the bridge would otherwise overflow its stack and take the thread down.
 */
export const MAX_REQUEST_DEPTH = 64;

/** Largest `log` request, in bytes (message and fields); larger lines are answered `PAYLOAD_TOO_LARGE`. */
export const MAX_LOG_LINE_BYTES = 16 * 1024;

/**
 * Whether a JSON text nests arrays/objects deeper than `limit`. A byte scan that never recurses and
 * stops at the first level past the limit, so it is safe on any input, valid JSON or not.
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > limit) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/** Per-plugin limits the worker enforces without asking the main thread. */
export interface WorkerLimits {
  hostCalls: number;
  outputBytes: number;
  /** Bytes of Extism memory blocks the plugin may allocate per event. */
  blockBytes: number;
  /** Log lines kept per event; later lines are dropped and counted. */
  logLines: number;
  /** Log bytes (messages and fields) kept per event; later lines are dropped and counted. */
  logBytes: number;
}

/** Main → worker: make a compiled module available under a plugin id. */
export interface LoadMessage {
  t: 'load';
  pluginId: string;
  module: WebAssembly.Module;
  /** The export to call: `handle` or `infer`. */
  entry: string;
  /** Host functions linked into the instance (exactly the granted ones). */
  granted: string[];
  limits: WorkerLimits;
  /** Events one instance may serve before it is replaced (1 = a fresh instance per event). */
  eventsPerInstance: number;
}

/** Main → worker: forget a plugin. */
export interface UnloadMessage {
  t: 'unload';
  pluginId: string;
}

/** One call of a {@link BatchMessage}, as the worker runs it. */
export interface InvokeJob {
  id: number;
  pluginId: string;
  /** The JSON input, UTF-8 (a view into its batch's {@link BatchMessage.input}). */
  input: Uint8Array;
  /** Instances are only reused between calls with the same key (the tenant), never across. */
  instanceKey: string;
}

/**
 * Main → worker: run these calls one after another (one message and one watchdog per batch, not per
 * call). Each call is independent: a trap, budget breach or timeout ends that call only, and the
 * worker goes on with the next; the results come back together in one {@link BatchDoneMessage}.
 */
export interface BatchMessage {
  t: 'batch';
  /** The plugin and instance key of every call (of the first call when `pluginIds` is given). */
  pluginId: string;
  instanceKey: string;
  /**
   * The calls as parallel arrays of primitives, not an object per call: the structured clone of an
   * object per call cost the main thread a few µs per call. Their JSON inputs are UTF-8 in ONE buffer,
   * moved to the worker (in the transfer list), call k's bytes ending at `ends[k]` (from the previous
   * call's end): a clone of each input string cost the main thread more than writing it into the
   * buffer, and the worker encoded each string again before the call anyway.
   */
  ids: number[];
  input: Uint8Array<ArrayBuffer>;
  ends: number[];
  /**
   * A batch gathering calls of several plugins or instance keys (several tenants' queues): `input`
   * holds after the calls' inputs each call's plugin id and instance key (UTF-8, in call order, their
   * ends in `ends` after the inputs': a structured clone of two strings per call cost the main thread
   * ~1 µs per call), and the worker claims each call through `BRIDGE.CLAIM` before it starts it, so
   * the main thread can take back the calls behind one that overruns.
   */
  gathered: boolean;
}

/** Main → worker. */
export type ToWorker = LoadMessage | UnloadMessage | BatchMessage;

/** How a call ended inside the worker. */
export type DoneStatus = 'ok' | 'error' | 'trap' | 'aborted';

/** How one call of a batch finished. */
export interface DoneMessage {
  id: number;
  status: DoneStatus;
  /** The export's return value (`ok`/`error`). */
  rc?: number;
  /** Output text (`ok`), the plugin's error text (`error`), or the trap message (`trap`). */
  text?: string;
  outputBytes: number;
  /** For `aborted`: the error the worker raised itself (budget), when the main thread did not. */
  abort?: { code: string; message: string; details?: Record<string, unknown> };
  hostCalls: number;
  logs: PluginLogLine[];
  droppedLogs: number;
  /** Microseconds spent creating the instance for this call (0 when one was reused or prepared). */
  instantiateUs: number;
  /** Wall-clock milliseconds the call took inside the worker. */
  durationMs: number;
  /** The call's input, output and host calls crossed by direct I/O (src/runtime/direct-io.ts), not the Extism kernel. */
  directIo?: true;
}

/**
 * Worker → main: every call of a batch finished (in the batch's order), packed by `packDone`
 * (src/runtime/done-codec.ts) and read back by `unpackDone`: each call's numbers in one moved
 * `Float64Array`, its text in an array of strings, its logs and abort (rare) as JSON text. The
 * structured clone of an object per call cost the main thread 4–9 µs a call (v8 serializer, under
 * load); the JSON text of them all ~0.7 µs a call to parse (2026-12-05, a micro-run of 64 no-op
 * results: 0.68–0.79 µs against 0.04–0.05 reading the numbers).
 */
export interface BatchDoneMessage {
  t: 'done';
  /** Per call `DONE_STRIDE` numbers (see done-codec.ts); its buffer is transferred, not copied. */
  numbers: Float64Array;
  /** Per call its text, `undefined` for none; absent when no call has one. */
  texts?: Array<string | undefined>;
  /** JSON text of `[index, { logs?, abort? }]` pairs for the calls with logs or an abort; absent when none has. */
  rare?: string;
}

/** Worker → main: a host call waits in the bridge. */
export interface HostCallMessage {
  t: 'host';
}

/** Worker → main: the worker is ready for work. */
export interface ReadyMessage {
  t: 'ready';
  /** Where the main thread reads this worker thread's CPU time (`/proc/<pid>/task/<tid>/stat`; Linux only). */
  cpuStat?: string;
}

/** Worker → main. */
export type FromWorker = BatchDoneMessage | HostCallMessage | ReadyMessage;

/** How a worker keeps idle plugin instances (see `ExecutionHostOptions.instances`). */
export interface InstanceCacheLimits {
  /** Bytes of linear memory idle instances may hold in one worker; least recently used go first. */
  idleBytes: number;
  /** Idle instances unused this long are released. */
  idleMs: number;
}

/** Data every worker starts with. */
export interface WorkerInit {
  sab: SharedArrayBuffer;
  overflow: MessagePort;
  instances: InstanceCacheLimits;
  /** How long (µs) a host call spins for its answer while the main thread polls, before it sleeps (0: never). */
  spinUs: number;
}

/** A host-function answer as JSON text. */
export function okAnswer(value: unknown): string {
  return `{"ok":true,"value":${JSON.stringify(value ?? null)}}`;
}

/** A host-function error answer as JSON text. */
export function errorAnswer(code: string, message: string): string {
  return JSON.stringify({ ok: false, error: { code, message } });
}
