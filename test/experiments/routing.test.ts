/**
 * EXP-4..6: experiments in the real router (embedded bus, SQLite, compiled plugins): a chain stays
 * in its variant, a guardrail breach restores control without losing or doubling an event, and a
 * shadow run's effects never reach the store or the bus while its diff names the change.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { JsonObject } from '../../src/core/index.js';
import { EXPERIMENTS_VIEW, parseExperiment, type Experiment } from '../../src/experiments/index.js';
import { PINS_VIEW } from '../../src/router/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { Observer, allOfType, compiledTs, drained, newSite, openApp, refresh, until, type AppSite } from '../router/harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await compiledTs('experiment-probe');
}, 600_000);

const acme = { tenantId: 'acme', actor: 'user:test' };

async function deploy(app: UeeApp, name: string, subscribeTo: string, settings: JsonObject): Promise<void> {
  await app.registry.deploy('user:test', { manifest: { name, subscribeTo: [subscribeTo], capabilities: ['writeEntities', 'emitEvents'], settings }, wasm: probe, language: 'ts' });
}

/** Starts an experiment the way experiment_start stores it. */
async function start(app: UeeApp, exp: Omit<Experiment, 'status' | 'startedAt' | 'createdBy'>): Promise<void> {
  const { id, ...doc } = { ...exp, status: 'running', startedAt: new Date().toISOString(), createdBy: 'user:test' };
  await app.store.readModels.upsert(acme, EXPERIMENTS_VIEW, id, JSON.parse(JSON.stringify(doc)) as JsonObject);
  await refresh(app);
}

async function stored(app: UeeApp, id: string): Promise<Experiment> {
  const d = await app.store.readModels.get(acme, EXPERIMENTS_VIEW, id);
  return parseExperiment(id, d.doc)!;
}

async function marks(app: UeeApp): Promise<JsonObject[]> {
  return (await allOfType(app, 'acme', 'Mark')).map((m) => m.attributes);
}

