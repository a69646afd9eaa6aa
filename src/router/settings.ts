import type { JsonObject } from '../core/index.js';
import type { EntityStore } from '../store/port.js';

/** Entries kept at most; past it the cache starts over (one read each again), so its memory stays bounded. */
const MAX_ENTRIES = 10_000;

/** A batch's view of tenants' plugin settings (see {@link PluginSettings.batch}). */
export interface SettingsSource {
  /** `tenantId`'s own settings of plugin `name` (`{}` when none), as stored once the batch was read. */
  plugin(tenantId: string, name: string, actor: string): Promise<JsonObject>;
}

/**
 * Tenants' plugin settings for the deliveries of one process, read once and kept while the store's
 * configuration revision ({@link TenantConfigStore.revision}) stays the same — instead of one store
 * read per (tenant, plugin) per batch: with 1,000 tenants a batch holds a few events, and that read
 * (a PostgreSQL round trip on a distributed store) came once per few events.
 *
 * Never older than the events it serves: a batch asks for the revision read after the batch itself
 * was read from the bus, so settings stored before any of its events was published are seen. Batches
 * read in the same turn share one revision read. A setting changed after an event was published may
 * or may not reach that event's delivery, as before (a batch read it once).
 */
export class PluginSettings {
  #kept = new Map<string, Promise<JsonObject>>();
  /** The revision the kept settings were read under (read after it was). */
  #revision: number | undefined;
  /** The last revision read asked for, and when (`performance.now()`): batches read before then share it. */
  #check: { at: number; revision: Promise<number> } | undefined;

  constructor(private readonly store: EntityStore) {}

  /** The settings as a batch read just now sees them (the batch's events of one tenant and plugin share one lookup). */
  batch(): SettingsSource {
    const readAt = performance.now();
    const looked = new Map<string, Promise<JsonObject>>();
    return {
      plugin: (tenantId, name, actor) => {
        const key = `${tenantId}\u0000${name}`;
        let found = looked.get(key);
        if (found === undefined) looked.set(key, (found = this.#plugin(key, tenantId, name, actor, readAt)));
        return found;
      },
    };
  }

  async #plugin(key: string, tenantId: string, name: string, actor: string, readAt: number): Promise<JsonObject> {
    const revision = await this.#revisionAfter(readAt);
    if (revision !== this.#revision || this.#kept.size >= MAX_ENTRIES) {
      this.#kept.clear();
      this.#revision = revision;
    }
    let kept = this.#kept.get(key);
    if (kept === undefined) {
      const read = this.store.config.getPlugin({ tenantId, actor }, name);
      this.#kept.set(key, (kept = read));
      // A failed read is not kept: the next batch reads again.
      read.catch(() => {
        if (this.#kept.get(key) === read) this.#kept.delete(key);
      });
    }
    return kept;
  }

  /** The store's revision, read after `readAt` (by this call or by one asked for since). */
  #revisionAfter(readAt: number): Promise<number> {
    const check = this.#check;
    if (check !== undefined && check.at >= readAt) return check.revision;
    const at = performance.now();
    const revision = this.store.config.revision();
    this.#check = { at, revision };
    revision.catch(() => {
      if (this.#check?.revision === revision) this.#check = undefined;
    });
    return revision;
  }
}
