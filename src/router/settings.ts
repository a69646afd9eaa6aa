import type { JsonObject } from '../core/index.js';
import type { EntityStore } from '../store/port.js';

/** How much {@link PluginSettings} keeps: past `entries` or `chars` (JSON characters in all) it starts over; a larger document than `entryChars` is never kept (read per batch, as before). */
export interface SettingsBounds {
  entries: number;
  chars: number;
  entryChars: number;
}

/** A tenant may store settings up to the attribute limit for each of its plugins: together they must not hold a process's memory. */
export const SETTINGS_BOUNDS: SettingsBounds = { entries: 10_000, chars: 16_000_000, entryChars: 64_000 };

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
  /** JSON characters of the kept settings read so far. */
  #chars = 0;
  /** The revision the kept settings were read under (read after it was). */
  #revision: number | undefined;
  /** The last revision read asked for, and when (`performance.now()`): batches read before then share it. */
  #check: { at: number; revision: Promise<number> } | undefined;

  constructor(
    private readonly store: EntityStore,
    private readonly bounds: SettingsBounds = SETTINGS_BOUNDS,
  ) {}

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
    if (revision !== this.#revision || this.#kept.size >= this.bounds.entries || this.#chars > this.bounds.chars) {
      this.#kept = new Map();
      this.#chars = 0;
      this.#revision = revision;
    }
    const kept = this.#kept.get(key);
    if (kept !== undefined) return kept;
    const read = this.store.config.getPlugin({ tenantId, actor }, name);
    const into = this.#kept;
    into.set(key, read);
    read.then(
      (settings) => {
        if (into !== this.#kept || into.get(key) !== read) return;
        const chars = JSON.stringify(settings).length;
        if (chars > this.bounds.entryChars) into.delete(key);
        else this.#chars += chars;
      },
      // A failed read is not kept: the next batch reads again.
      () => {
        if (into.get(key) === read) into.delete(key);
      },
    );
    return read;
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
