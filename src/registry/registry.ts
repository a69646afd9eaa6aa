import { createHash } from 'node:crypto';
import type { EntityVersion, EntityWrite, TenantContext } from '../core/index.js';
import { UeeError, parseOrThrow } from '../core/index.js';
import type { EntityHead, EntityStore } from '../store/port.js';
import type { EventBus } from '../bus/port.js';
import {
  PLUGIN_ENTITY_TYPE,
  PluginAttributesSchema,
  PluginManifestSchema,
  checkManifestFilter,
  checkManifestSubscriptions,
  type PluginAttributes,
  type PluginManifest,
  type PluginManifestInput,
} from './manifest.js';
import { DEFAULT_REGISTRY_LIMITS, checkSubscriberLimit, isGuardConflict, type RegistryLimits } from './subscriber-limit.js';

/** A deployed plugin version as the runtime and tools see it. */
export interface PluginRecord {
  /** The plugin entity's id: identifies this version. */
  id: string;
  /** Entity version of the plugin entity (status changes bump it). */
  entityVersion: number;
  tenantId: string | null;
  attributes: PluginAttributes;
}

/** What a module inspection found: the checks deploy relies on. */
export interface ModuleInspection {
  /** The module to store (rewritten when its memory maximum had to be capped). */
  bytes: Uint8Array;
  exports: string[];
  /** `module/name` of every import. */
  imports: string[];
}

/**
 * Validates a module against the plugin contract (docs/plugin-abi.md): a valid module, the entry
 * export of its kind, imports only of granted host functions (`CAPABILITY_DENIED` naming the missing
 * capability), a memory that fits the budget. Throws `INVALID_MODULE` for what cannot run.
 */
export type ModuleInspector = (
  bytes: Uint8Array,
  requirements: { kind: PluginManifest['kind']; capabilities: PluginManifest['capabilities']; memoryPages: number; timeoutMs?: number },
) => Promise<ModuleInspection>;

/** Stores module bytes content-addressed by sha256. */
export interface BinaryStore {
  put(bytes: Uint8Array): Promise<{ sha256: string; size: number }>;
  get(sha256: string): Promise<Uint8Array>;
}

/** A deploy request. */
export interface DeployRequest {
  manifest: PluginManifestInput;
  wasm: Uint8Array;
  language?: string;
  source?: { language: string; files: Record<string, string> };
  /** Validate and plan only. @default false */
  dryRun?: boolean;
}

/** A deploy plan (dry run) or result. */
export interface DeployResult {
  applied: boolean;
  plugin: PluginRecord;
  /** Capabilities gained and lost against the latest enabled version of the same name, if any. */
  capabilityDiff: { added: string[]; removed: string[]; previousVersion: number | null };
  warnings: string[];
}

/**
 * The plugin registry: deploys (validate → store binary → `uee.plugin` entity + `PluginInstalled`
 * through the outbox), lists versions, enables/disables and reads binaries. Plugins are global
 * entities unless scoped to a tenant, in which case they live in that tenant.
 */
export class PluginRegistry {
  constructor(
    private readonly store: EntityStore,
    private readonly binaries: BinaryStore,
    private readonly inspect: ModuleInspector,
    private readonly bus?: EventBus,
    private readonly limits: RegistryLimits = DEFAULT_REGISTRY_LIMITS,
  ) {}

