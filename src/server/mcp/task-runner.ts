import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger, TenantContext } from '../../core/index.js';
import { toUeeError } from '../../core/index.js';
import type { EntityStore } from '../../store/index.js';
import { TERMINAL, TaskStore, scopeKey, type TaskControls, type TaskDoc, type TaskError, type TaskStatus } from './task-store.js';

/** Options of a {@link TaskRunner}; normalised once. */
export interface TaskRunnerOptions {
  /** How long a task stays readable after its creation once it has finished. @default 3600000 (1 h) */
  ttlMs: number;
  /** The poll interval suggested to clients (`pollIntervalMs`). @default 1000 */
  pollIntervalMs: number;
  /** How often the owner looks for cancels and input responses sent to other front ends. @default 200 */
  controlPollMs: number;
  /** How often the owner records that it is alive. @default 5000 */
  heartbeatMs: number;
  /** A working task whose owner has not beaten for this long is failed. @default 30000 */
  staleAfterMs: number;
}

/** Defaults of {@link TaskRunnerOptions}. */
export const DEFAULT_TASK_OPTIONS: TaskRunnerOptions = { ttlMs: 3_600_000, pollIntervalMs: 1000, controlPollMs: 200, heartbeatMs: 5000, staleAfterMs: 30_000 };

