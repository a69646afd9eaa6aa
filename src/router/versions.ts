import type { EventEnvelope } from '../core/index.js';
import type { EntityStore, ScopedDoc } from '../store/port.js';
import type { PluginRecord } from '../registry/index.js';
import { EXPERIMENTS_VIEW, assignVariant, assignmentValue, parseExperiment, type Experiment, type Variant } from '../experiments/index.js';

/** Read-model view holding per-tenant version pins: id = plugin name, doc = `{ version }`. */
export const PINS_VIEW = 'uee.plugin-pins';

/** The version that handles an event, and the experiment arm that chose it (if one did). */
export interface VersionChoice {
  plugin: PluginRecord;
  arm?: { experiment: Experiment; variant: Variant };
}

/**
 * Which version of a logical plugin handles an event: the tenant's pin when that version is enabled,
 * else the variant of a running experiment on the plugin, else the newest enabled version. Decided
 * once per delivery, when it is handled (never when it is queued), so every event is handled by
 * exactly one version however deploys, pins and experiments change while it waits — and the effects'
 * idempotency key names the logical plugin, not the version, so a redelivery that resolves to another
 * version still commits at most once.
 *
 * An experiment's variant is decided at the chain's root — a hash of the root event's key — and
 * carried down the chain in the envelope's `experiment` tag: a plugin further down the chain takes
 * the carried variant, whatever entity its event is about, so a chain stays in one variant end to end.
 */
export class VersionResolver {
  #pins = new Map<string, Map<string, number>>();
  /** tenant → plugin name → running experiment (split or shadow). */
  #experiments = new Map<string, Map<string, Experiment>>();

  /**
   * Reloads every tenant's pins and running experiments from the store: each view in one scan across
   * tenants where the store has it ({@link EntityStore.viewAcrossTenants}) — what the views hold, not
   * two queries per tenant — else tenant by tenant.
   */
  async load(store: EntityStore): Promise<void> {
    const pins = new Map<string, Map<string, number>>();
    const experiments = new Map<string, Map<string, Experiment>>();
    const tenants = await store.tenants.list();
    if (store.viewAcrossTenants === undefined) {
      for (const tenant of tenants) {
        const read = await readTenant(store, tenant.tenantId);
        if (read.pins.size > 0) pins.set(tenant.tenantId, read.pins);
        if (read.experiments.size > 0) experiments.set(tenant.tenantId, read.experiments);
      }
    } else {
      // A tenant's pins and experiments count while it is registered (as the per-tenant reads had it).
      const registered = new Set(tenants.map((t) => t.tenantId));
      for await (const d of acrossTenants(store, PINS_VIEW)) {
        if (d.tenantId === null || !registered.has(d.tenantId)) continue;
        let byName = pins.get(d.tenantId);
        if (byName === undefined) pins.set(d.tenantId, (byName = new Map<string, number>()));
        byName.set(d.id, Number(d.doc.version));
      }
      for await (const d of acrossTenants(store, EXPERIMENTS_VIEW)) {
        if (d.tenantId === null || !registered.has(d.tenantId)) continue;
        const exp = parseExperiment(d.id, d.doc);
        if (exp?.status !== 'running') continue;
        let byName = experiments.get(d.tenantId);
        if (byName === undefined) experiments.set(d.tenantId, (byName = new Map<string, Experiment>()));
        for (const name of exp.plugins) byName.set(name, exp);
      }
    }
    this.#pins = pins;
    this.#experiments = experiments;
  }

