/**
 * `uee:plugin` — the UEE plugin SDK for TypeScript/JavaScript plugins compiled by `compileJs`.
 *
 * Host functions are synchronous (the host answers before the call returns); each one returns its
 * `value` and throws {@link HostError} when the host answers `ok: false` (a denied capability, a
 * version conflict, …), so an uncaught failure ends the event with that error's code. Use
 * {@link hostCall} to inspect a raw answer instead. Module top-level code runs once at compile
 * time: call host functions only inside handlers. See docs/sdk.md and docs/plugin-abi.md.
 */
import type {
  CallModelRequest,
  EmitEventRequest,
  EntityVersion,
  HandleInput,
  HostFunctionName,
  HostResponse,
  JsonObject,
  JsonValue,
  LogLevel,
  QueryReadModelRequest,
  QueryResult,
  ScheduleTimerRequest,
  SpawnWorkflowRequest,
  TenantConfig,
  UpdateReadModelRequest,
  WriteEntityRequest,
  WriteResult,
} from './types.js';

export type * from './types.js';

type HostObject = Record<HostFunctionName, (request: unknown) => HostResponse<unknown>>;
interface Registry {
  handle?: (input: HandleInput) => unknown;
  events: Record<string, (input: HandleInput) => unknown>;
}
declare const Host: HostObject;
const registry = (): Registry => (globalThis as unknown as { __uee: Registry }).__uee;

/** A failure a plugin reports: `code` reaches the runtime as `details.pluginCode` of `PLUGIN_ERROR`. */
export class PluginError extends Error {
  override name = 'PluginError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The host answered `ok: false`; `code` is the host's error code (e.g. `CAPABILITY_DENIED`). */
export class HostError extends PluginError {
  override name = 'HostError';
  constructor(
    code: string,
    message: string,
    readonly fn: HostFunctionName,
  ) {
    super(code, message);
  }
}

/**
 * Calls a host function by name and returns its raw answer without throwing. Naming functions
 * dynamically links every host function into the module (and so requires every capability); the
 * typed functions below link only what they use.
 */
export function hostCall<T = JsonValue>(fn: HostFunctionName, request: object): HostResponse<T> {
  return Host[fn](request) as HostResponse<T>;
}

// Every function below names its host function statically (`Host.read_entity`): the compiler keeps
// exactly the imports the bundle names, so the deploy-time capability check sees only what is used.
function unwrap<T>(fn: HostFunctionName, res: HostResponse<unknown>): T {
  if (res.ok) return res.value as T;
  throw new HostError(res.error.code, res.error.message, fn);
}

/** Reads an entity version (latest unless `version` is given); `null` when it is not visible. */
export function readEntity<A extends JsonObject = JsonObject>(entityId: string, version?: number): EntityVersion<A> | null {
  return unwrap('read_entity', Host.read_entity(version === undefined ? { entityId } : { entityId, version }));
}

/** Creates (no `entityId`) or updates an entity; buffered until the handler returns successfully. */
export function writeEntity(request: WriteEntityRequest): WriteResult {
  return unwrap('write_entity', Host.write_entity(request));
}

/** Emits a domain event (buffered). */
export function emitEvent(request: EmitEventRequest): { eventId: string } {
  return unwrap('emit_event', Host.emit_event(request));
}

/** Queries a read model view. */
export function queryReadModel<D extends JsonObject = JsonObject>(request: QueryReadModelRequest): QueryResult<D> {
  return unwrap('query_read_model', Host.query_read_model(request));
}

/** Upserts or deletes one read model document (buffered). */
export function updateReadModel(request: UpdateReadModelRequest): Record<string, never> {
  return unwrap('update_read_model', Host.update_read_model(request));
}

/** The tenant's config and this plugin's settings. */
export function getTenantConfig(): TenantConfig {
  return unwrap('get_tenant_config', Host.get_tenant_config({}));
}

/** Invokes a model plugin or provider model; returns its JSON output. */
export function callModel<T = JsonValue>(request: CallModelRequest): T {
  return unwrap('call_model', Host.call_model(request));
}

/** Schedules a timer event (buffered); give `fireAt` (ISO) or `delayMs`. */
export function scheduleTimer(request: ScheduleTimerRequest): { timerId: string } {
  return unwrap('schedule_timer', Host.schedule_timer(request));
}

/** Cancels a timer (buffered). */
export function cancelTimer(timerId: string): Record<string, never> {
  return unwrap('cancel_timer', Host.cancel_timer({ timerId }));
}

/** Starts a workflow (buffered `WorkflowSpawned` event). */
export function spawnWorkflow(request: SpawnWorkflowRequest): { eventId: string } {
  return unwrap('spawn_workflow', Host.spawn_workflow(request));
}

/**
 * Records a custom metric for this invocation (always allowed, no capability): values of the same
 * name are summed per call and reported with the plugin's metrics (`plugin_metrics`, experiments).
 * `name` is a letter then up to 63 letters, digits, `_`, `-`, `.`; built-in names (latencyMs, …) are refused.
 */
export function recordMetric(name: string, value: number): void {
  unwrap('record_metric', Host.record_metric({ name, value }));
}

/** Writes a structured log line (always allowed, rate-limited by the host). Never throws. */
export function log(level: LogLevel, message: string, fields?: JsonObject): void {
  Host.log(fields === undefined ? { level, message } : { level, message, fields });
}

/** A handler for one event type; may be async (await host-call results and promise chains only). */
export type Handler<P extends JsonObject = JsonObject, S extends JsonObject = JsonObject> = (
  input: HandleInput<P, S>,
) => unknown;

/** Declares the handler of an event type (`'*'` handles every type without its own handler). */
export function on<P extends JsonObject = JsonObject, S extends JsonObject = JsonObject>(type: string, handler: Handler<P, S>): void {
  registry().events[type] = handler as (input: HandleInput) => unknown;
}

/** Declares several handlers at once: `handlers({ TaskCreated: fn, TaskUpdated: fn })`. */
export function handlers(map: Record<string, Handler>): void {
  for (const [type, fn] of Object.entries(map)) on(type, fn);
}