/** What a task's work gets: its cancel signal and a way to ask the client for input. */
export interface TaskHandle {
  readonly taskId: string;
  /** Aborted by `tasks/cancel` (on any front end) and when the server shuts down. */
  readonly signal: AbortSignal;
  /** Parks the task in `input_required` until every request is answered (via `tasks/update`); resolves with the responses by key. */
  requestInput(requests: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** How a task's work ends: a tool result (even an `isError` one), or a protocol error (status `failed`). */
export type TaskOutcome = { result: CallToolResult } | { error: TaskError };

/** The SEP-2663 `DetailedTask` of `tasks/get` (without `resultType`, which the SDK stamps). */
export interface DetailedTask {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
  inputRequests?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: TaskError;
}

/** One task running in this process. */
interface Running {
  scope: TenantContext;
  doc: TaskDoc;
  abort: AbortController;
  /** Input requests waiting for answers, and the answers so far. */
  waiting?: { keys: Set<string>; got: Record<string, unknown>; done: () => void } | undefined;
  /** The owner's writes of this task, in order (a heartbeat never lands after the final state). */
  writes: Promise<void>;
  finished: boolean;
}

/** JSON-RPC code of a task lost with its process, or of an internal failure. */
const INTERNAL = -32603;

/**
 * Runs MCP tasks in this process and answers for tasks of every process on the same store.
 *
 * A task's document is written before `tools/call` answers (so `tasks/get` on any front end finds it at
 * once), then only by its owner. Cancels and input responses that arrive at another front end are
 * stored as separate request documents; the owner polls for them every `controlPollMs` while it runs
 * tasks — one read-model query per scope with running tasks — chosen over a bus message because the
 * store is already shared by every front end, survives a bus outage, and the poll costs nothing while
 * no task runs. A cancel reaches the work through its `AbortSignal` (a compile's worker thread is
 * terminated). The owner also beats every `heartbeatMs`; a task still working whose owner stopped
 * beating for `staleAfterMs` (the process died) is answered and stored as `failed`, not left running.
 */
export class TaskRunner {
  /** Identifies this process as the owner of the tasks it runs. */
  readonly processId = randomUUID();
  readonly store: TaskStore;
  readonly options: TaskRunnerOptions;
  readonly #running = new Map<string, Running>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #lastBeat = 0;
  #closed = false;

  constructor(
    store: EntityStore,
    private readonly logger: Logger,
    options: Partial<TaskRunnerOptions> = {},
  ) {
    this.store = new TaskStore(store);
    this.options = { ...DEFAULT_TASK_OPTIONS, ...options };
  }

  /** Number of tasks this process is running (tests, status). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Creates a task (durably, before returning) and runs `work` in the background. Returns the task as
   * created (status `working`).
   */
  async start(scope: TenantContext, principal: string, tool: string, work: (task: TaskHandle) => Promise<TaskOutcome>): Promise<DetailedTask> {
    const now = new Date();
    const doc: TaskDoc = {
      kind: 'task',
      taskId: randomUUID(),
      tool,
      status: 'working',
      createdAt: now.toISOString(),
      lastUpdatedAt: now.toISOString(),
      ttlMs: this.options.ttlMs,
      pollIntervalMs: this.options.pollIntervalMs,
      expiresAt: new Date(now.getTime() + this.options.ttlMs).toISOString(),
      owner: this.processId,
      heartbeatAt: now.toISOString(),
      principal,
    };
    await this.store.put(scope, doc);
    const entry: Running = { scope, doc, abort: new AbortController(), writes: Promise.resolve(), finished: false };
    this.#running.set(doc.taskId, entry);
    this.#schedule();
    void this.store.sweep(scope, now.toISOString()).catch((err: unknown) => this.logger.debug('task sweep failed', { error: toUeeError(err).message }));
    void this.#run(entry, work);
    return detailed(doc);
  }

  /** The task as `tasks/get` shows it, or undefined when unknown in this scope (or expired). */
  async get(scope: TenantContext, taskId: string): Promise<DetailedTask | undefined> {
    const doc = await this.store.get(scope, taskId);
    if (!doc) return undefined;
    const now = Date.now();
    if (TERMINAL.has(doc.status)) {
      if (Date.parse(doc.expiresAt) < now) {
        await this.store.remove(scope, taskId);
        return undefined;
      }
      return detailed(doc);
    }
    if (!this.#running.has(taskId) && now - Date.parse(doc.heartbeatAt) > this.options.staleAfterMs) {
      // The owner stopped beating: its process is gone, and the work with it.
      const lost: TaskDoc = { ...doc, status: 'failed', lastUpdatedAt: new Date(now).toISOString(), error: lostError(doc) };
      delete lost.inputRequests;
      await this.store.put(scope, lost);
      return detailed(lost);
    }
    const controls = (await this.store.controls(scope, [taskId])).get(taskId);
    const view = detailed(doc);
    if (doc.status === 'input_required' && doc.inputRequests && controls) {
      // Answers the owner has not picked up yet are already answered for the client.
      const pending = Object.fromEntries(Object.entries(doc.inputRequests).filter(([key]) => !controls.responses.has(key)));
      if (Object.keys(pending).length === 0) {
        view.status = 'working';
        delete view.inputRequests;
      } else view.inputRequests = pending;
    }
    return view;
  }

  /** Asks for a task to stop. False when the task is unknown in this scope; a finished task is left as it is. */
  async cancel(scope: TenantContext, taskId: string): Promise<boolean> {
    const local = this.#running.get(taskId);
    if (local && scopeKey(local.scope) === scopeKey(scope)) {
      local.abort.abort();
      return true;
    }
    const doc = await this.store.get(scope, taskId);
    if (!doc) return false;
    if (!TERMINAL.has(doc.status)) await this.store.requestCancel(scope, taskId);
    return true;
  }

  /** Delivers input responses. False when the task is unknown in this scope. */
  async update(scope: TenantContext, taskId: string, responses: Record<string, unknown>): Promise<boolean> {
    const doc = await this.store.get(scope, taskId);
    if (!doc) return false;
    if (doc.status !== 'input_required' || !doc.inputRequests) return true;
    const known = Object.fromEntries(Object.entries(responses).filter(([key]) => key in (doc.inputRequests ?? {})));
    if (Object.keys(known).length === 0) return true;
    await this.store.addResponses(scope, taskId, known);
    const local = this.#running.get(taskId);
    if (local) this.#deliver(local, new Map(Object.entries(known)));
    return true;
  }

  /** Stops this process's tasks (each becomes failed: the server is shutting down). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    const all = [...this.#running.values()];
    for (const entry of all) entry.abort.abort(new Error('shutdown'));
    await Promise.all(all.map((entry) => this.#finish(entry, { error: { code: INTERNAL, message: 'the server running this task shut down', data: { code: 'UNAVAILABLE', hint: 'call the tool again' } } }, true)));
  }

  async #run(entry: Running, work: (task: TaskHandle) => Promise<TaskOutcome>): Promise<void> {
    const handle: TaskHandle = {
      taskId: entry.doc.taskId,
      signal: entry.abort.signal,
      requestInput: (requests) => this.#requestInput(entry, requests),
    };
    let outcome: TaskOutcome;
    try {
      outcome = await work(handle);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown; data?: unknown };
      outcome =
        typeof e?.code === 'number'
          ? { error: { code: e.code, message: String(e.message), ...(e.data === undefined ? {} : { data: e.data }) } }
          : { error: { code: INTERNAL, message: 'internal error', data: { code: toUeeError(err).code } } };
    }
    await this.#finish(entry, outcome, false);
  }

  async #finish(entry: Running, outcome: TaskOutcome, shutdown: boolean): Promise<void> {
    if (!this.#running.delete(entry.doc.taskId)) return;
    entry.finished = true;
    await entry.writes;
    const cancelled = entry.abort.signal.aborted && !shutdown;
    const doc: TaskDoc = { ...entry.doc, lastUpdatedAt: new Date().toISOString() };
    delete doc.inputRequests;
    if (cancelled) doc.status = 'cancelled';
    else if ('result' in outcome) {
      doc.status = 'completed';
      doc.resultJson = JSON.stringify(outcome.result);
    } else {
      doc.status = 'failed';
      doc.error = outcome.error;
    }
    try {
      await this.store.put(entry.scope, doc);
    } catch (err) {
      // e.g. a result beyond the store's document limit: the task still ends, as failed.
      const error = toUeeError(err);
      this.logger.warn('task result not stored', { taskId: doc.taskId, code: error.code });
      const failed: TaskDoc = { ...doc, status: 'failed', error: { code: INTERNAL, message: 'the task result could not be stored', data: { code: error.code } } };
      delete failed.resultJson;
      await this.store.put(entry.scope, failed).catch(() => undefined);
    }
    const controls = (await this.store.controls(entry.scope, [doc.taskId]).catch(() => undefined))?.get(doc.taskId);
    await this.store.clearControls(entry.scope, doc.taskId, controls).catch(() => undefined);
    entry.waiting?.done();
  }

  async #requestInput(entry: Running, requests: Record<string, unknown>): Promise<Record<string, unknown>> {
    const got: Record<string, unknown> = {};
    const answered = new Promise<void>((resolve) => {
      entry.waiting = { keys: new Set(Object.keys(requests)), got, done: resolve };
    });
    entry.doc = { ...entry.doc, status: 'input_required', inputRequests: requests, lastUpdatedAt: new Date().toISOString() };
    await this.#write(entry);
    const onAbort = () => entry.waiting?.done();
    entry.abort.signal.addEventListener('abort', onAbort, { once: true });
    await answered;
    entry.abort.signal.removeEventListener('abort', onAbort);
    entry.waiting = undefined;
    if (!entry.abort.signal.aborted) {
      const keys = Object.keys(requests);
      entry.doc = { ...entry.doc, status: 'working', lastUpdatedAt: new Date().toISOString() };
      delete entry.doc.inputRequests;
      await this.#write(entry);
      const controls: TaskControls = { cancel: false, responses: new Map(keys.map((k) => [k, got[k]])) };
      await this.store.clearControls(entry.scope, entry.doc.taskId, controls);
    }
    return got;
  }

  /** Writes the task's current document after its earlier writes; nothing once it has finished. */
  #write(entry: Running): Promise<void> {
    const next = entry.writes.then(async () => {
      if (!entry.finished) await this.store.put(entry.scope, entry.doc);
    });
    entry.writes = next.catch(() => undefined);
    return next;
  }

  #deliver(entry: Running, responses: Map<string, unknown>): void {
    const waiting = entry.waiting;
    if (!waiting) return;
    for (const [key, value] of responses) {
      if (!waiting.keys.has(key)) continue;
      waiting.got[key] = value;
      waiting.keys.delete(key);
    }
    if (waiting.keys.size === 0) waiting.done();
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.#poll(), this.options.controlPollMs);
    this.#timer.unref();
  }

