import type { TenantContext } from '../core/index.js';
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
}

/** Defaults for {@link RegistryLimits}. */
export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = { maxSubscribersPerType: 64 };

/**
 * Refuses a tenant's deploy that would make more than `limit` of its logical plugins subscribe to one
 * of the manifest's event types (`LIMIT_EXCEEDED`, naming the type and the setting). The deployed
 * name itself does not count twice: a new version of a subscribed plugin replaces it. One filtered
 * query over the scope's plugin entities, read page by page. Enabling a version again is checked too.
 */
export async function checkSubscriberLimit(store: EntityStore, ctx: TenantContext, manifest: Pick<PluginManifest, 'name' | 'kind' | 'subscribeTo'>, limit: number): Promise<void> {
  if (ctx.tenantId === null || manifest.kind === 'model' || manifest.subscribeTo.length === 0) return;
  const types = new Set(manifest.subscribeTo);
  const names = new Map<string, Set<string>>([...types].map((t) => [t, new Set<string>()]));
  let cursor: string | undefined;
  do {
    const page = await store.query(ctx, {
      entityTypeId: PLUGIN_ENTITY_TYPE,
      filter: { tenantId: ctx.tenantId, 'attributes.status': 'enabled', 'attributes.subscribeTo': { $in: [...types] } },
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const v of page.items) {
      const name = v.attributes.name;
      const subscribed = v.attributes.subscribeTo;
      if (typeof name !== 'string' || name === manifest.name || !Array.isArray(subscribed)) continue;
      for (const t of subscribed) if (typeof t === 'string') names.get(t)?.add(name);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  for (const [type, others] of names) {
    if (others.size + 1 <= limit) continue;
    throw new UeeError('LIMIT_EXCEEDED', `tenant ${ctx.tenantId} already has ${others.size} plugins subscribed to ${type}; at most ${limit} may be`, {
      details: { limit, setting: 'maxSubscribersPerType', eventType: type, tenantId: ctx.tenantId, subscribers: others.size },
      hint: `disable a plugin of this tenant subscribed to ${type} (plugin_list, plugin_configure), or ask an operator to raise --max-subscribers-per-type (UEE_MAX_SUBSCRIBERS_PER_TYPE)`,
    });
  }
}
