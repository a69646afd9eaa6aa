/**
 * ROUTER-ORDER-2: per-entity order within one plugin, in one process, fast. Every event is already on
 * the stream when the router starts, so the dispatcher queues them in one step and one queue batch
 * holds several events of each entity; `concurrency` 8, two runtime workers for the plugin and
 * batches of several calls per worker message put them in flight together, and only the per-key
 * chaining of deliveries (src/router/delivery.ts) keeps one entity's events one after another. The probe's `append` mode reads its record of the entity and writes it
 * back with the event's sequence number appended, so an overlap (a lost update), an inversion, a
 * loss or a double apply all show.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { BACKENDS, TEST_APP_OPTIONS, deployProbe, drained, newSite, openApp, probeWasm, type AppSite } from './harness.js';

const acme = { tenantId: 'acme', actor: 'user:test' };
const ENTITIES = 3;
/** ENTITIES × STEPS stays under the queue's batch size (64): one dispatch step, one queue batch. */
const STEPS = 16;

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

describe.each(BACKENDS)('per-entity order within a plugin ($name bus)', ({ name }) => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0).reverse()) await a.close();
    await site?.dispose();
    site = undefined;
  });

  it('ROUTER-ORDER-2 one queue batch with several events per entity, concurrency 8: each entity\'s events are applied once each, one after another, in stream order', async () => {
    site = newSite(name, 'eorder');
    // No router here: the events wait on the stream until the router below starts.
    const producer = await openApp(site, { runtime: 'off' });
    apps.push(producer);
    await deployProbe(producer, probe, { name: 'Appender', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'a' } });
    for (let seq = 0; seq < STEPS; seq++) {
      // Interleaved: the concurrency window always holds two or more events of one entity.
      await producer.store.commit(acme, { events: Array.from({ length: ENTITIES }, (_, e) => ({ type: 'Step', entityId: `ent-${e}`, payload: { seq } })) });
    }
    await producer.relay.flush();
    expect(await producer.store.outbox.size()).toBe(0);

    // Three runtime workers (two may run this plugin at once) and a batch target far above a call's
    // cost (a worker message holds several calls, each reading before any of them commits): without
    // the chaining, two events of one entity in flight together lose an update.
    const app = await openApp(site, { workers: '3' }, { ...TEST_APP_OPTIONS, router: { ...TEST_APP_OPTIONS.router, concurrency: 8 }, host: { batchTargetMs: 1000 } });
    apps.push(app);
    await drained(app, pluginGroup('Appender', null));
    for (let e = 0; e < ENTITIES; e++) {
      const record = await app.store.get(acme, `order-a-ent-${e}`);
      expect(record.attributes.seqs, `entity ent-${e}`).toEqual(Array.from({ length: STEPS }, (_, i) => i));
    }
    expect(await app.bus.deadLetters()).toEqual([]);
  });
});
