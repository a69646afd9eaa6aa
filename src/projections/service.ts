import { z } from 'zod';
import { UeeError, isReservedView, type ErrorCode, newId, toUeeError, type EventEnvelope, type JsonObject, type Logger, type ReadModelOp, type TenantContext } from '../core/index.js';
import type { EntityStore, IndexInfo, QueryIndexStore } from '../store/index.js';
import { checkIndexSpec } from '../store/query-index.js';
import { applyEvent, compileProjection, keyOf, ProjectionDefinitionSchema, type CompiledProjection, type ProjectionDefinition } from './definition.js';

/**
 * The platform side of declarative projections: definitions, incremental maintenance from the
 * event journal, rebuilds into a new version and the atomic swap.
 *
 * Storage, all in the tenant's read models:
 * - `uee.projections/<name>`: the {@link ProjectionState} — the definition and which version readers see;
 * - `uee.pv.<name>.<version>`: the documents of one version (readers ask for view `<name>` and are
 *   sent to the active version by {@link ProjectionService.resolveView});
 * - `uee.projection-checkpoints/<name>.<version>`: the journal position a version reflects.
 *
 * Exactly once: one step folds a page of journal entries after the version's checkpoint and commits
 * the changed documents and the new checkpoint together, under the idempotency key
 * `uee.proj:<buildId>:<checkpoint>`. A second maintainer (another process, a redelivered or retried
 * step) starting from the same checkpoint commits nothing, so every event affects a version once; the
 * journal itself holds each event id once. Steps are bounded (one journal page, at most
 * `batchEvents` events), so the main thread is never held long.
 */

/** The stored state of one projection. */
export interface ProjectionState {
  name: string;
  /** The latest definition; a rebuild builds it. */
  definition: ProjectionDefinition;
  definedAt: string;
  /** What readers see (null until the first rebuild swaps a version in). */
  active: { version: number; buildId: string; definition: ProjectionDefinition; swappedAt: string } | null;
  /** The version the last swap replaced: kept (not maintained) until the next rebuild or drop. */
  retired: number | null;
  /** A rebuild under way (or interrupted: the next rebuild starts over). */
  building: { version: number; buildId: string; startedAt: string } | null;
  /** Highest version number used. */
  lastVersion: number;
  /**
   * Minted when the projection is first defined: the rebuild and swap fences (idempotency keys)
   * of a dropped and re-defined projection never collide with the old one's. Absent in states
   * stored before it (fenced as '').
   */
  lifeId?: string;
  /** Fields indexed on every version (query_index on the projection name): created on a new version before its swap, dropped with an old one. */
  indexes: string[];
  /** Why the projection stopped (maintenance of `version`) or why its last rebuild failed; cleared by a successful rebuild. */
  error: ProjectionError | null;
}

/** A typed failure recorded in a projection's state (e.g. `LIMIT_EXCEEDED` past `maxDocuments`). */
export interface ProjectionError {
  code: string;
  message: string;
  during: 'maintenance' | 'rebuild';
  version: number;
  at: string;
}

const StateSchema = z.object({
  name: z.string(),
  definition: ProjectionDefinitionSchema,
  definedAt: z.string(),
  active: z.object({ version: z.number().int(), buildId: z.string(), definition: ProjectionDefinitionSchema, swappedAt: z.string() }).nullable(),
  retired: z.number().int().nullable(),
  building: z.object({ version: z.number().int(), buildId: z.string(), startedAt: z.string() }).nullable(),
  lastVersion: z.number().int(),
  lifeId: z.string().optional(),
  indexes: z.array(z.string()).default([]),
  error: z.object({ code: z.string(), message: z.string(), during: z.enum(['maintenance', 'rebuild']), version: z.number().int(), at: z.string() }).nullable().default(null),
});

const CheckpointSchema = z.object({ position: z.number().int(), applied: z.number().int(), skipped: z.number().int(), docs: z.number().int().default(0) });
type Checkpoint = z.infer<typeof CheckpointSchema>;

/** View of projection states. */
export const PROJECTIONS_VIEW = 'uee.projections';
/** View of version checkpoints. */
export const CHECKPOINTS_VIEW = 'uee.projection-checkpoints';

