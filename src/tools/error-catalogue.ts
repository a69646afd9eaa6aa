import { ERROR_CODES, type ErrorCode } from '../core/index.js';

/** What an error code means and what an agent should do about it by default. */
export interface ErrorCodeInfo {
  code: ErrorCode;
  meaning: string;
  hint: string;
}

const INFO: Partial<Record<ErrorCode, { meaning: string; hint: string }>> = {
  VALIDATION_FAILED: { meaning: 'An argument is missing, of the wrong type, too long, or not allowed.', hint: 'fix the fields listed in details.issues and call again' },
  NOT_FOUND: { meaning: 'The thing does not exist, or is not visible to this principal.', hint: 'check the id and the tenantId; list or query to find existing ids' },
  VERSION_CONFLICT: { meaning: 'expectedVersion does not match the current version.', hint: 'read the entity again (entity_get), merge your change, and retry with its current version' },
  UNKNOWN_TENANT: { meaning: 'The named tenant is not registered.', hint: 'create it with tenant_create (admin) or check the tenantId' },
  TENANT_FORBIDDEN: { meaning: 'This principal may not act on that tenant, or is read-only.', hint: 'use a token for that tenant, or a read-write token for changes' },
  PAYLOAD_TOO_LARGE: { meaning: 'A value exceeds a size limit.', hint: 'send less data; details name the limit' },
  INVALID_FILTER: {
    meaning: 'The filter uses an unknown or forbidden operator, is malformed, exceeds a size limit (details.limit), or has a regular expression the linear-time (RE2) engine cannot run.',
    hint: 'use $eq, $ne, $gt(e), $lt(e), $in, $nin, $exists, $and, $or, $nor, $not, $regex (RE2 syntax, no backreferences or lookaround), $size, $all, $elemMatch, $type, $mod on field paths; keep within the limit named in details',
  },
  QUERY_TOO_COSTLY: {
    meaning: 'Evaluating the filter exceeded its budget (steps per document or per query, documents or bytes examined per query); nothing was returned.',
    hint: 'simplify the filter or narrow the query (details.limit names the limit, details.max its value)',
  },
  INVALID_CURSOR: { meaning: 'The cursor is not from this query.', hint: 'repeat the query without a cursor, then page with the returned nextCursor' },
  IDEMPOTENCY_CONFLICT: { meaning: 'The idempotency key was used with different content.', hint: 'use a fresh idempotency key for a different change' },
  CORRUPT_DATA: { meaning: 'Stored data failed validation when read back.', hint: 'report it to an operator; the record needs repair' },
  CONFIG_INVALID: { meaning: 'A setting is invalid.', hint: 'fix the named setting' },
  BACKEND_UNAVAILABLE: { meaning: 'The store or bus is not reachable.', hint: 'retry later' },
  CLOSED: { meaning: 'The server is shutting down.', hint: 'retry against a running server' },
  CAPABILITY_DENIED: { meaning: 'A plugin used a host function its capabilities do not grant.', hint: 'add the capability named in details to the manifest and redeploy' },
  RESERVED_NAME: { meaning: 'The entity type, event type or read-model view belongs to the platform (uee.*, entity/plugin/timer lifecycle, WorkflowSpawned); only the service that owns it writes it.', hint: 'use a name of your own; start workflows with spawn_workflow, deploy plugins with plugin_deploy' },
  BUDGET_EXCEEDED: {
    meaning: 'A plugin exceeded its resource budget.',
    hint: 'when details.limit is timeoutMs, memoryPages, hostCalls, modelCalls, emits or outputBytes, raise maximumResourceBudget.<that field> in the manifest; other limits are fixed by the platform: do less per event',
  },
  RATE_LIMITED: { meaning: 'Too many calls.', hint: 'wait and retry' },
  LIMIT_EXCEEDED: { meaning: 'This principal holds as many sessions, streams or sandboxes as it may (or the server does in total).', hint: 'close sessions or streams you no longer use, or wait for your running sandboxes; details name the limit and its setting' },
  TIMEOUT: { meaning: 'The operation took too long.', hint: 'retry; for a plugin run, raise maximumResourceBudget.timeoutMs in the manifest; for a compile, move module-level work into a handler' },
  CANCELLED: { meaning: 'The call was cancelled by the client.', hint: 'call again if the result is still needed' },
  PLUGIN_TRAP: { meaning: 'The plugin crashed (WebAssembly trap).', hint: 'inspect the plugin logs and fix the handler' },
  WORKER_CRASHED: { meaning: 'The worker thread running the plugin died (V8 heap or stack exhausted); a delivery that keeps killing workers is quarantined (dead-lettered, not retried).', hint: 'inspect the plugin logs and the dead letter, fix the handler and redeploy' },
  PLUGIN_ERROR: { meaning: 'The plugin returned an error.', hint: 'inspect the plugin logs and fix the handler' },
  PLUGIN_OUTPUT_INVALID: { meaning: 'The plugin output failed validation.', hint: 'make the handler return the documented output shape (docs/plugin-abi.md)' },
  INVALID_MODULE: { meaning: 'The WebAssembly module is not a valid UEE plugin.', hint: 'compile again and check the exports listed in docs/plugin-abi.md' },
  HOP_LIMIT_EXCEEDED: { meaning: 'An event chain exceeded the hop limit (likely a cycle).', hint: 'break the cycle between plugins that emit each other\'s events' },
  CHAIN_BUDGET_EXCEEDED: {
    meaning: 'An event chain (one correlation id) used up its operator budget of plugin invocations or events (a loop that fans out); the delivery was dead-lettered and the effects of the invocation that would exceed it were not committed.',
    hint: 'stop the plugin from emitting the events that trigger it again; an operator can raise --chain-max-events or --chain-max-invocations',
  },
  COMPILE_FAILED: { meaning: 'The sources did not compile.', hint: 'fix the diagnostics at the given positions' },
  UNAUTHORIZED: { meaning: 'The credentials are missing or invalid.', hint: 'send a valid bearer token' },
  TIMER_HORIZON_EXCEEDED: { meaning: 'A timer was scheduled further ahead than the configured horizon.', hint: 'schedule within the horizon (details.horizonMs) and re-schedule from the fired timer to wait longer' },
  ILLEGAL_TRANSITION: { meaning: 'The workflow instance cannot take that transition from its current state.', hint: 'pick one of details.allowed, or inspect the instance with workflow_inspect' },
  WORKFLOW_INVALID: { meaning: 'A workflow definition is malformed (unknown or unreachable states, dead ends, bad guards, spawn cycles).', hint: 'fix the problems listed in details.problems and validate again with workflow_validate' },
  DEPENDENCY_NOT_FOUND: { meaning: 'A declared npm dependency (or one of its own) does not exist on the registry, or no version satisfies its range.', hint: 'check the package name and use a range that includes an existing version (details.latest)' },
  DEPENDENCY_DENIED: { meaning: "An npm package in the plugin's dependency tree is on the operator's deny-list, or not on its allow-list.", hint: 'use another package (details.allowed lists the allowed ones) or write the code as a plugin file' },
  DEPENDENCY_TOO_LARGE: { meaning: 'The npm dependency tree has too many packages or unpacks to too many bytes (details.limit).', hint: 'depend on fewer or smaller packages' },
  DEPENDENCY_NOT_PURE: { meaning: 'An npm package needs native code, an install script or Node built-ins (fs, net, …), which plugins do not have.', hint: 'pick a pure-JS alternative' },
  REGISTRY_UNAVAILABLE: { meaning: 'The npm registry could not be reached and the package is not in the local cache.', hint: 'retry later; packages fetched once compile offline' },
  FENCED: { meaning: 'A commit carried the fencing token of a lease another process has since taken over (this process was paused or cut off past its lease); nothing was committed.', hint: 'nothing to do: the process holding the lease now handles the delivery' },
  INTERNAL: { meaning: 'An unexpected server fault.', hint: 'retry once; if it persists, report it with the time of the call' },
};

/** The hint for a code (a generic one for codes without an entry). */
export function defaultHint(code: ErrorCode): string {
  return INFO[code]?.hint ?? 'read the message and details, adjust the call, and retry';
}

/** Every error code with its meaning and default hint: the `uee://catalogue/errors` resource. */
export function errorCatalogue(): ErrorCodeInfo[] {
  return ERROR_CODES.map((code) => ({
    code,
    meaning: INFO[code]?.meaning ?? code.toLowerCase().replace(/_/g, ' '),
    hint: defaultHint(code),
  }));
}
