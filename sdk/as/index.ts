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

// ---- direct I/O (docs/plugin-abi.md, "Direct I/O") --------------------------------------------
// A host that calls `uee_io_enable` (the UEE runtime) copies the input, the output and each host
// call's request and answer as whole ranges of this module's memory instead of 8 bytes per kernel
// call. Plain Extism hosts never enable it, and the kernel path runs unchanged. compileAssemblyScript
// exports these functions from every module that imports "uee-plugin".
const IO_NONE: i32 = 0;
const IO_OUTPUT: i32 = 1;
const IO_ERROR: i32 = 2;
const IO_REQUEST: i32 = 3;
/** What a host function returns when it staged its answer with `uee_io_stage`. */
const IO_STAGED: u64 = 1;
let ioOn = false;
let ioFlags: i32 = IO_NONE;
let ioPtr: usize = 0;
let ioLen: i32 = 0;
/** The host's staged bytes, until taken; staged during a host call: its answer, never a call's input. */
let ioStage: ArrayBuffer | null = null;
let ioStageAnswer = false;
/** The request of the host call in progress, and the last call's output or error (read by the host after the call): kept alive here. */
let ioRequest: ArrayBuffer | null = null;
let ioResult: ArrayBuffer | null = null;

export function uee_io_enable(): i32 { ioOn = true; return 1; }
export function uee_io_flags(): i32 { return ioFlags; }
export function uee_io_ptr(): u32 { return <u32>ioPtr; }
export function uee_io_len(): u32 { return <u32>ioLen; }
export function uee_io_stage(len: u32): u32 {
  const buf = new ArrayBuffer(<i32>len);
  ioStage = buf;
  ioStageAnswer = ioFlags == IO_REQUEST;
  return <u32>changetype<usize>(buf);
}

/** The staged bytes of that kind; anything else staged is dropped (an answer left by a host call that never returned never becomes the next call's input). */
function takeStage(answer: bool): ArrayBuffer | null {
  const staged = ioStage;
  ioStage = null;
  if (staged === null || ioStageAnswer != answer) return null;
  return staged;
}

function ioSet(flags: i32, bytes: ArrayBuffer | null): void {
  ioFlags = flags;
  ioPtr = bytes === null ? 0 : changetype<usize>(bytes);
  ioLen = bytes === null ? 0 : bytes.byteLength;
}

/** The event input as text (staged by the host under direct I/O, else read through the kernel). */
function inputString(): string {
  const staged = takeStage(false);
  return staged !== null ? String.UTF8.decode(staged) : Host.inputString();
}

// A host call is `answer(fn(request(req)))`: under direct I/O `request` leaves the request where it
// is and passes offset 0, and `answer` takes the staged answer.
function request(v: Value): u64 {
  const bytes = String.UTF8.encode(v.stringify());
  if (ioOn) {
    takeStage(true);
    ioRequest = bytes;
    ioSet(IO_REQUEST, bytes);
    return 0;
  }
  return Memory.allocateBytes(Uint8Array.wrap(bytes)).offset;
}

function answer(offset: u64): HostResult {
  const r = new HostResult();
  let text: string;
  let staged: ArrayBuffer | null = null;
  if (ioOn) {
    ioSet(IO_NONE, null);
    ioRequest = null;
    staged = takeStage(true);
  }
  if (staged !== null && offset == IO_STAGED) text = String.UTF8.decode(staged);
  else text = new Memory(offset, extism_length(offset)).toString();
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
  answer(log_(request(req)));
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
  const bytes = String.UTF8.encode(Value.obj().setStr("code", code).setStr("message", message).stringify());
  if (ioOn) {
    ioResult = bytes;
    ioSet(IO_ERROR, bytes);
  } else error_set(Memory.allocateBytes(Uint8Array.wrap(bytes)).offset);
  return 1;
}

/**
 * Runs the handler declared for the input's event type; re-export it as the plugin's entry:
 * `export function handle(): i32 { return dispatch(); }`.
 */
export function dispatch(): i32 {
  failCode = "";
  // The previous call's output or error was read by the host after that call: freed only now.
  ioResult = null;
  ioSet(IO_NONE, null);
  const input = parse(inputString());
  if (input === null) return setError("INPUT_INVALID", "the input is not JSON");
  const type = input.get("event").get("type").str();
  let fn: Handler | null = null;
  for (let i = 0; i < handlerTypes.length; i++) if (handlerTypes[i] == type) fn = handlerFns[i];
  if (fn === null) for (let i = 0; i < handlerTypes.length; i++) if (handlerTypes[i] == "*") fn = handlerFns[i];
  if (fn === null) return 0;
  const out = fn(input);
  if (failCode.length > 0) return setError(failCode, failMessage);
  if (out !== null) {
    const bytes = String.UTF8.encode(out.stringify());
    if (ioOn) {
      ioResult = bytes;
      ioSet(IO_OUTPUT, bytes);
    } else Host.output(Uint8Array.wrap(bytes));
  }
  return 0;
}

/** Abort handler wired with `--use abort=`: reports the message as an error (through the kernel even under direct I/O: the trap ends the call there), then traps. */
export function ueeAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // no Array/Value here: abort can be reached while the runtime compiles Array itself
  const where = (fileName === null ? "?" : fileName) + ":" + line.toString() + ":" + column.toString();
  const text = "{\"code\":\"ABORT\",\"message\":" + quote((message === null ? "abort" : message) + " at " + where) + "}";
  error_set(Memory.allocateBytes(Uint8Array.wrap(String.UTF8.encode(text))).offset);
  unreachable();
}
