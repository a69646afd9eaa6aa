/**
 * ROUTER-OVERFLOW: a tenant's stalled plugin cannot grow the bus without bound. Its queue holds at
 * most `--max-queue-length` entries queued and not yet delivered; past it the oldest undelivered are
 * dead letters of that tenant (`QUEUE_OVERFLOW`), listed and redriven like any other — every event is
 * either handled or a letter, never both, never neither — while another tenant's plugin gets every
 * one of its events, in order. A letter is redriven like any other.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { TenantContext } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { buildWat } from '../runtime/wat.js';
import { BACKENDS, allOfType, deployProbe, drained, newSite, openApp, probeWasm, type AppSite } from './harness.js';

const CAP = 100;
const EVENTS = 1_500;
const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };
const globex: TenantContext = { tenantId: 'globex', actor: 'user:test' };

let probe: Uint8Array;
/** A plugin busy ~5–10 ms per call: acme's queue fills far faster than it drains. */
let slow: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
  slow = await buildWat('burn', { RAW_ITERATIONS: '20000000' });
}, 600_000);

describe.each(BACKENDS)('queue overflow ($name bus)', ({ name: backend }) => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  let app: UeeApp | undefined;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
    app = undefined;
    site = undefined;
  });

  it(`ROUTER-OVERFLOW-1 (${backend}) a stalled plugin's queue stays within --max-queue-length: its oldest undelivered become acme's QUEUE_OVERFLOW dead letters, each event handled or a letter exactly once; globex gets all of its events in order; a letter redrives like any other`, async () => {
    site = newSite(backend, 'overflow');
    const a = (app = await openApp(site, { maxQueueLength: String(CAP) }, { router: { refreshMs: 200, backoffMs: 20 } }));
    await a.registry.deploy('user:test', { manifest: { name: 'Slow', subscribeTo: ['Work'], tenantScope: 'tenant', tenantId: 'acme', maximumResourceBudget: { timeoutMs: 5_000 } }, wasm: slow });
    await deployProbe(a, probe, { name: 'Orders', tenantScope: 'tenant', tenantId: 'globex', subscribeTo: ['Work'], settings: { mode: 'append', marker: 'g' } });
    await a.runtime!.router.refresh();
    const group = pluginGroup('Slow', 'acme');

    // Acme's flood, in commits of 100, with globex's events in between.
    let lagMax = 0;
    for (let i = 0; i < EVENTS; i += 100) {
      await a.store.commit(acme, { events: Array.from({ length: 100 }, (_, k) => ({ type: 'Work', entityId: `w${(i + k) % 10}`, payload: { seq: i + k } })) });
      await a.store.commit(globex, { events: [{ type: 'Work', entityId: 'g1', payload: { seq: i / 100 } }] });
      await a.relay.flush();
      lagMax = Math.max(lagMax, (await a.bus.groupInfo(group)).lag);
    }
    await drained(a, group, 120_000);
    await drained(a, pluginGroup('Orders', 'globex'), 60_000);
    // Routing answers only once the queue is back within its bound (one route call over it at most).
    expect(lagMax).toBeLessThanOrEqual(CAP);

    // Every acme event: handled (an ok record) or a QUEUE_OVERFLOW letter — exactly one of them.
    await a.records!.flush();
    const handled: string[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await a.store.invocations.query(acme, { plugin: 'Slow', outcome: 'ok', limit: 1_000, ...(cursor === null ? {} : { cursor }) });
      handled.push(...page.items.map((r) => r.event.eventId));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    const letters = await a.bus.deadLetters({ tenantId: 'acme', group, count: 10_000 });
    expect(letters.length).toBeGreaterThan(0);
    expect(letters.every((l) => l.error.code === 'QUEUE_OVERFLOW')).toBe(true);
    const byId = new Map<string, number>();
    for (const id of [...handled, ...letters.map((l) => l.event.eventId)]) byId.set(id, (byId.get(id) ?? 0) + 1);
    expect(byId.size).toBe(EVENTS);
    expect([...byId.values()].every((n) => n === 1)).toBe(true);
    // None of them is globex's, and globex lost nothing: every event appended once, in order.
    expect(await a.bus.deadLetters({ tenantId: 'globex', count: 100 })).toEqual([]);
    const orders = await allOfType(a, 'globex', 'Order');
    expect(orders.map((o) => o.attributes['seqs'])).toEqual([Array.from({ length: EVENTS / 100 }, (_, k) => k)]);

    // A letter is redriven like any other: the event runs once on the plugin's version, recorded as a redrive.
    const slowVersion = (await a.registry.versions(acme, 'Slow'))[0]!;
    for (const letter of letters.slice(0, 3)) {
      const outcome = await a.runtime!.router.redrive(letter, slowVersion);
      expect(outcome.ok).toBe(true);
      expect(await a.bus.deleteDeadLetters([letter.id])).toBe(1);
    }
    await a.records!.flush();
    const redriven = await a.store.invocations.query(acme, { plugin: 'Slow', outcome: 'ok', limit: 1_000 });
    expect(redriven.items.filter((r) => r.trigger === 'redrive').map((r) => r.event.eventId).sort()).toEqual(letters.slice(0, 3).map((l) => l.event.eventId).sort());
  }, 240_000);
});
