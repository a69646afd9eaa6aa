import { UeeError } from './errors.js';
import type { EventSource } from './schemas.js';

/**
 * The platform's reserved namespace: entity types, event types and read-model views that only the
 * services owning them may write. Tenants (through any API) and plugins (through any host function)
 * are refused with `RESERVED_NAME`; the store checks every commit against {@link assertMayWriteReserved}
 * so no path that forgets can write them.
 */

/** Prefix of platform entity types (`uee.plugin`, `uee.timer`), read-model views (`uee.plugin-pins`) and event types. */
export const RESERVED_PREFIX = 'uee.';

/**
 * Event types the platform emits and others react to as facts: entity lifecycle, plugin lifecycle,
 * workflow spawns and timers, and the synthetic events of the bus and the model runner.
 */
export const PLATFORM_EVENT_TYPES: ReadonlySet<string> = new Set([
  'EntityCreated',
  'EntityUpdated',
  'EntityDeleted',
  'PluginInstalled',
  'PluginEnabled',
  'PluginDisabled',
  'WorkflowSpawned',
  'WorkflowDefined',
  'WorkflowStarted',
  'WorkflowTransitioned',
  'WorkflowMigrated',
  'WorkflowTimer',
  'WorkflowModelCall',
  'TimerScheduled',
  'TimerCancelled',
  'TimerFired',
  'TimerDeadLettered',
  'BusEntryCorrupt',
  'ModelInferenceRequested',
]);

/** Entity type of workflow definitions (one entity per workflow name; its versions are the definition versions). */
export const WORKFLOW_DEFINITION_TYPE = 'uee.workflow.definition';

/** What a workflow (and state, transition) name looks like: no dot, so `<workflow>.<state>` splits once. */
export const WORKFLOW_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/** The entity id of a tenant's workflow definition named `name`. */
export function workflowDefinitionId(name: string): string {
  return `wfdef:${name}`;
}

/**
 * The workflow whose transition-event namespace an event type enters: `Order.Paid` → `Order`
 * (transition events are `<workflow>.<state>`; workflow names have no dot). Once a tenant defines
 * workflow `Order`, only the workflow service publishes `Order.*` events there — a principal or a
 * plugin publishing `Order.Paid` would fake a transition to every plugin reacting to it.
 */
export function workflowNamespaceOf(eventType: string): string | null {
  const dot = eventType.indexOf('.');
  if (dot <= 0) return null;
  const name = eventType.slice(0, dot);
  return WORKFLOW_NAME_PATTERN.test(name) ? name : null;
}

/** Whether an entity type belongs to the platform. */
export function isReservedEntityType(entityTypeId: string): boolean {
  return entityTypeId.toLowerCase().startsWith(RESERVED_PREFIX);
}

/** Whether an event type belongs to the platform. */
export function isReservedEventType(type: string): boolean {
  return PLATFORM_EVENT_TYPES.has(type) || type.toLowerCase().startsWith(RESERVED_PREFIX);
}

/**
 * Whether an event type is platform-internal bookkeeping: the `uee.` namespace (e.g. the subscriber
 * guard's {@link isReservedEventType reserved} writes). The store announces every write with an event,
 * so such events are published with their commit, but the router hands them to no plugin, whatever it
 * subscribes to: they never reach a tenant's plugin nor spend its chain budget. (The facts in
 * {@link PLATFORM_EVENT_TYPES} — entity, plugin, workflow and timer lifecycle — are routed as usual.)
 */
export function isInternalEventType(type: string): boolean {
  return INTERNAL_EVENT_TYPE.test(type);
}
const INTERNAL_EVENT_TYPE = /^uee\./i;

/** The store's generic announcements of a write (an entity write without an event type of its own). */
export const ENTITY_LIFECYCLE_TYPES: ReadonlySet<string> = new Set(['EntityCreated', 'EntityUpdated', 'EntityDeleted']);

/**
 * Whether an event is platform-internal bookkeeping, which the router hands to no plugin: an
 * {@link isInternalEventType internal type}, or the store's generic announcement (`EntityCreated`,
 * `EntityUpdated`, `EntityDeleted`) of a write to a platform entity type (a review proposal, a
 * workflow instance or plugin entity written without a fact of its own). Platform writes a tenant's
 * plugins may react to carry a fact type instead (`PluginInstalled`, `TimerScheduled`,
 * `WorkflowStarted`, …), which is routed as usual. Costs a set look-up for every other event.
 */
