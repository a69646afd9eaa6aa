import type { UeeError } from '../core/errors.js';
import type { EntityVersion, EventEnvelope, JsonObject } from '../core/index.js';
import type { Capability } from '../core/capabilities.js';
import type { EffectSet } from './effects.js';

/** What a plugin may consume while handling one event (`maximumResourceBudget`). */
export interface ResourceBudget {
  /** Wall-clock limit of one call, enforced by the watchdog. @default 1000 */
  timeoutMs: number;
  /**
   * Linear-memory pages (64 KiB) the module may use; also caps the bytes of Extism memory blocks
   * the plugin may allocate per event. @default 256 (16 MiB)
   */
  memoryPages: number;
  /** Host calls per event, `log` included. @default 1000 */
  hostCalls: number;
  /** `call_model` calls per event. @default 10 */
  modelCalls: number;
  /** Emitted events per event (`emit_event` and `spawn_workflow`). @default 100 */
  emits: number;
  /** JSON bytes of the output plus every buffered effect. @default 1 MiB */
  outputBytes: number;
}

/** Defaults for {@link ResourceBudget}. */
export const DEFAULT_BUDGET: ResourceBudget = {
  timeoutMs: 1000,
  memoryPages: 256,
  hostCalls: 1000,
  modelCalls: 10,
  emits: 100,
  outputBytes: 1024 * 1024,
};

/** Which export a plugin serves: `handle` for event and workflow plugins, `infer` for model plugins. */
export type PluginKind = 'event' | 'workflow' | 'model';

/** Who a plugin serves: everyone, one tenant, or one user within a tenant. */
export type TenantScope = 'global' | 'tenant' | 'user';

/** A plugin version as the execution host loads it (built by the registry from a `uee.plugin` entity). */
export interface LoadedPluginSpec {
  /** The plugin entity id (one id per version). */
  id: string;
  name: string;
  /** The plugin's version label (or its entity version). */
  version: string | number;
  kind: PluginKind;
  capabilities: readonly Capability[];
  /** Missing fields take {@link DEFAULT_BUDGET}. */
  budget?: Partial<ResourceBudget>;
  /** When non-empty, the only entity types the plugin may read or write. */
  restrictedEntityTypes?: readonly string[] | null;
  /** @default 'global' */
  tenantScope?: TenantScope;
  /** The tenant a `tenant`/`user` scoped plugin belongs to. */
  tenantId?: string | null;
  /** The user a `user` scoped plugin belongs to: it sees only that user's (and unowned) entities. */
  ownerId?: string | null;
  /** Models `call_model` may name; every model when absent. */
  models?: readonly string[] | null;
  /** The module bytes (validated, memory-capped and compiled once at load). */
  wasm: Uint8Array;
}

/** The fixed, replayable context of one (event, plugin) call. */
export interface InvocationContext {
  /** @default the event's `occurredAt` */
  now?: string;
  /** @default derived from sha256(eventId:pluginId), 32 hex chars */
  randomSeed?: string;
}

/** What the router hands the host for one event (docs/plugin-abi.md "Input"). */
export interface InvocationInput {
  event: EventEnvelope;
  /** The event's entity, when the event names one; dropped when the plugin may not read it. */
  entity?: EntityVersion | null;
  /** Per-tenant plugin settings merged over the manifest defaults. @default {} */
  settings?: JsonObject;
  context?: InvocationContext;
  /** For `model` plugins: what `infer` receives besides the context. */
  model?: { model: string; input: unknown };
  /**
   * `JSON.stringify(event)`, when the caller has it already (a bus entry's stored text,
   * `Delivery.text`): spliced into the input instead of stringifying the envelope again. The caller
   * vouches that it is exactly that text.
   */
  eventText?: string;
}

/** What one call consumed. */
export interface Usage {
  durationMs: number;
  hostCalls: number;
  modelCalls: number;
  emits: number;
  /** JSON bytes of the output plus the buffered effects. */
  outputBytes: number;
  /** Model cost spent through the gateway (its cost units). @default 0 */
  modelCost?: number;
  /** Custom metrics the plugin recorded with `record_metric` (summed per name within the call). */
  metrics?: Record<string, number>;
}

/** A line the plugin logged (through `log` or the kernel's `log_*`). */
export interface PluginLogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: JsonObject;
}

/** The outcome of {@link ExecutionHost.invoke}: effects only on success, never on failure. */
export type InvocationResult =
  | { ok: true; output: unknown; effects: EffectSet; usage: Usage; logs: PluginLogLine[]; models?: ModelCallNote[] }
  | { ok: false; error: UeeError; usage: Usage; logs: PluginLogLine[]; models?: ModelCallNote[] };

/** One `call_model` of an invocation: which model, whether it answered, how long it took (see {@link InvocationResult}). */
export interface ModelCallNote {
  model: string;
  ok: boolean;
  durationMs: number;
  /** The error code of a failed call. */
  code?: string;
}
