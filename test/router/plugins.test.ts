/**
 * ROUTER-2/5/6: the seed TaskPrioritizer through the real model gateway, failure containment with
 * retries and dead letters, and hot reload with version pins — against the embedded bus and Redis.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { PINS_VIEW } from '../../src/router/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { PRIORITIZER_WEIGHTS, recentCalls, scoreTask } from '../../src/model-gateway/index.js';
import { BACKENDS, Observer, allOfType, compiledTs, deployProbe, drained, marks, newSite, openApp, probeWasm, TEST_APP_OPTIONS, refresh, until, watModule, type AppSite } from './harness.js';

let probe: Uint8Array;
let prioritizer: Uint8Array;
let trapper: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
  prioritizer = await compiledTs('task-prioritizer-gateway');
  trapper = await watModule('trap-mid-writes');
}, 600_000);

const acme = { tenantId: 'acme', actor: 'user:test' };
const globex = { tenantId: 'globex', actor: 'user:test' };

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

describe.each(BACKENDS)('router with real plugins ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  const open = async (options = TEST_APP_OPTIONS): Promise<UeeApp> => {
    site = newSite(name, 'plugins');
    app = await openApp(site, {}, options);
    return app;
  };
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-2 TaskPrioritizer calls task.prioritizer.v2 through the gateway, writes priorityScore and suggests, offline', async () => {
    await open();
    const observer = new Observer(app);
    await app.registry.deploy('user:test', {
      manifest: {
        name: 'DivFlo.TaskPrioritizer',
        subscribeTo: ['TaskCreated', 'TaskUpdated'],
        capabilities: ['readEntities', 'writeEntities', 'invokeModels', 'updateReadModels', 'emitEvents'],
        models: ['task.prioritizer.v2'],
        restrictedEntityTypes: ['Task'],
      },
      wasm: prioritizer,
      language: 'ts',
    });
    await refresh(app);
    const attrs = { title: 'Ship the release', priority: 'high', energy: 'high', estimateHours: 2, dueAt: '2020-01-01T00:00:00.000Z' };
    const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: attrs, eventType: 'TaskCreated' });
    const scored = await until('priorityScore on the task', async () => {
      const t = await app.store.get(acme, task.entityId);
      return t.metadata.priorityScore === undefined ? undefined : t;
    });
    const events = await until('the suggestion', async () => {
      const all = await observer.poll();
      return all.some((e) => e.type === 'NextActionSuggested') ? all : undefined;
    });
    const created = events.find((e) => e.type === 'TaskCreated')!;
    // The plugin saw the event 'now' = occurredAt; the task is overdue by (now - dueAt) days.
    const dueInDays = (Date.parse(attrs.dueAt) - Date.parse(created.occurredAt)) / 86_400_000;
    const expected = scoreTask(PRIORITIZER_WEIGHTS, { dueInDays, estimateHours: 2, energy: 'high', importance: 5 });
    const score = Math.round(expected.score * 1000) / 1000;
    expect(scored).toMatchObject({ version: 2, attributes: attrs, metadata: { priorityScore: score, priorityLabel: expected.label }, causationId: created.eventId });
    const prioritized = events.find((e) => e.type === 'TaskPrioritized');
    expect(prioritized).toMatchObject({ entityId: task.entityId, causationId: created.eventId, hop: 1 });
    expect(events.find((e) => e.type === 'NextActionSuggested')).toMatchObject({ entityId: task.entityId, payload: { suggestion: 'do-today', score }, causationId: created.eventId, hop: 1 });
    expect((await app.store.readModels.get(acme, 'task-priorities', task.entityId)).doc).toEqual({ title: attrs.title, score });
    // The call went through the gateway (audited as a plugin call), not around it.
    const calls = recentCalls(app.gateway, { model: 'task.prioritizer.v2' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ tenantId: 'acme', pluginName: 'DivFlo.TaskPrioritizer', eventId: created.eventId, source: 'plugin', servedBy: 'task.prioritizer.v2' });
    // Its own TaskPrioritized event is not one it subscribes to: no loop, one invocation.
    await drained(app, pluginGroup('DivFlo.TaskPrioritizer', null));
    expect(app.runtime!.router.metrics.snapshot()[0]).toMatchObject({ invocations: 1, successes: 1 });
    expect(app.pluginLogs.query({ pluginName: 'DivFlo.TaskPrioritizer' })[0]).toMatchObject({ level: 'info', message: 'task prioritized', eventId: created.eventId });
  });

  it('ROUTER-5 a trapping plugin is retried then dead-lettered with its attempts, commits nothing, and a healthy plugin keeps its pace', async () => {
    await open();
    await deployProbe(app, probe, { name: 'Healthy', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'healthy' } });
    await refresh(app);
    // Quiet phase: the healthy plugin's latency with nobody failing next to it.
    const N = 20;
    const quietLatency: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { phase: 'quiet', i }, eventType: 'TaskCreated' });
      await until('healthy mark', async () => ((await marks(app, 'acme')).some((m) => m.sourceEntity === task.entityId) ? true : undefined));
      quietLatency.push(performance.now() - t0);
    }
    // Attack: a plugin that buffers writes and an emit then traps, and one that throws after a write.
    await app.registry.deploy('user:test', { manifest: { name: 'Trapper', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'emitEvents'] }, wasm: trapper });
    await deployProbe(app, probe, { name: 'Thrower', subscribeTo: ['TaskCreated'], settings: { mode: 'throw', marker: 'thrower', code: 'NOT_TODAY' } });
    await refresh(app);
    const attackLatency: number[] = [];
    const attacked: string[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { phase: 'attack', i }, eventType: 'TaskCreated' });
      attacked.push(task.entityId);
      await until('healthy mark under attack', async () => ((await marks(app, 'acme')).some((m) => m.sourceEntity === task.entityId) ? true : undefined));
      attackLatency.push(performance.now() - t0);
    }
    const trapDead = await until('every trap dead-lettered', async () => {
      const d = await app.bus.deadLetters({ group: laneGroup('Trapper', 'acme'), count: 1000 });
      return d.length === N ? d : undefined;
    }, 60_000);
    const throwDead = await until('every throw dead-lettered', async () => {
      const d = await app.bus.deadLetters({ group: laneGroup('Thrower', 'acme'), count: 1000 });
      return d.length === N ? d : undefined;
    }, 60_000);
    expect(new Set(trapDead.map((d) => d.event.entityId))).toEqual(new Set(attacked));
    for (const d of trapDead) {
      expect(d.error.code).toBe('PLUGIN_TRAP');
      expect(d.attempts.map((a) => a.code)).toEqual(['PLUGIN_TRAP', 'PLUGIN_TRAP', 'PLUGIN_TRAP']);
    }
    for (const d of throwDead) {
      expect(d.error.code).toBe('PLUGIN_ERROR');
      expect(d.attempts).toHaveLength(3);
    }
    await drained(app, pluginGroup('Healthy', null));
    // Nothing of a failed invocation was committed: no half-written entities, no emit, no thrower mark.
    await expect(app.store.get(acme, 'half-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(app.store.get(acme, 'half-2')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const all = await marks(app, 'acme');
    expect(all.filter((m) => m.marker === 'thrower')).toEqual([]);
    expect(all.filter((m) => m.marker === 'healthy')).toHaveLength(2 * N);
    const observer = new Observer(app);
    expect((await observer.poll()).filter((e) => e.type === 'HalfDone')).toEqual([]);
    const metrics = app.runtime!.router.metrics.snapshot();
    expect(metrics.find((m) => m.name === 'Trapper')).toMatchObject({ invocations: 3 * N, successes: 0, retries: 2 * N, deadLettered: N, errors: { PLUGIN_TRAP: 3 * N } });
    const healthy = metrics.find((m) => m.name === 'Healthy')!;
    expect(healthy).toMatchObject({ invocations: 2 * N, successes: 2 * N });
    expect(app.runtime!.host.stats().workers).toBe(2);
    const report = {
      backend: name,
      quietPutToEffectMs: { p50: pct(quietLatency, 0.5), p95: pct(quietLatency, 0.95) },
      attackPutToEffectMs: { p50: pct(attackLatency, 0.5), p95: pct(attackLatency, 0.95) },
      healthyInvokeMs: healthy.latencyMs,
      trapperInvokeMs: metrics.find((m) => m.name === 'Trapper')!.latencyMs,
    };
    process.stdout.write(`ROUTER-5 healthy plugin latency during the attack: ${JSON.stringify(report)}\n`);
    // The healthy plugin is not starved: its end-to-end latency under attack stays bounded.
    expect(pct(attackLatency, 0.5)).toBeLessThan(2000);
  }, 120_000);

  it('ROUTER-6 hot reload: v2 deployed mid-stream, each event handled once by one version; disable hands back to v1; a pin routes a tenant to v1', async () => {
    // The periodic reload never comes during the test: a deploy made through the registry alone (as by
    // another process) must reach the routing through its lifecycle event on the bus.
    await open({ ...TEST_APP_OPTIONS, router: { ...TEST_APP_OPTIONS.router, refreshMs: 600_000 } });
    const v1 = await deployProbe(app, probe, { name: 'Hot', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'v1' } });
    await refresh(app);
    const TOTAL = 200;
    let v2Id = '';
    for (let seq = 0; seq < TOTAL; seq++) {
      await app.store.commit(acme, { events: [{ type: 'Tick', payload: { seq } }] });
      if (seq === 80) {
        v2Id = (await deployProbe(app, probe, { name: 'Hot', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'v2' } })).id;
        expect(v2Id).not.toBe(v1.id);
        // A plugin new to the table misses nothing published after its deploy.
        await deployProbe(app, probe, { name: 'Newcomer', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'new' } });
      }
    }
    const all = await until('every tick handled', async () => {
      const m = (await marks(app, 'acme')).filter((x) => x.marker !== 'new');
      return m.length >= TOTAL ? m : undefined;
    }, 60_000);
    await drained(app, pluginGroup('Hot', null));
    await drained(app, pluginGroup('Newcomer', null));
    const newcomer = (await marks(app, 'acme')).filter((m) => m.marker === 'new').map((m) => Number(m.seq));
    expect(newcomer.sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL - 81 }, (_, i) => 81 + i));
    await app.registry.setStatus({ tenantId: null, actor: 'user:admin' }, (await app.registry.versions({ tenantId: null, actor: 'user:admin' }, 'Newcomer'))[0]!.id, 'disabled');
    const hot = async (): Promise<Awaited<ReturnType<typeof marks>>> => (await marks(app, 'acme')).filter((m) => m.marker !== 'new');
    const final = await hot();
    expect(final).toHaveLength(all.length);
    const bySeq = new Map<number, string[]>();
    for (const m of final) bySeq.set(Number(m.seq), [...(bySeq.get(Number(m.seq)) ?? []), String(m.marker)]);
    expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect([...bySeq.values()].every((v) => v.length === 1)).toBe(true);
    const v1Seqs = final.filter((m) => m.marker === 'v1').map((m) => Number(m.seq));
    const v2Seqs = final.filter((m) => m.marker === 'v2').map((m) => Number(m.seq));
    expect(v2Seqs.length).toBeGreaterThan(0);
    // One switch point: the version is chosen at handling time, so v2 may take over events published
    // before its deploy that the router had not reached yet, but never hands any back to v1.
    expect(Math.max(...v1Seqs)).toBeLessThan(Math.min(...v2Seqs));

    // Disabling v2 hands the stream back to v1.
    await app.registry.setStatus({ tenantId: null, actor: 'user:admin' }, v2Id, 'disabled');
    await refresh(app);
    for (let seq = TOTAL; seq < TOTAL + 20; seq++) await app.store.commit(acme, { events: [{ type: 'Tick', payload: { seq } }] });
    await until('ticks after disable', async () => ((await hot()).length === TOTAL + 20 ? true : undefined));
    expect((await hot()).filter((m) => Number(m.seq) >= TOTAL).map((m) => m.marker)).toEqual(Array(20).fill('v1'));

    // Re-enable v2 and pin acme to v1: acme stays on v1, globex gets v2.
    await app.registry.setStatus({ tenantId: null, actor: 'user:admin' }, v2Id, 'enabled');
    await app.store.readModels.upsert(acme, PINS_VIEW, 'Hot', { version: 1 });
    await refresh(app);
    for (let seq = TOTAL + 20; seq < TOTAL + 30; seq++) {
      await app.store.commit(acme, { events: [{ type: 'Tick', payload: { seq } }] });
      await app.store.commit(globex, { events: [{ type: 'Tick', payload: { seq } }] });
    }
    await until('pinned ticks', async () => ((await hot()).length === TOTAL + 30 && (await marks(app, 'globex')).length === 10 ? true : undefined));
    expect((await hot()).filter((m) => Number(m.seq) >= TOTAL + 20).map((m) => m.marker)).toEqual(Array(10).fill('v1'));
    expect((await marks(app, 'globex')).map((m) => m.marker)).toEqual(Array(10).fill('v2'));
    expect(await app.bus.deadLetters()).toEqual([]);
    expect((await allOfType(app, 'acme', 'Mark')).every((m) => m.version === 1)).toBe(true);
  }, 120_000);
});