  /** Validates a manifest and module and deploys a new version (or returns the plan when `dryRun`). */
  async deploy(actor: string, request: DeployRequest): Promise<DeployResult> {
    const manifest = parseOrThrow(PluginManifestSchema, request.manifest, 'plugin manifest');
    checkManifestFilter(manifest);
    checkManifestSubscriptions(manifest);
    const ctx = scopeContext(manifest, actor);
    if (ctx.tenantId !== null) await this.store.tenants.get(ctx.tenantId);
    let guard = await checkSubscriberLimit(this.store, ctx, manifest, this.limits);
    const inspection = await this.inspect(request.wasm, {
      kind: manifest.kind,
      capabilities: manifest.capabilities,
      memoryPages: manifest.maximumResourceBudget.memoryPages,
      timeoutMs: manifest.maximumResourceBudget.timeoutMs,
    });

    const previous = await this.versions(ctx, manifest.name);
    const latest = previous[0];
    const latestEnabled = previous.find((p) => p.attributes.status === 'enabled');
    const sha256 = createHash('sha256').update(inspection.bytes).digest('hex');
    const attributes: PluginAttributes = {
      ...manifest,
      pluginVersion: (latest?.attributes.pluginVersion ?? 0) + 1,
      status: 'enabled',
      language: request.language ?? request.source?.language ?? 'wasm',
      ...(request.source ? { source: request.source } : {}),
      binary: { sha256, size: inspection.bytes.byteLength },
      exports: inspection.exports,
      imports: inspection.imports,
      deployedAt: new Date().toISOString(),
    };
    const before = new Set(latestEnabled?.attributes.capabilities ?? []);
    const after = new Set(manifest.capabilities);
    const capabilityDiff = {
      added: [...after].filter((c) => !before.has(c)),
      removed: [...before].filter((c) => !after.has(c)),
      previousVersion: latestEnabled?.attributes.pluginVersion ?? null,
    };
    const warnings: string[] = [];
    if (manifest.capabilities.includes('emitEvents') && manifest.subscribeTo.length > 0) {
      warnings.push('this plugin both subscribes and emits: make sure it cannot trigger itself (the hop limit stops runaway chains)');
    }
    const draft: PluginRecord = { id: '(new)', entityVersion: 1, tenantId: ctx.tenantId, attributes };
    if (request.dryRun) return { applied: false, plugin: draft, capabilityDiff, warnings };

    await this.binaries.put(inspection.bytes);
    // The plugin's delivery queue exists before its PluginInstalled commit, so a router queues events
    // for it as soon as its routing table has the version (the deploy tool refreshes the local one).
    await this.bus?.ensureQueue(pluginGroup(manifest.name, ctx.tenantId));
    // A version number is taken by creating the entity whose id it names ("must not exist yet"):
    // two deploys racing — in one process or several sharing the store — never get the same number;
    // the loser moves on to the next free one. The subscriber guard commits with it: a deploy or
    // enable that took a subscriber slot meanwhile sends this one back to the check.
    for (let attempt = 0; ; attempt++) {
      try {
        const write: EntityWrite = { entityId: pluginVersionId(ctx.tenantId, manifest.name, attributes.pluginVersion), entityTypeId: PLUGIN_ENTITY_TYPE, attributes, expectedVersion: 0, eventType: 'PluginInstalled' };
        const written = await this.store.commit(ctx, { writes: guard === undefined ? [write] : [write, guard], source: { kind: 'system', id: actor } });
        return { applied: true, plugin: toRecord(written.versions[0]!), capabilityDiff, warnings };
      } catch (err) {
        if (!(err instanceof UeeError && err.code === 'VERSION_CONFLICT') || attempt >= MAX_VERSION_RACES) throw err;
        if (isGuardConflict(err)) guard = await checkSubscriberLimit(this.store, ctx, manifest, this.limits);
        else attributes.pluginVersion++;
      }
    }
  }

  /**
   * Every version of a plugin name in a scope, newest first. Read by id, never by a filtered scan:
   * version N of a name is the entity {@link pluginVersionId}(scope, name, N) and numbers are taken
   * one after another from 1, so the newest is found in O(log N) primary-key reads and the versions
   * are then read by id — the cost follows this plugin's versions, not how many plugins the scope
   * holds (a filtered scan over a scope of 1,000 plugins ran out of its query budget).
   */
  async versions(ctx: TenantContext, name: string): Promise<PluginRecord[]> {
    const newest = await this.#newestVersion(ctx, name);
    const out: PluginRecord[] = [];
    for (let top = newest; top >= 1; top -= VERSION_READ_BATCH) {
      const numbers = Array.from({ length: Math.min(VERSION_READ_BATCH, top) }, (_, i) => top - i);
      const found = await Promise.all(numbers.map((n) => this.version(ctx, name, n)));
      for (const r of found) if (r !== undefined) out.push(r);
    }
    return out;
  }