  /** Reloads one tenant's pins and running experiments (a change this process made; the others' stay as loaded). */
  async loadTenant(store: EntityStore, tenantId: string): Promise<void> {
    const read = await readTenant(store, tenantId);
    const pins = new Map(this.#pins);
    const experiments = new Map(this.#experiments);
    if (read.pins.size > 0) pins.set(tenantId, read.pins);
    else pins.delete(tenantId);
    if (read.experiments.size > 0) experiments.set(tenantId, read.experiments);
    else experiments.delete(tenantId);
    this.#pins = pins;
    this.#experiments = experiments;
  }

  /** Pins a version in memory at once (a guardrail restoring control before its store write is reloaded). */
  pin(tenantId: string, name: string, version: number): void {
    let byName = this.#pins.get(tenantId);
    if (byName === undefined) this.#pins.set(tenantId, (byName = new Map<string, number>()));
    byName.set(name, version);
  }

  /** Forgets a running experiment in memory at once (it ended here; the store says so at the next load). */
  end(tenantId: string, experimentId: string): void {
    const byName = this.#experiments.get(tenantId);
    if (byName === undefined) return;
    for (const [name, exp] of byName) if (exp.id === experimentId) byName.delete(name);
  }

  /** The running experiments this resolver routes by (each once). */
  running(): Array<{ tenantId: string; experiment: Experiment }> {
    const seen = new Map<string, { tenantId: string; experiment: Experiment }>();
    for (const [tenantId, byName] of this.#experiments) for (const exp of byName.values()) seen.set(`${tenantId}\u0000${exp.id}`, { tenantId, experiment: exp });
    return [...seen.values()];
  }

  /** The version of `route` that handles `event`, or undefined when none is enabled. */
  resolve(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): PluginRecord | undefined {
    return this.choose(route, event)?.plugin;
  }

  /** {@link resolve} with the experiment arm that chose the version. */
  choose(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): VersionChoice | undefined {
    const tenantPins = event.tenantId === null ? undefined : this.#pins.get(event.tenantId);
    const pinned = tenantPins?.get(route.name);
    if (pinned === undefined && event.tenantId !== null && this.#experiments.size > 0) {
      const exp = this.#experiments.get(event.tenantId)?.get(route.name);
      // A shadow run's live version is its control; the candidate only runs on copies (see shadow()).
      if (exp?.kind === 'shadow') {
        const live = this.control(route, exp);
        if (live !== undefined) return { plugin: live };
      } else if (exp !== undefined) {
        const tag = event.experiment;
        const carried = tag !== undefined && tag.id === exp.id ? exp.variants.find((v) => v.name === tag.variant) : undefined;
        const variant = carried ?? assignVariant(exp, assignmentValue(exp.key, event));
        const plugin = enabledVersion(route, variant.versions[route.name]);
        if (plugin !== undefined) return { plugin, arm: { experiment: exp, variant } };
      }
    }
    let newest: PluginRecord | undefined;
    for (const v of route.versions) {
      if (v.attributes.status !== 'enabled') continue;
      if (pinned === undefined) return { plugin: v }; // newest first
      if (v.attributes.pluginVersion === pinned) return { plugin: v };
      newest ??= v;
    }
    return newest === undefined ? undefined : { plugin: newest };
  }

  /** The control version of an experiment on `route` (variants[0]), when enabled. */
  control(route: { name: string; versions: PluginRecord[] }, experiment: Experiment): PluginRecord | undefined {
    return enabledVersion(route, experiment.variants[0]?.versions[route.name]);
  }

  /** The candidate version a running shadow run executes beside the live one on `route`'s events. */
  shadow(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): { experiment: Experiment; plugin: PluginRecord } | undefined {
    if (event.tenantId === null || this.#experiments.size === 0) return undefined;
    const exp = this.#experiments.get(event.tenantId)?.get(route.name);
    if (exp === undefined || exp.kind !== 'shadow') return undefined;
    const plugin = enabledVersion(route, exp.variants[1]?.versions[route.name]);
    return plugin === undefined ? undefined : { experiment: exp, plugin };
  }
}

function enabledVersion(route: { versions: PluginRecord[] }, version: number | undefined): PluginRecord | undefined {
  if (version === undefined) return undefined;
  return route.versions.find((v) => v.attributes.pluginVersion === version && v.attributes.status === 'enabled');
}

/** Every scope's documents of a cross-tenant view, a page at a time ({@link EntityStore.viewAcrossTenants}). */
async function* acrossTenants(store: EntityStore, view: string): AsyncGenerator<ScopedDoc> {
  let after: { tenantId: string | null; id: string } | undefined;
  for (;;) {
    const page = await store.viewAcrossTenants!(view, 1000, after);
    yield* page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < 1000) return;
    after = { tenantId: last.tenantId, id: last.id };
  }
}

/** One tenant's pins (plugin name → version) and running experiments (plugin name → experiment), as stored. */
async function readTenant(store: EntityStore, tenantId: string): Promise<{ pins: Map<string, number>; experiments: Map<string, Experiment> }> {
  const ctx = { tenantId, actor: 'system:router' };
  const [page, exps] = await Promise.all([store.readModels.query(ctx, PINS_VIEW, { limit: 1000 }), store.readModels.query(ctx, EXPERIMENTS_VIEW, { filter: { status: 'running' }, limit: 1000 })]);
  const experiments = new Map<string, Experiment>();
  for (const d of exps.items) {
    const exp = parseExperiment(d.id, d.doc);
    if (exp?.status !== 'running') continue;
    for (const name of exp.plugins) experiments.set(name, exp);
  }
  return { pins: new Map(page.items.map((d) => [d.id, Number(d.doc.version)])), experiments };
}

