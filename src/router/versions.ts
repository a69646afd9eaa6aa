import type { EventEnvelope } from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import type { PluginRecord } from '../registry/index.js';

/** Read-model view holding per-tenant version pins: id = plugin name, doc = `{ version }`. */
export const PINS_VIEW = 'uee.plugin-pins';

/**
 * Which version of a logical plugin handles an event: the tenant's pin when that version is enabled,
 * else the newest enabled version. Decided once per delivery, when it is handled (never when it is
 * queued), so every event is handled by exactly one version however deploys and pins change while
 * it waits — and the effects' idempotency key names the logical plugin, not the version, so a
 * redelivery that resolves to another version still commits at most once.
 */
export class VersionResolver {
  #pins = new Map<string, Map<string, number>>();

  /** Reloads every tenant's pins from the store. */
  async load(store: EntityStore): Promise<void> {
    const pins = new Map<string, Map<string, number>>();
    for (const tenant of await store.tenants.list()) {
      const page = await store.readModels.query({ tenantId: tenant.tenantId, actor: 'system:router' }, PINS_VIEW, { limit: 1000 });
      if (page.items.length === 0) continue;
      pins.set(tenant.tenantId, new Map(page.items.map((d) => [d.id, Number(d.doc.version)])));
    }
    this.#pins = pins;
  }

  /** The version of `route` that handles `event`, or undefined when none is enabled. */
  resolve(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): PluginRecord | undefined {
    const pinned = event.tenantId === null ? undefined : this.#pins.get(event.tenantId)?.get(route.name);
    let newest: PluginRecord | undefined;
    for (const v of route.versions) {
      if (v.attributes.status !== 'enabled') continue;
      if (pinned === undefined) return v; // newest first
      if (v.attributes.pluginVersion === pinned) return v;
      newest ??= v;
    }
    return newest;
  }
}