  /**
   * The newest enabled version of a name in a scope, or undefined: the newest found in O(log N)
   * reads, then versions read newest first until an enabled one. What resolving a name to run costs
   * follows the disabled versions on top of it, not every version ever deployed ({@link versions}
   * reads them all, sources included: each call of a model plugin with 300 versions read 300).
   */
  async newestEnabled(ctx: TenantContext, name: string): Promise<PluginRecord | undefined> {
    for (let n = await this.#newestVersion(ctx, name); n >= 1; n--) {
      const version = await this.version(ctx, name, n);
      if (version?.attributes.status === 'enabled') return version;
    }
    return undefined;
  }

  /** Version `n` of a name in the context's own scope, or undefined. */
  async version(ctx: TenantContext, name: string, n: number): Promise<PluginRecord | undefined> {
    try {
      const entity = await this.store.get(ctx, pluginVersionId(ctx.tenantId, name, n));
      if (entity.entityTypeId !== PLUGIN_ENTITY_TYPE || entity.tenantId !== ctx.tenantId) return undefined;
      return toRecord(entity);
    } catch (err) {
      if (err instanceof UeeError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The highest version number of a name (0 when none): doubling, then bisection over existence. */
  async #newestVersion(ctx: TenantContext, name: string): Promise<number> {
    const exists = async (n: number): Promise<boolean> => (await this.version(ctx, name, n)) !== undefined;
    if (!(await exists(1))) return 0;
    let low = 1;
    let high = 2;
    while (await exists(high)) {
      low = high;
      high *= 2;
    }
    // Invariant: `low` exists, `high` does not.
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await exists(mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  /** All plugin versions visible in a scope (a tenant sees its own and global ones). */
  async list(ctx: TenantContext): Promise<PluginRecord[]> {
    const out: PluginRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.query(ctx, { entityTypeId: PLUGIN_ENTITY_TYPE, limit: 1000, ...(cursor ? { cursor } : {}) });
      out.push(...page.items.map(toRecord));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  /**
   * Every plugin version of every scope: global ones and each registered tenant's. One indexed scan
   * of the store ({@link EntityStore.latestOfType}), a page of 1,000 at a time; a store without it is
   * queried tenant by tenant.
   */
  async listAll(): Promise<PluginRecord[]> {
    if (this.store.latestOfType !== undefined) {
      const tenants = new Set((await this.store.tenants.list()).map((t) => t.tenantId));
      const out: PluginRecord[] = [];
      let after: { entityId: string; tenantId: string | null } | undefined;
      for (;;) {
        const page = await this.store.latestOfType(PLUGIN_ENTITY_TYPE, 1000, after);
        // A tenant's plugins count while the tenant is registered (as the per-tenant queries had it).
        for (const v of page) if (v.tenantId === null || tenants.has(v.tenantId)) out.push(toRecord(v));
        const last = page[page.length - 1];
        if (last === undefined || page.length < 1000) return out;
        after = { entityId: last.entityId, tenantId: last.tenantId };
      }
    }
    const global = await this.list({ tenantId: null, actor: 'system:registry' });
    const perTenant = await Promise.all(
      (await this.store.tenants.list()).map(async (t) =>
        (await this.list({ tenantId: t.tenantId, actor: 'system:registry' })).filter((p) => p.tenantId === t.tenantId),
      ),
    );
    return [...global, ...perTenant.flat()];
  }

  /**
   * {@link listAll}'s records, reading only what moved since `known` was read: a version whose entity
   * is still at the version `known` holds is taken from it, and only new and changed versions are
   * read from the store — one indexed scan of the entities' heads ({@link EntityStore.headsOfType}),
   * no documents. Every version ever deployed stays in the registry with its sources, so reading them
   * all cost what every tenant ever deployed: 57 ms of the main thread for one plugin with 500
   * versions of a 50 KB source (`bench/routing-table`, 2026-12-08; 2.5 ms this way), the router's
   * periodic reload in every process. A store without heads lists them all, and so does a caller that
   * knows none: a page of documents per query, not one read per version (on PostgreSQL, a round trip
   * each at a process's first load).
   */
  async listAllSince(known: ReadonlyMap<string, PluginRecord>): Promise<PluginRecord[]> {
    if (this.store.headsOfType === undefined || known.size === 0) return this.listAll();
    const tenants = new Set((await this.store.tenants.list()).map((t) => t.tenantId));
    const out: PluginRecord[] = [];
    let after: { entityId: string; tenantId: string | null } | undefined;
    for (;;) {
      const page = await this.store.headsOfType(PLUGIN_ENTITY_TYPE, 1000, after);
      const moved: EntityHead[] = [];
      for (const head of page) {
        // A tenant's plugins count while the tenant is registered (as listAll has it).
        if (head.tenantId !== null && !tenants.has(head.tenantId)) continue;
        const kept = known.get(recordKey(head.tenantId, head.entityId));
        if (kept !== undefined && kept.entityVersion === head.version) out.push(kept);
        else moved.push(head);
      }
      for (let i = 0; i < moved.length; i += VERSION_READ_BATCH) {
        const read = await Promise.all(moved.slice(i, i + VERSION_READ_BATCH).map((h) => this.get({ tenantId: h.tenantId, actor: 'system:registry' }, h.entityId).catch(absent)));
        // (Gone since its head was read: not listed.)
        for (const r of read) if (r !== undefined) out.push(r);
      }
      const last = page[page.length - 1];
      if (last === undefined || page.length < 1000) return out;
      after = { entityId: last.entityId, tenantId: last.tenantId };
    }
  }

  /** One plugin version by id; `NOT_FOUND` when not visible. */
  async get(ctx: TenantContext, id: string): Promise<PluginRecord> {
    const entity = await this.store.get(ctx, id);
    if (entity.entityTypeId !== PLUGIN_ENTITY_TYPE) throw new UeeError('NOT_FOUND', `plugin ${id} not found`);
    return toRecord(entity);
  }

  /** Enables or disables a version, publishing `PluginEnabled` / `PluginDisabled`. Idempotent. */
  async setStatus(ctx: TenantContext, id: string, status: 'enabled' | 'disabled'): Promise<PluginRecord> {
    const current = await this.get(ctx, id);
    if (current.attributes.status === status) return current;
    if (current.tenantId !== ctx.tenantId) {
      throw new UeeError('TENANT_FORBIDDEN', `plugin ${id} is global; only an administrator can ${status === 'enabled' ? 'enable' : 'disable'} it`);
    }
    const write: EntityWrite = {
      entityId: id,
      entityTypeId: PLUGIN_ENTITY_TYPE,
      expectedVersion: current.entityVersion,
      attributes: { ...current.attributes, status },
      eventType: status === 'enabled' ? 'PluginEnabled' : 'PluginDisabled',
    };
    // An enable takes a subscriber slot: its guard commits with it, and a slot taken meanwhile sends it back to the check.
    for (let attempt = 0; ; attempt++) {
      const guard = status === 'enabled' ? await checkSubscriberLimit(this.store, ctx, current.attributes, this.limits) : undefined;
      try {
        const written = await this.store.commit(ctx, { writes: guard === undefined ? [write] : [write, guard], source: { kind: 'system', id: ctx.actor } });
        return toRecord(written.versions[0]!);
      } catch (err) {
        if (!isGuardConflict(err) || attempt >= MAX_VERSION_RACES) throw err;
      }
    }
  }

  /** The module bytes of a version. */
  async binary(record: PluginRecord): Promise<Uint8Array> {
    return this.binaries.get(record.attributes.binary.sha256);
  }
}

/** Versions read at once by {@link PluginRegistry.versions}. */
const VERSION_READ_BATCH = 16;

/** The key of a record in {@link PluginRegistry.listAllSince}'s `known`: its scope and id. */
export function recordKey(tenantId: string | null, id: string): string {
  return `${tenantId ?? ''}\u0000${id}`;
}

/** Undefined for a `NOT_FOUND` (a `.catch` of a read that may find nothing); anything else is thrown again. */
function absent(err: unknown): undefined {
  if (err instanceof UeeError && err.code === 'NOT_FOUND') return undefined;
  throw err;
}

/** Deploys racing for version numbers, and deploys or enables for a subscriber slot, give up after this many lost races. */
const MAX_VERSION_RACES = 32;

/**
 * The entity id of one version of a logical plugin: unique per (scope, name, version), so creating
 * it claims the version number atomically in any store.
 */
export function pluginVersionId(tenantId: string | null, name: string, version: number): string {
  return `plugin-${createHash('sha256').update(`${tenantId ?? '*'}\u0000${name}`).digest('hex').slice(0, 24)}-v${version}`;
}

/** Consumer-group name of a logical plugin (a name within a scope); all its versions share it. */
export function pluginGroup(name: string, tenantId: string | null): string {
  return `plugin:${tenantId ?? '*'}:${name}`;
}

/**
 * The queue of a global plugin for one tenant's events (a lane): each tenant's events wait in their
 * own, so one tenant's backlog never sits in front of another's (the router reads the lanes
 * separately, and its in-hand shares and the worker pool's fairness then apply per tenant). The
 * plugin's own queue ({@link pluginGroup}) keeps the global scope's events. Under 200 characters
 * (a bus name) for any tenant id and plugin name.
 */
export function laneGroup(name: string, tenantId: string): string {
  return `lane:${tenantId}:${name}`;
}

/**
 * The logical plugin a router queue serves — `plugin:<tenant|*>:<name>` ({@link pluginGroup}) or a
 * global plugin's lane `lane:<tenant>:<name>` ({@link laneGroup}, with the lane's tenant) — or null
 * for other queues.
 */
export function queuePlugin(group: string): { name: string; tenantId: string | null; group: string; lane?: string } | null {
  const m = /^(plugin|lane):([^:]+):(.+)$/.exec(group);
  if (!m) return null;
  const name = m[3]!;
  if (m[1] === 'lane') return { name, tenantId: null, group: pluginGroup(name, null), lane: m[2]! };
  const tenantId = m[2] === '*' ? null : m[2]!;
  return { name, tenantId, group: pluginGroup(name, tenantId) };
}

/** The store context a manifest's plugin entity lives in. */
export function scopeContext(manifest: PluginManifest, actor: string): TenantContext {
  return { tenantId: manifest.tenantScope === 'global' ? null : (manifest.tenantId ?? null), actor };
}

function toRecord(entity: EntityVersion): PluginRecord {
  const attributes = parseOrThrow(PluginAttributesSchema, entity.attributes, `plugin entity ${entity.entityId}`, 'CORRUPT_DATA');
  return { id: entity.entityId, entityVersion: entity.version, tenantId: entity.tenantId, attributes: trustedScope(entity.tenantId, attributes) };
}

/**
 * What the router and host trust about a plugin's reach comes from where its entity is stored, never
 * from attributes a client may have written: a plugin stored in a tenant is scoped to that tenant
 * (`tenantScope: "global"` there becomes `"tenant"`), and its `tenantId` attribute is the tenant it is
 * stored in. Only a plugin stored globally (which only the platform writes) is global.
 */
export function trustedScope(storedTenantId: string | null, a: PluginAttributes): PluginAttributes {
  // Only the platform writes global plugin entities; a non-global scope there only narrows (the
  // router matches a scoped plugin to events of its stored tenant, which for a global entity is none).
  if (storedTenantId === null) return a;
  if (a.tenantScope !== 'global' && a.tenantId === storedTenantId) return a;
  return { ...a, tenantScope: a.tenantScope === 'global' ? 'tenant' : a.tenantScope, tenantId: storedTenantId };
}