/** The read-model view holding version `version` of projection `name`. */
export function versionView(name: string, version: number): string {
  return `uee.pv.${name}.${version}`;
}

const SOURCE = { kind: 'system', id: 'projections' } as const;
/** Documents kept in one maintainer's cache before it starts over (it then reads misses from the store). */
const CACHE_MAX = 50_000;
/** Journal positions a dry run looks back over. */
const DRY_RUN_SPAN = 5000;

/** Progress of a rebuild. */
export interface RebuildProgress {
  phase: 'scan' | 'swap' | 'done';
  version: number;
  position: number;
  head: number;
  applied: number;
}

/** One version being maintained: its checkpoint and a cache of documents valid at it. */
class Maintained {
  /** Documents as of `validAt` (null: known absent). */
  readonly cache = new Map<string, JsonObject | null>();
  /** The checkpoint the cache reflects; -1 when unknown. */
  validAt = -1;
  /** Every document of the version is in the cache (a fresh version, never evicted): a miss means absent. */
  complete = false;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly ctx: TenantContext,
    readonly name: string,
    readonly version: number,
    readonly buildId: string,
    readonly p: CompiledProjection,
  ) {}

  /** Runs `fn` after every earlier call on this version: steps never overlap in one process. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  forget(): void {
    this.cache.clear();
    this.validAt = -1;
    this.complete = false;
  }
}

/** Result of one maintenance step. */
interface StepResult {
  position: number;
  head: number;
  end: boolean;
  applied: number;
}

/** Steps (journal pages folded) one tenant's projections take per maintenance round, all together. */
export const STEPS_PER_TENANT_ROUND = 20;

/** Options of {@link ProjectionService}. */
export interface ProjectionServiceOptions {
  logger: Logger;
  /** Events folded per step (one commit). Keep under the store's maxBatchSize. @default 500 */
  batchEvents?: number;
  /** How often active projections are brought up to date. @default 250 */
  pollMs?: number;
  /** How often the set of projections is re-read (others' defines, drops and swaps). @default 5000 */
  refreshMs?: number;
  /** Documents one projection (one version) of one tenant may hold; past it the projection stops with `LIMIT_EXCEEDED`. @default 1000000 */
  maxDocuments?: number;
  /** How long a resolved view name (projection → active version) is reused before the state is read again; a swap in this process invalidates it at once. @default 1000 */
  resolveCacheMs?: number;
  /** Clock of the resolve cache (tests). @default Date.now */
  now?: () => number;
}

/** The parts of a physical version view, or null for any other view. */
export function parseVersionView(view: string): { name: string; version: number } | null {
  const m = /^uee\.pv\.(.+)\.(\d+)$/.exec(view);
  return m === null ? null : { name: m[1]!, version: Number(m[2]) };
}

/** Declarative projections of one application (see the module comment). */
export class ProjectionService {
  readonly #maintained = new Map<string, Maintained>();
  readonly #rebuilding = new Set<string>();
  /** Resolved views by tenant and name: the physical view (or the name itself) and when it was read. */
  readonly #resolved = new Map<string, { view: string | null; at: number }>();
  readonly #batch: number;
  readonly #maxDocs: number;
  #timer: NodeJS.Timeout | undefined;
  #lastRefresh = 0;
  /** Per tenant: which of its projections steps first in the next round. */
  readonly #turns = new Map<string, number>();
  #ticking = false;
  #stopped = false;

  constructor(
    private readonly store: EntityStore,
    private readonly options: ProjectionServiceOptions,
  ) {
    this.#batch = Math.max(1, Math.min(900, options.batchEvents ?? 500));
    this.#maxDocs = Math.max(1, options.maxDocuments ?? 1_000_000);
  }

  // ---- definitions -------------------------------------------------------------------------

