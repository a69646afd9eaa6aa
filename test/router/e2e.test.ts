/**
 * ROUTER-E2E: the real composition (UeeApp from a config object) routing store events to deployed
 * plugins, against the embedded bus and real Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { BACKENDS, Observer, deployProbe, drained, marks, newSite, openApp, probeWasm, refresh, until, type AppSite } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };
const globex = { tenantId: 'globex', actor: 'user:test' };

describe.each(BACKENDS)('router end to end ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  const open = async (extra = {}): Promise<UeeApp> => {
    site = newSite(name, 'e2e');
    app = await openApp(site, extra);
    return app;
  };
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });
  afterAll(() => undefined);

  it('ROUTER-1 a deployed plugin reacts to a store write: its write is committed once, caused by the event', async () => {
    await open();
    const observer = new Observer(app);
    await deployProbe(app, probe, { name: 'Marker', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'm1' } });
    await refresh(app);
    const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { title: 'write tests' }, eventType: 'TaskCreated' });
    const [mark] = await until('the plugin write', async () => {
      const m = (await marks(app, 'acme')).filter((x) => x.sourceEntity === task.entityId);
      return m.length > 0 ? m : undefined;
    });
    await drained(app, pluginGroup('Marker', null));
    const taskCreated = (await observer.poll()).find((e) => e.type === 'TaskCreated' && e.entityId === task.entityId);
    expect(taskCreated).toBeDefined();
    expect(mark).toMatchObject({ marker: 'm1', sourceEvent: taskCreated!.eventId, sawEntity: task.entityId, hop: 0, causationId: taskCreated!.eventId });
    expect((await marks(app, 'acme')).filter((x) => x.sourceEntity === task.entityId)).toHaveLength(1);
    const markEvent = (await observer.poll()).find((e) => e.entityId === mark!.entityId);
    expect(markEvent).toMatchObject({ causationId: taskCreated!.eventId, correlationId: taskCreated!.correlationId, hop: 1, source: { kind: 'plugin' } });
    expect(await app.bus.deadLetters()).toEqual([]);
    const [metrics] = app.runtime!.router.metrics.snapshot().filter((m) => m.name === 'Marker');
    expect(metrics).toMatchObject({ invocations: 1, successes: 1 });
  });

  it('ROUTER-3 a chain A→B→C propagates correlation, causation and hop', async () => {
    await open();
    const observer = new Observer(app);
    await deployProbe(app, probe, { name: 'ChainA', subscribeTo: ['TaskCreated'], settings: { mode: 'emit', emitType: 'ChainB' } });
    await deployProbe(app, probe, { name: 'ChainB', subscribeTo: ['ChainB'], settings: { mode: 'emit', emitType: 'ChainC' } });
    await deployProbe(app, probe, { name: 'ChainC', subscribeTo: ['ChainC'], settings: { mode: 'mark', marker: 'C' } });
    await refresh(app);
    const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { title: 'chain' }, eventType: 'TaskCreated' });
    const [mark] = await until('the end of the chain', async () => {
      const m = (await marks(app, 'acme')).filter((x) => x.sourceEntity === task.entityId);
      return m.length > 0 ? m : undefined;
    });
    const events = await until('the chain events on the bus', async () => {
      const all = await observer.poll();
      return all.some((e) => e.entityId === mark!.entityId) ? all : undefined;
    });
    const root = events.find((e) => e.type === 'TaskCreated' && e.entityId === task.entityId)!;
    const b = events.find((e) => e.type === 'ChainB')!;
    const c = events.find((e) => e.type === 'ChainC')!;
    const written = events.find((e) => e.entityId === mark!.entityId)!;
    expect(root).toMatchObject({ hop: 0, causationId: null });
    expect(b).toMatchObject({ hop: 1, causationId: root.eventId, correlationId: root.correlationId, tenantId: 'acme', entityId: task.entityId, payload: { hop: 0 } });
    expect(c).toMatchObject({ hop: 2, causationId: b.eventId, correlationId: root.correlationId, tenantId: 'acme', payload: { hop: 1 } });
    expect(mark).toMatchObject({ marker: 'C', sourceEvent: c.eventId, hop: 2, causationId: c.eventId });
    expect(written).toMatchObject({ hop: 3, causationId: c.eventId, correlationId: root.correlationId });
    expect(events.filter((e) => e.type === 'ChainB' || e.type === 'ChainC')).toHaveLength(2);
  });

  it('ROUTER-4 a plugin that triggers itself stops at the hop limit with HOP_LIMIT_EXCEEDED; the runtime stays healthy', async () => {
    await open({ hopLimit: '5' });
    await deployProbe(app, probe, { name: 'Echo', subscribeTo: ['Ping'], settings: { mode: 'emit', emitType: 'Ping', marker: 'echo' } });
    await deployProbe(app, probe, { name: 'Bystander', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'ok' } });
    await refresh(app);
    await app.store.commit(acme, { events: [{ type: 'Ping', payload: {} }] });
    const [dead] = await until('the hop-limit dead letter', async () => {
      const d = await app.bus.deadLetters({ group: laneGroup('Echo', 'acme') });
      return d.length > 0 ? d : undefined;
    });
    expect(dead).toMatchObject({ error: { code: 'HOP_LIMIT_EXCEEDED' }, event: { type: 'Ping', hop: 5 } });
    const echoes = (await marks(app, 'acme')).filter((m) => m.marker === 'echo');
    expect(echoes.map((m) => m.hop).sort()).toEqual([0, 1, 2, 3, 4]);
    // Healthy afterwards: another plugin still reacts, the pool is whole.
    const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { title: 'after' }, eventType: 'TaskCreated' });
    await until('the bystander', async () => ((await marks(app, 'acme')).some((m) => m.marker === 'ok' && m.sourceEntity === task.entityId) ? true : undefined));
    expect(app.runtime!.host.stats().workers).toBe(2);
    expect((await app.status()).runtime.router).toBe('running');
    // The operator sees the router's bound on deliveries in hand: 2 × (concurrency 4 + batchSize 64).
    expect((await app.status()).runtime.inHand).toMatchObject({ capacity: 136, waiting: 0 });
    expect(await app.bus.deadLetters()).toHaveLength(1);
    // …and the invocation records: every delivery's written once flushed, none dropped, none waiting.
    await app.records!.flush();
    const { records } = await app.status();
    expect(records).toMatchObject({ enabled: true, dropped: 0, waiting: 0 });
    expect(records.written).toBe(app.records!.written);
    expect(records.written).toBeGreaterThanOrEqual(7);
  });

  it('ROUTER-8 tenant isolation: a tenant plugin never sees other tenants; a global plugin reading a foreign entity gets null', async () => {
    await open();
    await deployProbe(app, probe, { name: 'AcmeOnly', tenantScope: 'tenant', tenantId: 'acme', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'acme-only' } });
    await deployProbe(app, probe, { name: 'Reader', subscribeTo: ['ReadProbe'], settings: { mode: 'read', marker: 'reader' } });
    await refresh(app);
    const acmeTasks = [];
    for (let i = 0; i < 5; i++) {
      acmeTasks.push(await app.store.put(acme, { entityTypeId: 'Task', attributes: { i }, eventType: 'TaskCreated' }));
      await app.store.put(globex, { entityTypeId: 'Task', attributes: { i }, eventType: 'TaskCreated' });
    }
    const own = await app.store.put(globex, { entityTypeId: 'Task', attributes: { mine: true } });
    await app.store.commit(globex, { events: [{ type: 'ReadProbe', payload: { readId: acmeTasks[0]!.entityId } }] });
    await app.store.commit(globex, { events: [{ type: 'ReadProbe', payload: { readId: own.entityId } }] });
    await until('acme marks', async () => ((await marks(app, 'acme')).length === 5 ? true : undefined));
    await until('reader marks', async () => ((await marks(app, 'globex')).length === 2 ? true : undefined));
    await drained(app, pluginGroup('AcmeOnly', 'acme'));
    await drained(app, pluginGroup('Reader', null));
    const acmeMarks = await marks(app, 'acme');
    expect(acmeMarks.map((m) => m.sourceEntity).sort()).toEqual(acmeTasks.map((t) => t.entityId).sort());
    const globexMarks = await marks(app, 'globex');
    expect(globexMarks.every((m) => m.marker === 'reader')).toBe(true);
    expect(globexMarks.map((m) => m.seen).sort()).toEqual([null, own.entityId].sort());
    const stats = app.runtime!.router.metrics.snapshot();
    expect(stats.find((s) => s.name === 'AcmeOnly')).toMatchObject({ invocations: 5, successes: 5 });
  });

  it('ROUTER-9 deliveries overlap across workers, but events about one entity are handled in stream order', async () => {
    await open();
    await deployProbe(app, probe, { name: 'Ordered', subscribeTo: ['Step'], settings: { mode: 'mark', marker: 'ord' } });
    await refresh(app);
    const ENTITIES = 4;
    const STEPS = 15;
    for (let seq = 0; seq < STEPS; seq++) {
      for (let e = 0; e < ENTITIES; e++) await app.store.commit(acme, { events: [{ type: 'Step', entityId: `ord-${e}`, payload: { seq } }] });
    }
    const all = await until('every step', async () => {
      const m = await marks(app, 'acme');
      return m.length >= ENTITIES * STEPS ? m : undefined;
    });
    expect(all).toHaveLength(ENTITIES * STEPS);
    for (let e = 0; e < ENTITIES; e++) {
      // Mark ids are UUIDv7 minted in this process when the plugin wrote them: their order is handling order.
      const seqs = all.filter((m) => m.sourceEntity === `ord-${e}`).sort((a, b) => (a.entityId < b.entityId ? -1 : 1)).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: STEPS }, (_, i) => i));
    }
  });
  it('ROUTER-12 events committed while no process ran a router are routed once one starts (the dispatcher group exists from the first open)', async () => {
    site = newSite(name, 'e2e');
    const producer = await openApp(site, { runtime: 'off' });
    try {
      await deployProbe(producer, probe, { name: 'Late', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'late' } });
      const task = await producer.store.put(acme, { entityTypeId: 'Task', attributes: { title: 'before any router' }, eventType: 'TaskCreated' });
      await producer.relay.flush();
      app = await openApp(site);
      const seen = await until('the plugin write for an event published before the router started', async () => {
        const m = (await marks(app, 'acme')).filter((x) => x.sourceEntity === task.entityId);
        return m.length > 0 ? m : undefined;
      });
      expect(seen).toHaveLength(1);
    } finally {
      await producer.close();
    }
  });
  it('ROUTER-13 disabling a version unloads it (its instances and memory are released); enabling it again loads it back and it handles events', async () => {
    await open();
    const v = await deployProbe(app, probe, { name: 'Unload', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'u' } });
    await refresh(app);
    const put = (title: string) => app.store.put(acme, { entityTypeId: 'Task', attributes: { title }, eventType: 'TaskCreated' });
    await put('first');
    await until('the first mark', async () => ((await marks(app, 'acme')).length === 1 ? true : undefined));
    expect(app.runtime?.host.has(v.id)).toBe(true);
    await app.registry.setStatus({ tenantId: null, actor: 'user:admin' }, v.id, 'disabled');
    await refresh(app);
    expect(app.runtime?.host.has(v.id)).toBe(false);
    await app.registry.setStatus({ tenantId: null, actor: 'user:admin' }, v.id, 'enabled');
    await refresh(app);
    await put('second');
    await until('a mark after re-enabling', async () => ((await marks(app, 'acme')).length === 2 ? true : undefined));
    expect(await app.bus.deadLetters()).toEqual([]);
  });
});
