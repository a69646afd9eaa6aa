// uee-plugin — the UEE plugin SDK for AssemblyScript (compiled by compileAssemblyScript).
// Same host functions, names and JSON shapes as the TypeScript SDK (docs/sdk.md); AssemblyScript has
// no exceptions, so host calls return a HostResult and handlers report failures with fail().
import { Host, Memory } from "@extism/as-pdk";
import { Value, parse, quote } from "./json";

export { Value, Kind, parse } from "./json";

@external("extism:host/user", "read_entity") declare function read_entity(req: u64): u64;
@external("extism:host/user", "write_entity") declare function write_entity(req: u64): u64;
@external("extism:host/user", "emit_event") declare function emit_event(req: u64): u64;
@external("extism:host/user", "query_read_model") declare function query_read_model(req: u64): u64;
@external("extism:host/user", "update_read_model") declare function update_read_model(req: u64): u64;
@external("extism:host/user", "get_tenant_config") declare function get_tenant_config(req: u64): u64;
@external("extism:host/user", "call_model") declare function call_model(req: u64): u64;
@external("extism:host/user", "schedule_timer") declare function schedule_timer(req: u64): u64;
@external("extism:host/user", "cancel_timer") declare function cancel_timer(req: u64): u64;
@external("extism:host/user", "spawn_workflow") declare function spawn_workflow(req: u64): u64;
@external("extism:host/user", "log") declare function log_(req: u64): u64;
@external("extism:host/user", "record_metric") declare function record_metric(req: u64): u64;
@external("extism:host/env", "error_set") declare function error_set(offset: u64): void;
@external("extism:host/env", "length") declare function extism_length(offset: u64): u64;

/** A host answer: `ok` with `value`, or `code`/`message` of the host's error. */
export class HostResult {
  ok: bool = false;
  value: Value = Value.null();
  code: string = "";
  message: string = "";
}

function request(v: Value): u64 {
  const bytes = Uint8Array.wrap(String.UTF8.encode(v.stringify()));
  return Memory.allocateBytes(bytes).offset;
}

function answer(offset: u64): HostResult {
  const r = new HostResult();
  const text = new Memory(offset, extism_length(offset)).toString();
  const v = parse(text);
  if (v === null) { r.code = "HOST_RESPONSE_INVALID"; r.message = "the host answered with invalid JSON"; return r; }
  r.ok = v.get("ok").bool();
  if (r.ok) r.value = v.get("value");
  else {
    r.code = v.get("error").get("code").str();
    r.message = v.get("error").get("message").str();
  }
  return r;
}

/** Reads an entity version (`version` < 0: latest); `value` is null when not visible. */
export function readEntity(entityId: string, version: i32 = -1): HostResult {
  const req = Value.obj().setStr("entityId", entityId);
  if (version >= 0) req.setNum("version", <f64>version);
  return answer(read_entity(request(req)));
}
/** Creates or updates an entity: `{ entityId?, entityTypeId, expectedVersion?, attributes, metadata?, eventType? }`. */
export function writeEntity(req: Value): HostResult { return answer(write_entity(request(req))); }
/** Emits an event: `{ type, entityId?, entityTypeId?, payload? }`. */
export function emitEvent(req: Value): HostResult { return answer(emit_event(request(req))); }
/** Queries a read model: `{ view, filter?, sort?, limit? }` → `{ items: [{ id, doc }] }`. */
export function queryReadModel(req: Value): HostResult { return answer(query_read_model(request(req))); }
/** `{ op: "upsert", view, id, doc }` or `{ op: "delete", view, id }`. */
export function updateReadModel(req: Value): HostResult { return answer(update_read_model(request(req))); }
/** `{ tenant, plugin }`. */
export function getTenantConfig(): HostResult { return answer(get_tenant_config(request(Value.obj()))); }
/** `{ model, input }` → the model's output. */
export function callModel(req: Value): HostResult { return answer(call_model(request(req))); }
/** `{ fireAt? | delayMs?, type, payload?, timerId? }` → `{ timerId }`. */
export function scheduleTimer(req: Value): HostResult { return answer(schedule_timer(request(req))); }
/** Records a custom experiment metric (summed per name within the event; `uee.*` and built-in names refused). */
export function recordMetric(name: string, value: f64): HostResult { return answer(record_metric(request(Value.obj().setStr("name", name).setNum("value", value)))); }
/** Cancels a timer. */
export function cancelTimer(timerId: string): HostResult {
  return answer(cancel_timer(request(Value.obj().setStr("timerId", timerId))));
}
/** `{ workflow, input? }` → `{ eventId }`. */
export function spawnWorkflow(req: Value): HostResult { return answer(spawn_workflow(request(req))); }
/** Writes a log line (level: debug | info | warn | error). */
export function log(level: string, message: string, fields: Value | null = null): void {
  const req = Value.obj().setStr("level", level).setStr("message", message);
  if (fields !== null) req.set("fields", fields);
  log_(request(req));
}

// ---- handlers -------------------------------------------------------------------------------

/** A handler gets the whole input `{ event, entity?, settings, context }` and returns output or null. */
export type Handler = (input: Value) => Value | null;

const handlerTypes = new Array<string>();
const handlerFns = new Array<Handler>();
let failCode: string = "";
let failMessage: string = "";

/** Declares the handler of an event type ("*" handles every type without its own handler). */
export function on(type: string, handler: Handler): void {
  handlerTypes.push(type);
  handlerFns.push(handler);
}

/** Makes the current event fail with a typed error `{ code, message }` once the handler returns. */
export function fail(code: string, message: string): void {
  failCode = code;
  failMessage = message;
}

function setError(code: string, message: string): i32 {
  const text = Value.obj().setStr("code", code).setStr("message", message).stringify();
  error_set(Memory.allocateBytes(Uint8Array.wrap(String.UTF8.encode(text))).offset);
  return 1;
}

/**
 * Runs the handler declared for the input's event type; re-export it as the plugin's entry:
 * `export function handle(): i32 { return dispatch(); }`.
 */
export function dispatch(): i32 {
  failCode = "";
  const input = parse(Host.inputString());
  if (input === null) return setError("INPUT_INVALID", "the input is not JSON");
  const type = input.get("event").get("type").str();
  let fn: Handler | null = null;
  for (let i = 0; i < handlerTypes.length; i++) if (handlerTypes[i] == type) fn = handlerFns[i];
  if (fn === null) for (let i = 0; i < handlerTypes.length; i++) if (handlerTypes[i] == "*") fn = handlerFns[i];
  if (fn === null) return 0;
  const out = fn(input);
  if (failCode.length > 0) return setError(failCode, failMessage);
  if (out !== null) Host.output(Uint8Array.wrap(String.UTF8.encode(out.stringify())));
  return 0;
}

/** Abort handler wired with `--use abort=`: reports the message as an error, then traps. */
export function ueeAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // no Array/Value here: abort can be reached while the runtime compiles Array itself
  const where = (fileName === null ? "?" : fileName) + ":" + line.toString() + ":" + column.toString();
  const text = "{\"code\":\"ABORT\",\"message\":" + quote((message === null ? "abort" : message) + " at " + where) + "}";
  error_set(Memory.allocateBytes(Uint8Array.wrap(String.UTF8.encode(text))).offset);
  unreachable();
}
