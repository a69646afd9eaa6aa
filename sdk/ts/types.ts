/**
 * Types of the UEE plugin ABI (docs/plugin-abi.md) as plugins see them: input, entity versions,
 * host-call requests and answers. These typings are what the MCP server hands to agents.
 */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** The `extism:host/user` functions. */
export type HostFunctionName =
  | 'read_entity'
  | 'write_entity'
  | 'emit_event'
  | 'query_read_model'
  | 'update_read_model'
  | 'get_tenant_config'
  | 'call_model'
  | 'schedule_timer'
  | 'cancel_timer'
  | 'spawn_workflow'
  | 'log'
  | 'record_metric';

/** Every host function answers with this envelope. */
export type HostResponse<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

/** An event as delivered to `handle`. */
export interface PluginEvent<P extends JsonObject = JsonObject> {
  eventId: string;
  type: string;
  tenantId: string;
  entityId?: string;
  entityTypeId?: string;
  entityVersion?: number;
  payload: P;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  hop: number;
  source: string;
  experiment?: JsonObject;
}

/** One version of an entity. */
export interface EntityVersion<A extends JsonObject = JsonObject> {
  entityId: string;
  entityTypeId: string;
  tenantId: string;
  ownerId: string | null;
  version: number;
  attributes: A;
  metadata: JsonObject;
  createdAt: string;
  createdBy: string;
  causationId: string | null;
}

/** Budget knobs of the JS engine for one call (defaults apply when absent). */
export interface EngineBudget {
  /** Interrupt checks (~10k bytecode operations each) before the call is stopped with FUEL_EXHAUSTED. */
  fuel?: number;
  /** JS heap bytes on top of the snapshot before the call fails with OUT_OF_MEMORY. */
  heapBytes?: number;
}

/** Per-event context: the clock and random seed drive `Date` and `Math.random`. */
export interface PluginContext {
  now: string;
  randomSeed: string;
  tenantId: string | null;
  plugin: { id: string; name: string; version: string };
  budget?: EngineBudget;
}

/** The input of `handle`. */
export interface HandleInput<P extends JsonObject = JsonObject, S extends JsonObject = JsonObject> {
  event: PluginEvent<P>;
  entity?: EntityVersion;
  settings: S;
  context: PluginContext;
}

/** The input of `infer` (model plugins). */
export interface InferInput<I extends JsonValue = JsonValue> {
  model: string;
  input: I;
  context: PluginContext;
}

/** Request of `write_entity`. */
export interface WriteEntityRequest {
  entityId?: string;
  entityTypeId: string;
  expectedVersion?: number;
  attributes: JsonObject;
  metadata?: JsonObject;
  eventType?: string;
}
/** Answer of `write_entity`. */
export interface WriteResult {
  entityId: string;
  version: number;
}
/** Request of `emit_event`. */
export interface EmitEventRequest {
  type: string;
  entityId?: string;
  entityTypeId?: string;
  payload?: JsonObject;
}
/** Request of `query_read_model`. */
export interface QueryReadModelRequest {
  view: string;
  filter?: JsonObject;
  sort?: JsonObject;
  limit?: number;
}
/** Answer of `query_read_model`. */
export interface QueryResult<D extends JsonObject = JsonObject> {
  items: { id: string; doc: D }[];
}
/** Request of `update_read_model`. */
export type UpdateReadModelRequest =
  | { op: 'upsert'; view: string; id: string; doc: JsonObject }
  | { op: 'delete'; view: string; id: string };
/** Answer of `get_tenant_config`. */
export interface TenantConfig {
  tenant: JsonObject;
  plugin: JsonObject;
}
/** Request of `call_model`. */
export interface CallModelRequest {
  model: string;
  input: JsonValue;
}
/** Request of `schedule_timer`. */
export interface ScheduleTimerRequest {
  fireAt?: string;
  delayMs?: number;
  type: string;
  payload?: JsonObject;
  timerId?: string;
}
/** Request of `spawn_workflow`. */
export interface SpawnWorkflowRequest {
  workflow: string;
  input?: JsonObject;
}
/** Levels of `log`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
