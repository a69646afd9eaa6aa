import type { EntityWrite, TenantContext } from '../core/index.js';
import { UeeError } from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import { PLUGIN_ENTITY_TYPE, type PluginManifest } from './manifest.js';

/** Limits the registry enforces at deploy. */
export interface RegistryLimits {
  /**
   * Logical plugins with an enabled version that one tenant may have subscribed to one event type
   * (`--max-subscribers-per-type`): an event's fan-out — the queues the dispatcher appends it to, in
   * one step with every other tenant's events — is bounded per tenant, so a tenant deploying
   * thousands of plugins on one type cannot make the dispatcher's work on its events unbounded. The
   * global scope (operators') is not limited. @default 64
   */
  maxSubscribersPerType: number;
  /**
   * Logical event and workflow plugins with an enabled version one tenant may have
   * (`--max-plugins-per-tenant`): each is a queue, a queue worker, a lease and a timer in every
   * router process, so a tenant deploying plugin after plugin (each on a type of its own, which the
   * per-type limit does not see) cannot grow every process's memory and idle work without bound.
   * The global scope (operators') is not limited. @default 256
   */
  maxPluginsPerTenant: number;
}

/** Defaults for {@link RegistryLimits}. */
export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = { maxSubscribersPerType: 64, maxPluginsPerTenant: 256 };

/** Entity type of a tenant's subscriber guard (see {@link checkSubscriberLimit}). */
export const SUBSCRIBER_GUARD_TYPE = 'uee.subscriber-guard';
/**
 * The event type of a guard write: platform-internal ({@link isInternalEventType}), so the bookkeeping
 * event published in the tenant's stream with every deploy or enable reaches none of its plugins.
 */
export const SUBSCRIBER_GUARD_EVENT = 'uee.subscriber-guard.checked';
/** The guard's entity id (one per tenant scope). */
const SUBSCRIBER_GUARD_ID = 'uee-subscriber-guard';

/**
 * Refuses a tenant's deploy that would make more than `limits.maxSubscribersPerType` of its logical
 * plugins subscribe to one of the manifest's event types, or give it more than
 * `limits.maxPluginsPerTenant` logical event and workflow plugins with an enabled version
 * (`LIMIT_EXCEEDED`, naming the setting, and the type for the first). The deployed name itself does
 * not count twice: a new version of a plugin replaces it. One filtered query over the scope's
 * enabled plugin versions, read page by page. Enabling a version again is checked too.
 *
 * Returns the write that makes the check hold at commit, to be committed with the plugin's own write
 * (undefined when the limit does not apply): the tenant's guard entity at the version read before
 * counting. Every deploy or enable that adds a subscriber writes it, so of two racing for the last
 * slot — in one process or in several sharing the store — the second to commit fails
 * `VERSION_CONFLICT` on the guard ({@link isGuardConflict}) and checks again, seeing the first.
 */
export async function checkSubscriberLimit(store: EntityStore, ctx: TenantContext, manifest: Pick<PluginManifest, 'name' | 'kind' | 'subscribeTo'>, limits: RegistryLimits): Promise<EntityWrite | undefined> {
  if (ctx.tenantId === null || manifest.kind === 'model' || manifest.subscribeTo.length === 0) return undefined;
  const guard = await store.find(ctx, SUBSCRIBER_GUARD_ID);
  const types = new Set(manifest.subscribeTo);
  const names = new Map<string, Set<string>>([...types].map((t) => [t, new Set<string>()]));
  /** The tenant's other logical plugins with an enabled version (each has a queue). */
  const plugins = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.query(ctx, {
      entityTypeId: PLUGIN_ENTITY_TYPE,
      filter: { tenantId: ctx.tenantId, 'attributes.status': 'enabled' },
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const v of page.items) {
      const name = v.attributes.name;
      const subscribed = v.attributes.subscribeTo;
      if (typeof name !== 'string' || name === manifest.name || v.attributes.kind === 'model' || !Array.isArray(subscribed)) continue;
      plugins.add(name);
      for (const t of subscribed) if (typeof t === 'string') names.get(t)?.add(name);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  if (plugins.size + 1 > limits.maxPluginsPerTenant) {
    const limit = limits.maxPluginsPerTenant;
    throw new UeeError('LIMIT_EXCEEDED', `tenant ${ctx.tenantId} already has ${plugins.size} enabled plugins; at most ${limit} may be`, {
      details: { limit, setting: 'maxPluginsPerTenant', tenantId: ctx.tenantId, plugins: plugins.size },
      hint: 'disable one of this tenant\'s plugins (plugin_list, plugin_configure), or ask an operator to raise --max-plugins-per-tenant (UEE_MAX_PLUGINS_PER_TENANT)',
    });
  }
  const limit = limits.maxSubscribersPerType;
  for (const [type, others] of names) {
    if (others.size + 1 <= limit) continue;
    throw new UeeError('LIMIT_EXCEEDED', `tenant ${ctx.tenantId} already has ${others.size} plugins subscribed to ${type}; at most ${limit} may be`, {
      details: { limit, setting: 'maxSubscribersPerType', eventType: type, tenantId: ctx.tenantId, subscribers: others.size },
      hint: `disable a plugin of this tenant subscribed to ${type} (plugin_list, plugin_configure), or ask an operator to raise --max-subscribers-per-type (UEE_MAX_SUBSCRIBERS_PER_TYPE)`,
    });
  }
  const version = guard?.version ?? 0;
  return { entityId: SUBSCRIBER_GUARD_ID, entityTypeId: SUBSCRIBER_GUARD_TYPE, expectedVersion: version, attributes: { checks: version + 1 }, eventType: SUBSCRIBER_GUARD_EVENT };
}

/** Whether a commit failed because another deploy or enable moved the tenant's subscriber guard: check again. */
export function isGuardConflict(err: unknown): boolean {
  return err instanceof UeeError && err.code === 'VERSION_CONFLICT' && err.details?.entityId === SUBSCRIBER_GUARD_ID;
}
