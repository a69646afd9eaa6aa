import { isInternalEvent, isInternalEventType, type EventEnvelope, type UeeError } from '../core/index.js';
import { matchesSubscription } from '../store/index.js';
import type { PluginRecord } from '../registry/index.js';

/** The event type `spawn_workflow` commits; its `payload.workflow` names the workflow plugin to run. */
export const WORKFLOW_SPAWNED = 'WorkflowSpawned';

/** One logical plugin (a name in a scope) and its versions, newest first: what the index points at. */
export interface RouteEntry {
  /** The logical plugin's key, also the name of its delivery queue. */
  readonly group: string;
  /**
   * The queue these deliveries are read from and dead-lettered in, when not {@link group}: one
   * tenant's lane of a global plugin (`laneGroup`). Idempotency keys and records stay the plugin's.
   */
  readonly queue?: string;
  /** The tenant whose events the queue holds (a lane's); default {@link tenantId}. In-hand shares count per this. */
  readonly laneTenant?: string;
  readonly name: string;
  readonly tenantId: string | null;
  versions: PluginRecord[];
}

/** Index key of "any entity type". */
const ANY = '*';
/** Index key of "any tenant" (global-scope plugins); no tenant id has a NUL. */
const ANY_TENANT = '\u0000any';
/** Index key of the global scope's own events; no tenant id has a NUL. */
const GLOBAL_TENANT = '\u0000global';
/** Index key of events without an entity type. */
const NO_ENTITY_TYPE = '\u0000none';

type Leaf<R> = Map<string, Set<R>>;

/**
 * The subscription index: event type → tenant → entity type → logical plugins. Matching an event
 * costs a few map look-ups plus a check of the candidates it names, whatever the number of plugins
 * and tenants — the cost follows the plugins an event concerns. Built from scratch on every routing
 * table refresh (immutable afterwards), so readers never see a half-updated index.
 *
 * Each version of a logical plugin is indexed by its own subscription; a route is a candidate when
 * any of its enabled versions may want the event. The exact decision (which version, its filter,
 * user scope) is taken again when the delivery is handled, so an index that is a little stale or
 * coarse never delivers to the wrong version — at worst it queues an event that is then skipped.
 */
export class SubscriptionIndex<R extends RouteEntry> {
  readonly #byType = new Map<string, Map<string, Leaf<R>>>();
  readonly #workflows = new Map<string, Set<R>>();
  readonly size: number;