  /** The state of `name`, or null. */
  async #state(ctx: TenantContext, name: string): Promise<ProjectionState | null> {
    try {
      const d = await this.store.readModels.get(ctx, PROJECTIONS_VIEW, name);
      return StateSchema.parse(d.doc);
    } catch (err) {
      if (err instanceof UeeError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  async #requireState(ctx: TenantContext, name: string): Promise<ProjectionState> {
    const s = await this.#state(ctx, name);
    if (s === null) throw new UeeError('NOT_FOUND', `no projection "${String(name).slice(0, 100)}" in this tenant`, { details: { name }, hint: 'projection_list shows the defined projections; projection_define adds one' });
    return s;
  }

  async #save(ctx: TenantContext, s: ProjectionState): Promise<void> {
    await this.store.readModels.upsert(ctx, PROJECTIONS_VIEW, s.name, s as unknown as JsonObject);
    this.#resolved.delete(this.#id(ctx, s.name));
  }

  /**
   * Saves the state only if no process (this one or another on the same store) has committed
   * `fence` before: the state write and the fence commit together, so of two processes racing
   * through the same transition exactly one applies it. Returns whether this one did.
   */
  async #saveFenced(ctx: TenantContext, s: ProjectionState, fence: string): Promise<boolean> {
    const r = await this.store.commit(ctx, {
      idempotencyKey: `uee.projection.${fence}:${s.name}:${s.lifeId ?? ''}`,
      readModelOps: [{ op: 'upsert', view: PROJECTIONS_VIEW, id: s.name, doc: s as unknown as JsonObject }],
      source: { kind: 'system', id: 'projections' },
    });
    this.#resolved.delete(this.#id(ctx, s.name));
    return r.applied;
  }

  /**
   * Defines (or redefines) a projection. A new definition takes effect with the next rebuild
   * ({@link rebuild}); until then readers keep the active version. With `dryRun`, nothing is stored
   * and the definition is folded over the tenant's recent events instead: a sample of the documents
   * it would produce.
   */
  async define(ctx: TenantContext, raw: unknown, options: { dryRun?: boolean; sample?: number } = {}): Promise<{ state: ProjectionState | null; sample: JsonObject[]; stats: { events: number; applied: number; skipped: number } | null; rebuildRequired: boolean }> {
    const p = compileProjection(raw);
    const def = p.definition;
    const existing = await this.#state(ctx, def.name);
    if (existing === null) {
      const taken = await this.store.readModels.query(ctx, def.name, { limit: 1 });
      if (taken.items.length > 0) {
        throw new UeeError('VALIDATION_FAILED', `view "${def.name}" already holds documents written by plugins or tools`, { details: { name: def.name }, hint: 'name the projection differently, or delete the documents of that view first' });
      }
    }
    if (options.dryRun === true) {
      const { sample, stats } = await this.#dryRun(ctx, p, Math.max(1, Math.min(50, options.sample ?? 10)));
      return { state: existing, sample, stats, rebuildRequired: true };
    }
    const now = new Date().toISOString();
    const state: ProjectionState = existing === null
      ? { name: def.name, definition: def, definedAt: now, active: null, retired: null, building: null, lastVersion: 0, lifeId: newId(), indexes: [], error: null }
      : { ...existing, definition: def, definedAt: now };
    await this.#save(ctx, state);
    const same = state.active !== null && JSON.stringify(state.active.definition) === JSON.stringify(def);
    return { state, sample: [], stats: null, rebuildRequired: !same };
  }

  async #dryRun(ctx: TenantContext, p: CompiledProjection, n: number): Promise<{ sample: JsonObject[]; stats: { events: number; applied: number; skipped: number } }> {
    const { head } = await this.store.journal.info(ctx);
    let after = Math.max(0, head - DRY_RUN_SPAN);
    const events: EventEnvelope[] = [];
    for (;;) {
      const page = await this.store.journal.read(ctx, { after, types: p.definition.events, limit: 1000 });
      events.push(...page.entries.map((e) => e.event));
      if (page.end || page.next >= head) break;
      after = page.next;
    }
    const docs = new Map<string, JsonObject>();
    let applied = 0;
    for (const e of events) {
      const k = keyOf(p, e);
      if (k === null) continue;
      applied++;
      docs.delete(k);
      docs.set(k, applyEvent(p, k, docs.get(k) ?? null, e));
    }
    // Most recently touched first.
    return { sample: [...docs.values()].reverse().slice(0, n), stats: { events: events.length, applied, skipped: events.length - applied } };
  }

  /** Every projection of the tenant. */
  async list(ctx: TenantContext): Promise<ProjectionState[]> {
    const page = await this.store.readModels.query(ctx, PROJECTIONS_VIEW, { limit: 1000 });
    return page.items.map((d) => StateSchema.parse(d.doc));
  }

  /** One projection with where its active version stands in the journal. */
  async get(ctx: TenantContext, name: string): Promise<{ state: ProjectionState; position: number | null; head: number; applied: number; skipped: number; documents: number }> {
    const state = await this.#requireState(ctx, name);
    const { head } = await this.store.journal.info(ctx);
    const cp = state.active === null ? null : await this.#checkpoint(ctx, name, state.active.version);
    return { state, position: cp?.position ?? null, head, applied: cp?.applied ?? 0, skipped: cp?.skipped ?? 0, documents: cp?.docs ?? 0 };
  }

  /** Removes a projection and every version's documents. Returns the documents deleted. */
  async drop(ctx: TenantContext, name: string): Promise<number> {
    const state = await this.#requireState(ctx, name);
    await this.store.readModels.delete(ctx, PROJECTIONS_VIEW, name);
    this.#maintained.delete(this.#id(ctx, name));
    this.#resolved.delete(this.#id(ctx, name));
    let deleted = 0;
    const versions = new Set([state.active?.version, state.retired, state.building?.version].filter((v): v is number => typeof v === 'number'));
    for (const v of versions) deleted += await this.#clearVersion(ctx, name, v);
    return deleted;
  }

  /**
   * The view a reader's `view` names: the active version's for a projection, `view` itself otherwise.
   * `NOT_FOUND` for a projection defined but never built.
   */
  async resolveView(ctx: TenantContext, view: string): Promise<string> {
    if (isReservedView(view)) return view;
    const state = await this.#state(ctx, view);
    if (state === null) return view;
    if (state.active === null) throw new UeeError('NOT_FOUND', `projection "${view}" has not been built yet`, { details: { view }, hint: 'run projection_rebuild to build it from the event history' });
    return versionView(view, state.active.version);
  }

  /**
   * {@link resolveView} for hot paths (plugins' host functions): the answer is reused for
   * `resolveCacheMs` (default 1 s). A swap or drop in this process invalidates it at once; one in
   * another process is seen after at most that long — meanwhile readers see the version the swap
   * retired, which is kept (frozen) until the next rebuild, so never an empty view.
   * `null` for a projection defined but never built.
   */
  async resolveViewCached(ctx: TenantContext, view: string): Promise<string | null> {
    if (isReservedView(view)) return view;
    const id = this.#id(ctx, view);
    const hit = this.#resolved.get(id);
    const now = (this.options.now ?? Date.now)();
    if (hit !== undefined && now - hit.at < (this.options.resolveCacheMs ?? 1000)) return hit.view;
    let resolved: string | null;
    try {
      resolved = await this.resolveView(ctx, view);
    } catch (err) {
      if (!(err instanceof UeeError) || err.code !== 'NOT_FOUND') throw err;
      resolved = null;
    }
    if (this.#resolved.size > 10_000) this.#resolved.clear();
    this.#resolved.set(id, { view: resolved, at: now });
    return resolved;
  }

  // ---- indexes ------------------------------------------------------------------------------

  /** Whether `name` is a projection of the tenant. */
  async isProjection(ctx: TenantContext, name: string): Promise<boolean> {
    return !isReservedView(name) && (await this.#state(ctx, name)) !== null;
  }

  /**
   * Indexes `field` on projection `name`: on its active version (and one being built) now, and on
   * every later version before it is swapped in. Returns the active version's index (null before the first build).
   */
  async addIndex(ctx: TenantContext, name: string, field: string): Promise<IndexInfo | null> {
    const idx = this.#indexes();
    const state = await this.#requireState(ctx, name);
    checkIndexSpec({ target: 'readModel', scope: name, field });
    if (!state.indexes.includes(field)) await this.#save(ctx, { ...state, indexes: [...state.indexes, field] });
    if (state.building !== null) await idx.add(ctx, { target: 'readModel', scope: versionView(name, state.building.version), field });
    return state.active === null ? null : idx.add(ctx, { target: 'readModel', scope: versionView(name, state.active.version), field });
  }

  /** Stops indexing `field` on projection `name` and drops its index on every version. Returns whether one was declared. */
  async dropIndex(ctx: TenantContext, name: string, field: string): Promise<boolean> {
    const idx = this.#indexes();
    const state = await this.#state(ctx, name);
    const declared = state?.indexes.includes(field) ?? false;
    if (state !== null && declared) await this.#save(ctx, { ...state, indexes: state.indexes.filter((f) => f !== field) });
    for (const i of await idx.list(ctx)) {
      if (i.target === 'readModel' && i.field === field && parseVersionView(i.scope)?.name === name) await idx.drop(ctx, i.name);
    }
    return declared;
  }

  #indexes(): QueryIndexStore {
    if (this.store.indexes === undefined) throw new UeeError('VALIDATION_FAILED', `the ${this.store.kind} store has no query indexes`, { hint: 'run UEE on SQLite or PostgreSQL to use query indexes' });
    return this.store.indexes;
  }

  // ---- maintenance --------------------------------------------------------------------------

  #id(ctx: TenantContext, name: string): string {
    return `${ctx.tenantId ?? ''}\u0000${name}`;
  }

  async #checkpoint(ctx: TenantContext, name: string, version: number): Promise<Checkpoint> {
    try {
      return CheckpointSchema.parse((await this.store.readModels.get(ctx, CHECKPOINTS_VIEW, `${name}.${version}`)).doc);
    } catch (err) {
      if (err instanceof UeeError && err.code === 'NOT_FOUND') return { position: 0, applied: 0, skipped: 0, docs: 0 };
      throw err;
    }
  }

  async #dropIndexesOf(ctx: TenantContext, view: string): Promise<void> {
    if (this.store.indexes === undefined) return;
    for (const i of await this.store.indexes.list(ctx)) if (i.target === 'readModel' && i.scope === view) await this.store.indexes.drop(ctx, i.name);
  }

  async #clearVersion(ctx: TenantContext, name: string, version: number): Promise<number> {
    await this.#dropIndexesOf(ctx, versionView(name, version));
    let total = 0;
    for (;;) {
      const n = await this.store.readModels.deleteView(ctx, versionView(name, version), 5000);
      total += n;
      if (n < 5000) break;
    }
    await this.store.readModels.delete(ctx, CHECKPOINTS_VIEW, `${name}.${version}`);
    return total;
  }

  async #docs(m: Maintained, keys: string[]): Promise<void> {
    const view = versionView(m.name, m.version);
    const missing = keys.filter((k) => !m.cache.has(k));
    if (m.complete) {
      for (const k of missing) m.cache.set(k, null);
      return;
    }
    for (let i = 0; i < missing.length; i += 64) {
      await Promise.all(
        missing.slice(i, i + 64).map(async (k) => {
          try {
            m.cache.set(k, (await this.store.readModels.get(m.ctx, view, k)).doc);
          } catch (err) {
            if (!(err instanceof UeeError) || err.code !== 'NOT_FOUND') throw err;
            m.cache.set(k, null);
          }
        }),
      );
    }
  }

  /** Folds one journal page into version `m` and commits it with its checkpoint (see the module comment). */
  #step(m: Maintained): Promise<StepResult> {
    return m.serial(async () => {
      const cp = await this.#checkpoint(m.ctx, m.name, m.version);
      if (cp.position !== m.validAt) {
        const fresh = m.complete && m.validAt === -1 && cp.position === 0;
        m.cache.clear();
        m.complete = fresh;
        m.validAt = cp.position;
      }
      const page = await this.store.journal.read(m.ctx, { after: cp.position, types: m.p.definition.events, limit: this.#batch });
      if (page.next === cp.position) return { position: cp.position, head: page.head, end: true, applied: cp.applied };
      const keyed: Array<[string, EventEnvelope]> = [];
      let skipped = 0;
      for (const e of page.entries) {
        const k = keyOf(m.p, e.event);
        if (k === null) skipped++;
        else keyed.push([k, e.event]);
      }
      await this.#docs(m, [...new Set(keyed.map(([k]) => k))]);
      const changed = new Map<string, JsonObject>();
      let added = 0;
      for (const [k, e] of keyed) {
        const prior = changed.get(k) ?? m.cache.get(k) ?? null;
        if (prior === null) added++;
        changed.set(k, applyEvent(m.p, k, prior, e));
      }
      const next: Checkpoint = { position: page.next, applied: cp.applied + keyed.length, skipped: cp.skipped + skipped, docs: cp.docs + added };
      if (next.docs > this.#maxDocs) {
        throw new UeeError('LIMIT_EXCEEDED', `projection "${m.name}" would hold more than ${this.#maxDocs} documents`, {
          details: { name: m.name, limit: 'maxDocuments', max: this.#maxDocs, docs: next.docs },
          hint: 'narrow the projection (a coarser key or a filter) with projection_define and rebuild, or raise --projection-max-documents',
        });
      }
      const view = versionView(m.name, m.version);
      const ops: ReadModelOp[] = [...changed].map(([id, doc]) => ({ op: 'upsert', view, id, doc }));
      ops.push({ op: 'upsert', view: CHECKPOINTS_VIEW, id: `${m.name}.${m.version}`, doc: next });
      const r = await this.store.commit(m.ctx, { idempotencyKey: `uee.proj:${m.buildId}:${cp.position}`, readModelOps: ops, source: SOURCE });
      if (!r.applied) {
        // Another maintainer committed this page first: start over from the stored checkpoint.
        m.forget();
        return { position: cp.position, head: page.head, end: false, applied: cp.applied };
      }
      for (const [k, d] of changed) m.cache.set(k, d);
      if (m.cache.size > CACHE_MAX) {
        m.cache.clear();
        m.complete = false;
      }
      m.validAt = page.next;
      return { position: page.next, head: page.head, end: page.end, applied: next.applied };
    });
  }

  #adopt(ctx: TenantContext, state: ProjectionState): Maintained | null {
    const id = this.#id(ctx, state.name);
    if (state.active === null || (state.error?.during === 'maintenance' && state.error.version === state.active.version)) {
      this.#maintained.delete(id);
      return null;
    }
    const known = this.#maintained.get(id);
    if (known !== undefined && known.buildId === state.active.buildId) return known;
    const m = new Maintained({ tenantId: ctx.tenantId, actor: 'system:projections' }, state.name, state.active.version, state.active.buildId, compileProjection(state.active.definition));
    this.#maintained.set(id, m);
    return m;
  }

  /** Brings the active version of `name` up to the journal's head; returns its position. */
  async catchUp(ctx: TenantContext, name: string): Promise<number> {
    const state = await this.#requireState(ctx, name);
    if (state.error?.during === 'maintenance' && state.error.version === state.active?.version) {
      throw new UeeError(state.error.code as ErrorCode, state.error.message, { details: { name }, hint: 'the projection stopped; fix its definition with projection_define and run projection_rebuild' });
    }
    const m = this.#adopt(ctx, state);
    if (m === null) return 0;
    for (;;) {
      const r = await this.#step(m).catch((err: unknown) => this.#stopOnLimit(m, err));
      if (r.end) return r.position;
    }
  }

  /** Records a `LIMIT_EXCEEDED` of the maintained version `m` in its state and stops maintaining it; rethrows `err`. */
  async #stopOnLimit(m: Maintained, err: unknown): Promise<never> {
    if (err instanceof UeeError && err.code === 'LIMIT_EXCEEDED') {
      const id = this.#id(m.ctx, m.name);
      if (this.#maintained.get(id) === m) this.#maintained.delete(id);
      const state = await this.#state(m.ctx, m.name);
      if (state?.active?.buildId === m.buildId) {
        await this.#save(m.ctx, { ...state, error: { code: err.code, message: err.message, during: 'maintenance', version: m.version, at: new Date().toISOString() } });
        this.options.logger.warn('projection stopped', { tenantId: m.ctx.tenantId, projection: m.name, error: err.message });
      }
    }
    throw err;
  }

  /**
   * Builds the latest definition of `name` from the whole retained journal into a new version, then
   * swaps readers to it in one write. Readers see the previous version (maintained as usual) until the
   * swap, and the new one after; events committed during the scan are folded in by the scan itself,
   * which runs until it reaches the head, and any after that by the maintainer of the new version.
   * One rebuild per projection at a time in this process (`VERSION_CONFLICT` otherwise); across
   * processes sharing the store, a version number is claimed and a swap made under idempotency fences
   * in the store, so two rebuilds never build into one version and never both swap.
   */
  async rebuild(ctx: TenantContext, name: string, options: { onProgress?: (p: RebuildProgress) => Promise<void> | void; signal?: AbortSignal } = {}): Promise<RebuildProgress & { retired: number | null; oldest: number | null }> {
    const id = this.#id(ctx, name);
    if (this.#rebuilding.has(id)) throw new UeeError('VERSION_CONFLICT', `a rebuild of projection "${name}" is already running`, { details: { name }, hint: 'wait for it (projection_get shows building) and call again if needed' });
    this.#rebuilding.add(id);
    try {
      const state = await this.#requireState(ctx, name);
      const p = compileProjection(state.definition);
      const version = state.lastVersion + 1;
      const buildId = newId();
      // Each version number is claimed once per store: a second process that read the same state gets
      // VERSION_CONFLICT here; one that read it after this claim builds the next number, and only the
      // later claim may swap (the check before the swap).
      if (!(await this.#saveFenced(ctx, { ...state, lastVersion: version, building: { version, buildId, startedAt: new Date().toISOString() } }, `build:${version}`))) {
        throw new UeeError('VERSION_CONFLICT', `another process started a rebuild of projection "${name}" first`, { details: { name, version }, hint: 'wait for it (projection_get shows building) and call again if needed' });
      }
      // Leftovers of an interrupted rebuild that used this number are cleared first.
      await this.#clearVersion(ctx, name, version);
      const m = new Maintained({ tenantId: ctx.tenantId, actor: 'system:projections' }, name, version, buildId, p);
      m.complete = true;
      const { oldest } = await this.store.journal.info(ctx);
      let r: StepResult;
      try {
        do {
          if (options.signal?.aborted === true) throw new UeeError('CANCELLED', `rebuild of projection "${name}" cancelled`, { hint: 'call projection_rebuild again; it starts over' });
          r = await this.#step(m);
          await options.onProgress?.({ phase: 'scan', version, position: r.position, head: r.head, applied: r.applied });
        } while (!r.end);
        // Indexes declared on the projection exist on the new version before readers are sent to it
        // (one declared meanwhile is added to the building version by addIndex).
        for (const field of (await this.#requireState(ctx, name)).indexes) await this.#indexes().add(ctx, { target: 'readModel', scope: versionView(name, version), field });
      } catch (err) {
        if (err instanceof UeeError && err.code === 'LIMIT_EXCEEDED') {
          // The version is abandoned: readers keep the active one; the state says why.
          await this.#clearVersion(ctx, name, version);
          const now = await this.#state(ctx, name);
          if (now?.building?.buildId === buildId) await this.#save(ctx, { ...now, building: null, error: { code: err.code, message: err.message, during: 'rebuild', version, at: new Date().toISOString() } });
        }
        throw err;
      }
      const fresh = await this.#requireState(ctx, name);
      if (fresh.building?.buildId !== buildId) {
        await this.#clearVersion(ctx, name, version);
        throw new UeeError('VERSION_CONFLICT', `projection "${name}" changed during the rebuild (another rebuild or a drop)`, { details: { name }, hint: 'projection_get shows its state; call projection_rebuild again' });
      }
      await options.onProgress?.({ phase: 'swap', version, position: r.position, head: r.head, applied: r.applied });
      const swapped: ProjectionState = { ...fresh, active: { version, buildId, definition: state.definition, swappedAt: new Date().toISOString() }, retired: fresh.active?.version ?? null, building: null, error: null };
      // Readers move away from a given active version once: of two rebuilds that both passed the check
      // above (another process's claim landing between it and here), one swaps, the other stops.
      if (!(await this.#saveFenced(ctx, swapped, `swap:${fresh.active?.buildId ?? 'none'}`))) {
        await this.#clearVersion(ctx, name, version);
        throw new UeeError('VERSION_CONFLICT', `another rebuild of projection "${name}" swapped first`, { details: { name, version }, hint: 'projection_get shows the active version; call projection_rebuild again if needed' });
      }
      this.#maintained.set(id, m);
      if (fresh.retired !== null) await this.#clearVersion(ctx, name, fresh.retired);
      // The retired version is no longer read (but by another process's cache for a moment): its indexes go now, so each counts once against the tenant's limit between rebuilds.
      if (fresh.active !== null) await this.#dropIndexesOf(ctx, versionView(name, fresh.active.version));
      r = await this.#step(m).catch((err: unknown) => this.#stopOnLimit(m, err));
      const done: RebuildProgress = { phase: 'done', version, position: r.position, head: r.head, applied: r.applied };
      await options.onProgress?.(done);
      return { ...done, retired: swapped.retired, oldest };
    } finally {
      this.#rebuilding.delete(id);
    }
  }

  // ---- background -----------------------------------------------------------------------------

  /** Starts keeping every tenant's active projections up to date (polling the journal). */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => void this.tick(), this.options.pollMs ?? 250);
    this.#timer.unref();
  }

  /**
   * One maintenance round: re-reads the projection set when due, then steps the active versions
   * towards their heads — at most {@link STEPS_PER_TENANT_ROUND} steps per tenant, shared by its projections.
   */
  async tick(): Promise<void> {
    if (this.#ticking || this.#stopped) return;
    this.#ticking = true;
    try {
      if (Date.now() - this.#lastRefresh >= (this.options.refreshMs ?? 5000)) {
        await this.#refresh().catch((err: unknown) => {
          if (!this.#stopped) this.options.logger.warn('reading the projection set failed', { error: toUeeError(err).message });
        });
      }
      const byTenant = new Map<string, Maintained[]>();
      for (const m of this.#maintained.values()) {
        const key = m.ctx.tenantId ?? '';
        const list = byTenant.get(key);
        if (list === undefined) byTenant.set(key, [m]);
        else list.push(m);
      }
      for (const [tenant, list] of byTenant) {
        // A tenant's projections share its steps of the round, one step each in turn, starting where
        // its last round stopped: many projections behind (one tenant's hundreds) take that tenant
        // more rounds, not every other tenant's round.
        let at = (this.#turns.get(tenant) ?? 0) % list.length;
        const ended = new Set<Maintained>();
        for (let steps = 0; steps < STEPS_PER_TENANT_ROUND && ended.size < list.length && !this.#stopped; ) {
          const m = list[at]!;
          at = (at + 1) % list.length;
          if (ended.has(m)) continue;
          steps++;
          const r = await this.#step(m).catch((err: unknown) => this.#stopOnLimit(m, err)).catch((err: unknown) => {
            if (!this.#stopped) this.options.logger.warn('projection step failed', { tenantId: m.ctx.tenantId, projection: m.name, error: toUeeError(err).message });
            return null;
          });
          if (r === null || r.end) ended.add(m);
        }
        this.#turns.set(tenant, at);
      }
      for (const tenant of this.#turns.keys()) if (!byTenant.has(tenant)) this.#turns.delete(tenant);
    } finally {
      this.#ticking = false;
    }
  }

  async #refresh(): Promise<void> {
    this.#lastRefresh = Date.now();
    const scopes: TenantContext[] = [{ tenantId: null, actor: 'system:projections' }, ...(await this.store.tenants.list()).map((t) => ({ tenantId: t.tenantId, actor: 'system:projections' }))];
    const live = new Set<string>();
    for (const ctx of scopes) {
      for (const s of await this.list(ctx)) {
        if (this.#adopt(ctx, s) !== null) live.add(this.#id(ctx, s.name));
      }
    }
    for (const id of [...this.#maintained.keys()]) if (!live.has(id)) this.#maintained.delete(id);
  }

  /** Stops the background loop. Idempotent. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }
}