export function isInternalEvent(event: { readonly type: string; readonly entityTypeId?: string | undefined }): boolean {
  if (ENTITY_LIFECYCLE_TYPES.has(event.type)) return event.entityTypeId !== undefined && isReservedEntityType(event.entityTypeId);
  return isInternalEventType(event.type);
}

/** Whether a read-model view belongs to the platform. */
export function isReservedView(view: string): boolean {
  return view.toLowerCase().startsWith(RESERVED_PREFIX);
}

/** The `RESERVED_NAME` error for a platform-owned name. */
export function reservedName(what: 'entity type' | 'event type' | 'read-model view', name: string, hint?: string): UeeError {
  return new UeeError('RESERVED_NAME', `${what} ${name} is reserved for the platform`, {
    details: { [what === 'entity type' ? 'entityTypeId' : what === 'event type' ? 'eventType' : 'view']: name },
    hint:
      hint ??
      (what === 'event type' && name === 'WorkflowSpawned'
        ? 'start a workflow with spawn_workflow (capability spawnWorkflows)'
        : what === 'event type' && ENTITY_LIFECYCLE_TYPES.has(name)
          ? 'omit eventType: the store announces EntityCreated / EntityUpdated / EntityDeleted itself; or name your own event type'
          : `use a name outside the platform's namespace (not starting with "${RESERVED_PREFIX}", not one of ${[...PLATFORM_EVENT_TYPES].join(', ')})`),
  });
}

/** What a commit wants to write, as far as the reserved namespace is concerned. */
export interface ReservedCheckBatch {
  writes: ReadonlyArray<{ entityTypeId: string; eventType?: string | undefined }>;
  events: ReadonlyArray<{ type: string; entityTypeId?: string | undefined }>;
  readModelOps: ReadonlyArray<{ view: string }>;
  source?: EventSource | undefined;
}

/** Event types a plugin's commit may carry although reserved: the ones its host functions produce. */
const PLUGIN_PRODUCED_EVENTS = new Set(['WorkflowSpawned']);
/** Timer writes the runtime derives from `schedule_timer` / `cancel_timer`. */
const PLUGIN_PRODUCED_WRITES = new Map([['uee.timer', new Set(['TimerScheduled', 'TimerCancelled'])]]);

/**
 * Refuses a commit that writes into the reserved namespace unless its source is a platform service.
 * - `api` (principals, the default) may write no reserved entity type, event type, entity type of an
 *   event, or view;
 * - `plugin` likewise, except what the runtime itself derives from granted host functions: the
 *   `WorkflowSpawned` of `spawn_workflow` and the `uee.timer` writes of the timer functions;
 * - `system`, `timer` and `workflow` sources are the platform services and may.
 */
export function assertMayWriteReserved(batch: ReservedCheckBatch): void {
  const kind = batch.source?.kind ?? 'api';
  if (kind !== 'api' && kind !== 'plugin') return;
  const plugin = kind === 'plugin';
  for (const w of batch.writes) {
    if (isReservedEntityType(w.entityTypeId)) {
      const allowed = plugin ? PLUGIN_PRODUCED_WRITES.get(w.entityTypeId) : undefined;
      if (allowed === undefined || w.eventType === undefined || !allowed.has(w.eventType)) throw reservedName('entity type', w.entityTypeId);
      continue;
    }
    if (w.eventType !== undefined && isReservedEventType(w.eventType)) throw reservedName('event type', w.eventType);
  }
  for (const e of batch.events) {
    if (isReservedEventType(e.type) && !(plugin && PLUGIN_PRODUCED_EVENTS.has(e.type))) throw reservedName('event type', e.type);
    if (e.entityTypeId !== undefined && isReservedEntityType(e.entityTypeId)) throw reservedName('entity type', e.entityTypeId);
  }
  for (const op of batch.readModelOps) {
    if (isReservedView(op.view)) throw reservedName('read-model view', op.view);
  }
}
