import type { EntityVersion, EventEnvelope, JsonObject, TenantContext } from '../core/index.js';
import { eventSeed } from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import type { PluginRecord } from '../registry/index.js';
import type { SettingsSource } from './settings.js';
import { mayTouch } from './subscriptions.js';
import type { HandleInput } from './types.js';

/** The manifest's settings with a tenant's own over them, kept per own settings object (as read: see settings.ts). */
const MERGED = new WeakMap<JsonObject, { base: JsonObject; merged: JsonObject }>();

function mergedSettings(base: JsonObject, own: JsonObject): JsonObject {
  const kept = MERGED.get(own);
  if (kept !== undefined && kept.base === base) return kept.merged;
  const merged = { ...base, ...own };
  MERGED.set(own, { base, merged });
  return merged;
}

/**
 * Builds a plugin's `handle` input: the event, its entity (only for a plugin that may read entities
 * of that type — deny by default, and only then is the store read worth it), the merged settings and
 * the deterministic context.
 */
export async function buildInput(store: EntityStore, plugin: PluginRecord, event: EventEnvelope, settings: SettingsSource): Promise<HandleInput> {
  const a = plugin.attributes;
  let entity: EntityVersion | undefined;
  if (event.entityId !== undefined && a.capabilities.includes('readEntities') && mayTouch(plugin, event.entityTypeId)) {
    const ctx: TenantContext = { tenantId: event.tenantId, actor: `plugin:${plugin.id}@${a.pluginVersion}` };
    // Many events name an entity that does not exist (plain events about an id): a miss builds no error.
    entity = (await store.find(ctx, event.entityId, event.entityVersion === undefined ? undefined : { version: event.entityVersion })) ?? undefined;
  }
  let merged: JsonObject = a.settings;
  if (event.tenantId !== null) {
    const own = await settings.plugin(event.tenantId, a.name, `plugin:${plugin.id}@${a.pluginVersion}`);
    // The manifest's settings object is shared by every input of the version: copied only when a
    // tenant's own settings change it, never mutated; so is the copy, per the tenant's settings as
    // read (the input's text keeps the settings' text per object: see runtime/host.ts settingsText).
    if (Object.keys(own).length > 0) merged = mergedSettings(a.settings, own);
  }
  const input: HandleInput = {
    event,
    settings: merged,
    context: {
      now: event.occurredAt,
      randomSeed: eventSeed(event.eventId, plugin.id),
      tenantId: event.tenantId,
      plugin: { id: plugin.id, name: a.name, version: a.pluginVersion },
    },
  };
  if (entity !== undefined) input.entity = entity;
  return input;
}