describe('experiments in the router (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });
  const open = async (): Promise<void> => {
    site = newSite('embedded', 'experiments');
    app = await openApp(site);
  };

  it('EXP-4 a three-plugin chain stays in the variant its root was assigned, though its later events hash differently', async () => {
    await open();
    for (const v of [1, 2]) {
      await deploy(app, 'ChainA', 'TaskCreated', { marker: `A${v}`, emitType: 'StepB', detach: true });
      await deploy(app, 'ChainB', 'StepB', { marker: `B${v}`, emitType: 'StepC', detach: true });
      await deploy(app, 'ChainC', 'StepC', { marker: `C${v}` });
    }
    await start(app, {
      id: 'chain',
      kind: 'split',
      plugins: ['ChainA', 'ChainB', 'ChainC'],
      key: 'entity',
      variants: [
        { name: 'control', weight: 50, versions: { ChainA: 1, ChainB: 1, ChainC: 1 } },
        { name: 'candidate', weight: 50, versions: { ChainA: 2, ChainB: 2, ChainC: 2 } },
      ],
      guardrails: { minSamples: 20 },
    });
    const N = 60;
    for (let i = 0; i < N; i++) await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: i }, eventType: 'TaskCreated' });
    const all = await until('every chain to finish', async () => {
      const m = await marks(app);
      return m.length === 3 * N ? m : undefined;
    }, 60_000);
    const chains = new Map<string, JsonObject[]>();
    for (const m of all) chains.set(String(m.correlationId), [...(chains.get(String(m.correlationId)) ?? []), m]);
    expect(chains.size).toBe(N);
    const perVariant = { control: 0, candidate: 0 };
    for (const chain of chains.values()) {
      const digits = new Set(chain.map((m) => String(m.marker).slice(1)));
      const variants = new Set(chain.map((m) => m.variant));
      expect(chain).toHaveLength(3);
      expect(digits.size).toBe(1);
      expect(variants.size).toBe(1);
      const variant = chain[0]!.variant as 'control' | 'candidate';
      expect(digits.has(variant === 'control' ? '1' : '2')).toBe(true);
      expect(chain.every((m) => m.experiment === 'chain')).toBe(true);
      perVariant[variant]++;
    }
    expect(perVariant.control).toBeGreaterThan(10);
    expect(perVariant.candidate).toBeGreaterThan(10);
    // Each variant's exposures are counted per plugin invocation.
    const snap = app.runtime!.router.experiments.snapshot('acme', await stored(app, 'chain'));
    expect(snap.variants.map((v) => v.stats.exposures)).toEqual([3 * perVariant.control, 3 * perVariant.candidate]);
  });

  it('EXP-5 a candidate that starts failing trips the error-rate guardrail: control restored, every event handled once, none lost', async () => {
    await open();
    await deploy(app, 'Guarded', 'TaskCreated', { marker: 'v1' });
    await deploy(app, 'Guarded', 'TaskCreated', { marker: 'v2', failFrom: 30 });
    await start(app, {
      id: 'guarded',
      kind: 'split',
      plugins: ['Guarded'],
      key: 'entity',
      variants: [
        { name: 'control', weight: 50, versions: { Guarded: 1 } },
        { name: 'candidate', weight: 50, versions: { Guarded: 2 } },
      ],
      guardrails: { maxErrorRate: 0.2, minSamples: 5 },
    });
    const N = 100;
    for (let i = 0; i < N; i++) await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: i }, eventType: 'TaskCreated' });
    await drained(app, pluginGroup('Guarded', null), 60_000);
    await app.runtime!.router.experiments.ended('acme', 'guarded');
    const exp = await stored(app, 'guarded');
    expect(exp.status).toBe('stopped');
    expect(exp.reason).toMatch(/^guardrail: variant candidate error rate/);
    expect((await app.store.readModels.get(acme, PINS_VIEW, 'Guarded')).doc).toEqual({ version: 1 });
    // Every event exactly once: no loss, none handled (committed) by both versions.
    const m = await marks(app);
    expect(m.map((x) => x.seq).sort((a, b) => Number(a) - Number(b))).toEqual([...Array(N).keys()]);
    expect(m.filter((x) => x.marker === 'v2').every((x) => Number(x.seq) < 30)).toBe(true);
    expect(await app.bus.deadLetters({ group: laneGroup('Guarded', 'acme'), count: 100 })).toHaveLength(0);
    // The stop kept the figures: the candidate's failures, each handed to control.
    const final = exp.final as { variants: Array<{ name: string; stats: { failures: number; fallbacks: number } }> };
    const cand = final.variants.find((v) => v.name === 'candidate')!.stats;
    expect(cand.failures).toBeGreaterThan(0);
    expect(cand.fallbacks).toBe(cand.failures);
    // Afterwards control handles everything.
    for (let i = N; i < N + 20; i++) await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: i }, eventType: 'TaskCreated' });
    await drained(app, pluginGroup('Guarded', null), 60_000);
    const after = (await marks(app)).filter((x) => Number(x.seq) >= N);
    expect(after).toHaveLength(20);
    expect(after.every((x) => x.marker === 'v1' && x.experiment === null)).toBe(true);
  });

  it('EXP-6 a shadow run: the candidate\'s writes and emits reach neither store nor bus; its diff names the known change on every event', async () => {
    await open();
    const observer = new Observer(app);
    await deploy(app, 'Shadowed', 'TaskCreated', { marker: 'm' });
    await app.registry.deploy('user:test', {
      manifest: { name: 'Shadowed', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'emitEvents'], settings: { marker: 'm', double: true, emitType: 'ShadowEmit' } },
      wasm: probe,
      language: 'ts',
    });
    await start(app, {
      id: 'shadow',
      kind: 'shadow',
      plugins: ['Shadowed'],
      key: 'entity',
      variants: [
        { name: 'live', weight: 1, versions: { Shadowed: 1 } },
        { name: 'candidate', weight: 1, versions: { Shadowed: 2 } },
      ],
      guardrails: { minSamples: 20 },
    });
    const N = 20;
    for (let i = 0; i < N; i++) await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: i }, eventType: 'TaskCreated' });
    await drained(app, pluginGroup('Shadowed', null), 60_000);
    const exp = await stored(app, 'shadow');
    const snap = await until('every event compared', () => {
      const s = app.runtime!.router.experiments.snapshot('acme', exp);
      return s.shadow !== undefined && s.shadow.compared + s.shadow.skipped === N ? s : undefined;
    });
    const shadow = snap.shadow!;
    expect(shadow.compared).toBeGreaterThan(0);
    expect(shadow.different).toBe(shadow.compared);
    for (const d of shadow.diffs) {
      const emit = d.onlyCandidate.find((l) => l.startsWith('emit'));
      expect(emit).toContain('"type":"ShadowEmit"');
      const seq = Number(/"seq":(\d+)/.exec(emit!)![1]);
      // seq 0 doubles to 0: only the emit differs.
      expect(d.onlyLive).toHaveLength(seq === 0 ? 0 : 1);
      expect(d.onlyCandidate).toHaveLength(seq === 0 ? 1 : 2);
      if (seq > 0) {
        expect(d.onlyLive[0]).toContain(`"n":${seq},`);
        expect(d.onlyCandidate.find((l) => l.startsWith('write'))).toContain(`"n":${seq * 2},`);
      }
    }
    // Only the live version's effects exist.
    const m = await marks(app);
    expect(m).toHaveLength(N);
    expect(m.every((x) => x.n === x.seq)).toBe(true);
    const events = await observer.poll();
    expect(events.some((e) => e.type === 'ShadowEmit')).toBe(false);
  });
});
