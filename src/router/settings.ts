import type { JsonObject } from '../core/index.js';
import type { ConfigChanges, EntityStore } from '../store/port.js';

/** How much {@link PluginSettings} keeps: past `entries` or `chars` (JSON characters in all) the tenant holding the most is dropped; a larger document than `entryChars` is never kept (read per batch, as before). */
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

/** Settings writes a revision check takes by tenant at most; beyond, everything kept is read again. */
export const SETTINGS_CHANGES_LIMIT = 256;

/**
 * Tenants' plugin settings for the deliveries of one process, read once and kept until that tenant's
 * settings are written — instead of one store read per (tenant, plugin) per batch: with 1,000 tenants
 * a batch holds a few events, and that read (a PostgreSQL round trip on a distributed store) came
 * once per few events.
 *
 * Never older than the events it serves: a batch asks the store what changed after the revision the
 * kept settings were read under ({@link TenantConfigStore.changesSince}), read after the batch itself
 * was read from the bus, so settings stored before any of its events was published are seen. Batches
 * read in the same turn share one such read. Only the tenants written since are read again: one
 * tenant writing its settings in a loop costs every other tenant's deliveries nothing (before
 * 2026-12-06 any write dropped every tenant's settings: `bench/routing`'s `tenants1000Configuring`).
 * Everything is dropped when the store cannot tell which tenants (more than
 * {@link SETTINGS_CHANGES_LIMIT} writes since, or one by an older UEE). A setting changed after an
 * event was published may or may not reach that event's delivery, as before (a batch read it once).
 */
export class PluginSettings {
  /** Per tenant ('' for the platform's own), per plugin name: the settings read. */
  #kept = new Map<string, Map<string, Promise<JsonObject>>>();
  #entries = 0;
  /** JSON characters of the kept settings read so far, in all and per tenant. */
  #chars = 0;
  #charsOf = new Map<string, number>();
  /** The revision the kept settings are current for (read after it was); the store's revision only increases. */
  #revision: number | undefined;
  /** The last changes read asked for, and when (`performance.now()`): batches read before then share it. */
  #check: { at: number; since: number; changes: Promise<ConfigChanges> } | undefined;

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
        if (found === undefined) looked.set(key, (found = this.#plugin(tenantId, name, actor, readAt)));
        return found;
      },
    };
  }

  async #plugin(tenantId: string, name: string, actor: string, readAt: number): Promise<JsonObject> {
    const check = this.#changesAfter(readAt);
    const changes = await check.changes;
    this.#apply(check.since, changes);
    this.#bound();
    let tenant = this.#kept.get(tenantId);
    const kept = tenant?.get(name);
    if (kept !== undefined) return kept;
    const read = this.store.config.getPlugin({ tenantId, actor }, name);
    if (tenant === undefined) this.#kept.set(tenantId, (tenant = new Map<string, Promise<JsonObject>>()));
    tenant.set(name, read);
    this.#entries++;
    const into = tenant;
    read.then(
      (settings) => {
        if (this.#kept.get(tenantId) !== into || into.get(name) !== read) return;
        const chars = JSON.stringify(settings).length;
        if (chars > this.bounds.entryChars) this.#forget(tenantId, name);
        else {
          this.#chars += chars;
          this.#charsOf.set(tenantId, (this.#charsOf.get(tenantId) ?? 0) + chars);
        }
      },
      // A failed read is not kept: the next batch reads again.
      () => {
        if (this.#kept.get(tenantId) === into && into.get(name) === read) this.#forget(tenantId, name);
      },
    );
    return read;
  }

  /**
   * Brings the kept settings to `changes` (the writes after revision `since`): drops the tenants
   * written since, or everything. Checks may overlap (a batch of a later turn asks while an earlier
   * check is still out): one that answers a revision not newer than the kept one changes nothing, and
   * one asked from an older revision than the kept one still names every tenant written after it.
   */
  #apply(since: number, changes: ConfigChanges): void {
    const kept = this.#revision;
    if (kept !== undefined && changes.revision <= kept) return;
    if (kept === undefined || since > kept || changes.tenants === null) this.#dropAll();
    else for (const tenantId of changes.tenants) this.#dropTenant(tenantId ?? '');
    this.#revision = changes.revision;
  }

  /**
   * Keeps what is held within the bounds: past either, the tenant holding the most (characters when
   * those are over, else entries) is dropped, then the next, until under — a tenant storing large
   * settings for many plugins re-reads its own, never makes every tenant's be read again.
   */
  #bound(): void {
    while (this.#entries >= this.bounds.entries || this.#chars > this.bounds.chars) {
      const byChars = this.#chars > this.bounds.chars;
      let most: string | undefined;
      let held = -1;
      for (const [tenantId, names] of this.#kept) {
        const size = byChars ? (this.#charsOf.get(tenantId) ?? 0) : names.size;
        if (size > held) {
          held = size;
          most = tenantId;
        }
      }
      if (most === undefined) return this.#dropAll();
      this.#dropTenant(most);
    }
  }

  #dropAll(): void {
    this.#kept = new Map();
    this.#charsOf = new Map();
    this.#entries = 0;
    this.#chars = 0;
  }

  #dropTenant(tenantId: string): void {
    const tenant = this.#kept.get(tenantId);
    if (tenant === undefined) return;
    this.#kept.delete(tenantId);
    this.#entries -= tenant.size;
    this.#chars -= this.#charsOf.get(tenantId) ?? 0;
    this.#charsOf.delete(tenantId);
  }

  #forget(tenantId: string, name: string): void {
    const tenant = this.#kept.get(tenantId);
    if (tenant?.delete(name) !== true) return;
    this.#entries--;
    if (tenant.size === 0) this.#kept.delete(tenantId);
  }

  /** What changed after the kept revision, read after `readAt` (by this call or by one asked for since). */
  #changesAfter(readAt: number): { since: number; changes: Promise<ConfigChanges> } {
    const check = this.#check;
    if (check !== undefined && check.at >= readAt) return check;
    const since = this.#revision ?? 0;
    const at = performance.now();
    const changes = this.store.config.changesSince(since, SETTINGS_CHANGES_LIMIT);
    const next = { at, since, changes };
    this.#check = next;
    changes.catch(() => {
      if (this.#check === next) this.#check = undefined;
    });
    return next;
  }
}