  /** One round: cancels and input responses sent elsewhere, then the heartbeat when due. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    if (this.#running.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    this.#polling = true;
    try {
      const byScope = new Map<string, Running[]>();
      for (const entry of this.#running.values()) byScope.set(scopeKey(entry.scope), [...(byScope.get(scopeKey(entry.scope)) ?? []), entry]);
      for (const entries of byScope.values()) {
        const scope = entries[0]!.scope;
        const controls = await this.store.controls(scope, entries.map((e) => e.doc.taskId));
        for (const entry of entries) {
          const c = controls.get(entry.doc.taskId);
          if (!c) continue;
          if (c.cancel) entry.abort.abort();
          else if (c.responses.size > 0) this.#deliver(entry, c.responses);
        }
      }
      if (Date.now() - this.#lastBeat >= this.options.heartbeatMs) {
        this.#lastBeat = Date.now();
        const at = new Date().toISOString();
        for (const entry of this.#running.values()) {
          entry.doc = { ...entry.doc, heartbeatAt: at };
          await this.#write(entry);
        }
      }
    } catch (err) {
      this.logger.warn('task control poll failed', { error: toUeeError(err).message });
    } finally {
      this.#polling = false;
    }
  }
}

function detailed(doc: TaskDoc): DetailedTask {
  return {
    taskId: doc.taskId,
    status: doc.status,
    ...(doc.statusMessage === undefined ? {} : { statusMessage: doc.statusMessage }),
    createdAt: doc.createdAt,
    lastUpdatedAt: doc.lastUpdatedAt,
    ttlMs: doc.ttlMs,
    pollIntervalMs: doc.pollIntervalMs,
    ...(doc.status === 'input_required' && doc.inputRequests ? { inputRequests: doc.inputRequests } : {}),
    ...(doc.status === 'completed' && doc.resultJson !== undefined ? { result: JSON.parse(doc.resultJson) as Record<string, unknown> } : {}),
    ...(doc.status === 'failed' && doc.error ? { error: doc.error } : {}),
  };
}

function lostError(doc: TaskDoc): TaskError {
  return {
    code: INTERNAL,
    message: 'the process running this task stopped before it finished',
    data: { code: 'UNAVAILABLE', hint: `call ${doc.tool} again`, lastHeartbeatAt: doc.heartbeatAt },
  };
}
