/**
 * The batch pipeline end to end: events of one plugin reach a runtime worker in batches, and each
 * delivery of a batch keeps its own fate — effects committed once, retries, dead letters.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, appPerTest, deployProbe, refresh, until, watModule } from './harness.js';

describe.each(BACKENDS)('batches through the router ($name bus)', ({ name }) => {
  const apps = appPerTest(name);

  it('ROUTER-BATCH-1 a trapping event in the middle of a batch is retried and dead-lettered alone; every other event of the batch commits exactly once', async () => {
    // The default window (4 × batchSize in flight), so the plugin's calls travel in batches; a batch
    // may hold 1 s of expected work, so a loaded machine (calls of several ms) still gathers them.
    const app = await apps.open('batches', {}, { router: { refreshMs: 200, backoffMs: 20 }, host: { batchTargetMs: 1000 } });
    const acme = { tenantId: 'acme', actor: 'user:test' };
    // batch-mixed: traps when the input carries "@T", else buffers a write of entity batch-1.
    await deployProbe(app, await watModule('batch-mixed'), { name: 'Mixed', subscribeTo: ['Tick'], capabilities: ['writeEntities'] });
    await refresh(app);
    // One event alone first: the pool batches a plugin once it knows what a call costs.
    await app.store.commit(acme, { events: [{ type: 'Tick', payload: { mode: '@O', n: -1 } }] });
    await until('the first write', async () => ((await app.store.history(acme, 'batch-1').catch(() => undefined))?.items.length === 1 ? true : undefined));
    const before = app.runtime!.host.stats();
    const N = 40;
    const committed = await app.store.commit(acme, { events: Array.from({ length: N }, (_, n) => ({ type: 'Tick', payload: { mode: n === 20 ? '@T' : '@O', n } })) });
    const ids = committed.events.map((e) => e.eventId);
    const trapId = ids[20]!;
    const dead = await until('the trapping event dead-lettered', async () => {
      const d = await app.bus.deadLetters();
      return d.length > 0 ? d : undefined;
    });
    const versions = await until('every other event committed', async () => {
      const h = await app.store.history(acme, 'batch-1', { limit: 1000 });
      return h.items.length >= N ? h.items : undefined;
    });
    const after = app.runtime!.host.stats();
    expect(after.batchedCalls - before.batchedCalls).toBeGreaterThan(after.batches - before.batches);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.event.eventId).toBe(trapId);
    expect(dead[0]!.error.code).toBe('PLUGIN_TRAP');
    expect(dead[0]!.attempts).toHaveLength(3);
    // One version per non-trapping event (plus the first one), each caused by a distinct event.
    const causes = versions.map((v) => v.causationId);
    expect(causes).toHaveLength(N);
    expect(new Set(causes).size).toBe(N);
    expect(causes).not.toContain(trapId);
    for (const id of ids) if (id !== trapId) expect(causes).toContain(id);
  }, 60_000);
});
