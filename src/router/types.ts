import type { EntityVersion, EventEnvelope, JsonObject, SerializedError } from '../core/index.js';
import type { PluginRecord } from '../registry/index.js';
import type { InvocationRecordDraft } from '../store/invocations.js';
import type { CommitFence } from '../store/fence.js';
import type { EffectLists } from '../experiments/index.js';

/** The input of a plugin's `handle` (docs/plugin-abi.md). */
export interface HandleInput {
  event: EventEnvelope;
  entity?: EntityVersion;
  settings: JsonObject;
  context: {
    now: string;
    randomSeed: string;
    tenantId: string | null;
    plugin: { id: string; name: string; version: number };
  };
}

/** What an invocation committed, by id (the invocation record's `effects`). */
export interface CommittedEffects {
  /** False when nothing was committed: no effects, or the idempotency key had been committed before. */
  committed: boolean;
  writes: Array<{ entityId: string; entityTypeId: string; version: number }>;
  events: Array<{ eventId: string; type: string }>;
  readModelOps: number;
  timers: number;
}

/** What the host counted during an invocation, for its record. */
export interface InvocationFacts {
  usage?: InvocationUsage;
  /** One entry per `call_model`. */
  models?: Array<{ model: string; ok: boolean; durationMs: number; code?: string }>;
  effects?: CommittedEffects;
}

/** What an invocation consumed (the host's usage), with what experiments count besides. */
export interface InvocationUsage {
  hostCalls: number;
  modelCalls: number;
  emits: number;
  outputBytes: number;
  /** Model cost spent through the gateway. */
  modelCost?: number;
  /** Custom metrics recorded with `record_metric`. */
  metrics?: Record<string, number>;
}

/** Effects of a call (writes, emitted events, read-model operations, timers), as the host buffered them. */
export type { EffectLists } from '../experiments/index.js';

/** What one invocation did: on success its effects were committed (or there were none). */
export type InvocationOutcome =
  | ({ ok: true; output: unknown; committed: boolean; durationMs: number; /** The effects as buffered (shadow diffs). */ buffered?: EffectLists } & InvocationFacts)
  | ({ ok: false; error: SerializedError; durationMs: number } & InvocationFacts);

/**
 * Where the router leaves one invocation record per attempt. `record` must not block or throw: an
 * implementation buffers and writes in batches, so recording costs the delivery path next to nothing.
 */
export interface InvocationRecorder {
  record(draft: InvocationRecordDraft): void;
}

/** What a {@link PluginInvoker.preview} did: the effects it would have committed, or its failure. */
export type PreviewOutcome =
  | { ok: true; output: unknown; effects: EffectLists; durationMs: number }
  | { ok: false; error: SerializedError; durationMs: number };

/** How the router asks for one invocation. */
export interface InvokeOptions {
  /** Effects commit under this key exactly once. */
  idempotencyKey: string;
  /**
   * Called with the number of events a successful invocation's commit would produce (one per entity
   * write, timer change and emitted event) before anything is committed; when it throws, nothing is
   * committed and the invocation fails with its error (the chain budget's `CHAIN_BUDGET_EXCEEDED`).
   */
  beforeCommit?: (events: number) => Promise<void>;
  /** The queue lease's fence the commit carries (see {@link CommitFence}): a stale holder's commit answers `FENCED`. */
  fence?: CommitFence;
  /**
   * Asked when the call leaves the runtime's queue for a worker: false drops it unrun (answered
   * `CANCELLED`, `details.reason` `not-wanted`). The router answers whether the queue holding the
   * delivery started under has certainly ended ({@link HeldFence.ended}).
   */
  wanted?: () => boolean;
  /** `JSON.stringify(input.event)` when the caller has it (the delivery's stored text, `Delivery.text`), handed to the runtime to splice in. */
  eventText?: string;
}

/**
 * Runs one plugin version on one event and commits its buffered effects atomically, keyed by the
 * idempotency key, so a redelivered event never applies them twice. The runtime implements it.
 */
export interface PluginInvoker {
  invoke(plugin: PluginRecord, input: HandleInput, options: InvokeOptions): Promise<InvocationOutcome>;
  /** Runs a version on an input with its effects captured and never committed (shadow runs). */
  preview(plugin: PluginRecord, input: HandleInput): Promise<PreviewOutcome>;
  /** Drops cached instances of versions that are gone. */
  retain(pluginIds: ReadonlySet<string>): void;
}