  constructor(routes: Iterable<R>) {
    let size = 0;
    for (const route of routes) {
      size++;
      for (const version of route.versions) {
        if (version.attributes.status !== 'enabled') continue;
        const a = version.attributes;
        if (a.kind === 'workflow') add(this.#workflows, a.name, route);
        const tenantKey = a.tenantScope === 'global' ? ANY_TENANT : tenantKeyOf(version.tenantId);
        for (const type of a.subscribeTo) {
          // Platform-internal events reach no plugin (see isInternalEventType).
          if (isInternalEventType(type)) continue;
          let byTenant = this.#byType.get(type);
          if (!byTenant) this.#byType.set(type, (byTenant = new Map<string, Leaf<R>>()));
          let byEntity = byTenant.get(tenantKey);
          if (!byEntity) byTenant.set(tenantKey, (byEntity = new Map<string, Set<R>>()));
          for (const key of entityKeysOf(version)) add(byEntity, key, route);
        }
      }
    }
    this.size = size;
  }

  /**
   * The logical plugins `event` concerns: each candidate of the index that has an enabled version
   * whose subscription (type, scope, entity types, `filter.where`) matches, plus — for a
   * `WorkflowSpawned` event — the workflow plugins it names. Distinct, in no particular order.
   */
  match(event: EventEnvelope, onRefused?: (plugin: PluginRecord, err: UeeError) => void): R[] {
    const out: R[] = [];
    const byTenant = this.#byType.get(event.type);
    // A platform entity's generic announcement reaches no plugin (see isInternalEvent).
    if (byTenant && !isInternalEvent(event)) {
      const entityKey = event.entityTypeId ?? NO_ENTITY_TYPE;
      // (No per-event allocation here: this runs for every event the dispatcher reads.)
      const own = byTenant.get(tenantKeyOf(event.tenantId));
      const any = byTenant.get(ANY_TENANT);
      if (own) collect(own.get(entityKey), event, out, onRefused);
      if (own) collect(own.get(ANY), event, out, onRefused);
      if (any) collect(any.get(entityKey), event, out, onRefused);
      if (any) collect(any.get(ANY), event, out, onRefused);
    }
    if (event.type === WORKFLOW_SPAWNED && typeof event.payload.workflow === 'string') {
      for (const route of this.#workflows.get(event.payload.workflow) ?? []) if (!out.includes(route)) out.push(route);
    }
    return out;
  }
}

/** Adds to `out` each of `routes` not in it yet that has an enabled version whose subscription matches `event`. */
function collect<R extends RouteEntry>(routes: Set<R> | undefined, event: EventEnvelope, out: R[], onRefused: ((plugin: PluginRecord, err: UeeError) => void) | undefined): void {
  if (routes === undefined) return;
  for (const route of routes) {
    // `out` holds the few routes an event concerns; a fan-out to many is checked once per key it is under at most.
    if (out.length > 0 && out.includes(route)) continue;
    for (const v of route.versions) {
      if (v.attributes.status === 'enabled' && subscriptionMatches(v, event, onRefused && ((err) => onRefused(v, err)))) {
        out.push(route);
        break;
      }
    }
  }
}

function add<K, R>(map: Map<K, Set<R>>, key: K, route: R): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(route);
}

function tenantKeyOf(tenantId: string | null): string {
  return tenantId === null ? GLOBAL_TENANT : tenantId;
}

/** The entity-type keys a version is indexed under (see {@link subscriptionMatches}). */
function entityKeysOf(plugin: PluginRecord): string[] {
  const a = plugin.attributes;
  const restricted = a.restrictedEntityTypes;
  if (a.filter?.entityTypes) return a.filter.entityTypes.filter((t) => restricted === undefined || restricted.includes(t));
  // A restricted plugin still gets events that name no entity type.
  if (restricted !== undefined) return [...restricted, NO_ENTITY_TYPE];
  return [ANY];
}

/** Whether `event` spawns `plugin`: a `WorkflowSpawned` event naming this workflow plugin. */
export function isSpawnOf(plugin: PluginRecord, event: EventEnvelope): boolean {
  return event.type === WORKFLOW_SPAWNED && plugin.attributes.kind === 'workflow' && event.payload.workflow === plugin.attributes.name;
}

/** Whether the plugin's `restrictedEntityTypes` allow an entity type. */
export function mayTouch(plugin: PluginRecord, entityTypeId: string | undefined): boolean {
  const restricted = plugin.attributes.restrictedEntityTypes;
  return restricted === undefined || (entityTypeId !== undefined && restricted.includes(entityTypeId));
}

/**
 * Whether one version's subscription matches an event, without the store: event type, tenant scope,
 * entity types and `filter.where`. (User scope — the entity's owner — needs a store read and is
 * checked when the delivery is handled.)
 */
export function subscriptionMatches(plugin: PluginRecord, event: EventEnvelope, onRefused?: (err: UeeError) => void): boolean {
  const a = plugin.attributes;
  if (!a.subscribeTo.includes(event.type) || isInternalEvent(event)) return false;
  if (a.tenantScope !== 'global' && event.tenantId !== plugin.tenantId) return false;
  if (!mayTouch(plugin, event.entityTypeId) && event.entityTypeId !== undefined) return false;
  if (a.filter?.entityTypes && (event.entityTypeId === undefined || !a.filter.entityTypes.includes(event.entityTypeId))) return false;
  // The store's bounded evaluator (compiled once per filter object, metered): a filter over its cost
  // budget matches nothing and is reported through `onRefused`.
  if (a.filter?.where && !matchesSubscription(a.filter.where, event, onRefused)) return false;
  return true;
}
