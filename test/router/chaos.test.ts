/**
 * ROUTER-CHAOS-1: three worker processes share one PostgreSQL store and one Redis bus while a
 * producer writes ≥ 20,000 events about many entities over several plugins (two global, one per
 * tenant) and six tenants. From the first event until the last one is handled, one worker is stopped
 * every few seconds and a new one started: mostly SIGKILLed, every third restarted gracefully in
 * the middle of a batch (SIGTERM: in-flight deliveries finish, the rest is left pending for the next
 * owner). The event stream is trimmed all along (another bus instance on the same stream with a
 * small `maxLength` keeps publishing filler events, so retention runs every few hundred appends while
 * the queues lag behind). Afterwards every plugin's record of every entity is exactly the sequence of
 * that entity's events it subscribed to — none lost, none applied twice, in stream order — nothing is
 * dead-lettered, and after the last kill every queue's lag and pending count is back to 0.
 *
 * The probe plugin appends `payload.seq` to one record per (plugin, entity) by read-then-write, so
 * an event handled twice, skipped, concurrently or out of order shows in the list. Each queue has
 * several deliveries of one entity within its concurrency window, so without the per-entity chaining
 * they would overlap (and lose updates).
 * `UEE_CHAOS_EVENTS` sets the stream's length (default 20,000).
 *
 * Speed: one entity's deliveries run one after another, each a plugin call, a few PostgreSQL round
 * trips and a commit (a tenant's commits queue on its journal head's row lock). The run is bound by
 * its queues' longest run of one-after-another handlings, so the events are spread evenly over 8
 * queues (2 global plugins and 6 tenants' own), 8 entities per tenant and 6 journal heads, 16
 * deliveries in flight per queue: each queue runs 8 chains side by side, ~310 handlings deep at 20,000
 * events — against ~2,200 when 2 tenants × 3 entities carried a global plugin's third of the events. Process crashes
 * — what this test is about — never lose a committed PostgreSQL transaction, so the store
 * connections use `synchronous_commit=off` (the durability of PostgreSQL's own crash is its business,
 * not the router's).
 */
import { describe, expect, it } from 'vitest';
import { openRedisBus } from '../../src/bus/index.js';
import type { EventEnvelope } from '../../src/core/index.js';
import { newId } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { TEST_REDIS_URL } from '../helpers.js';
import { appendRecords, deployProbe, drained, killChild, queuesOf, processSuite, recordMismatches, stopChild, until, type WorkerProcessOptions } from './harness.js';

const EVENTS = Number(process.env.UEE_CHAOS_EVENTS ?? 20_000);
const KILL_EVERY_MS = 3000;
/** Every this many stops, the victim is stopped gracefully (SIGTERM mid-batch) instead of SIGKILLed. */
const GRACEFUL_EVERY = 3;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'wonka'];
const ENTITIES_PER_TENANT = 8;
/** Events per commit, all of one tenant (tenants take turns): 16 for each global plugin, 96 for the tenant's. */
const PER_COMMIT = 128;
/**
 * The plugins, by marker: two global ones and one per tenant. Of every 8 events one is for each
 * global plugin and 6 for the tenant's, so each of the 8 queues gets the same share of the events.
 */
const PLUGINS = { A: 'ChaosA', B: 'ChaosB', T: 'ChaosT' } as const;
const CYCLE = ['A', 'T', 'T', 'T', 'B', 'T', 'T', 'T'] as const;
/** The retention cap of the trimming bus instance. */
const TRIM_TO = 500;
/**
 * The workers: 1 s heartbeats (a SIGKILLed worker's queues move within ~1.5 s, ROUTER-LIVE-1) and
 * 16 deliveries in flight per queue. A queue's events rotate over 8 entities of a tenant, so 16 in
 * flight hold each entity twice: only the per-entity chaining keeps those two apart.
 */
const WORKER: WorkerProcessOptions = { router: { heartbeatMs: 1000, concurrency: 16, refreshMs: 1000 } };

/** Event `seq`: its tenant, entity, type and the marker of the plugin it concerns. */
function eventOf(seq: number): { tenantId: string; entityId: string; type: string; marker: keyof typeof PLUGINS } {
  const tenantId = TENANTS[Math.floor(seq / PER_COMMIT) % TENANTS.length]!;
  const i = seq % PER_COMMIT;
  const marker = CYCLE[i % CYCLE.length]!;
  // The event's rank among its plugin's events in this commit: consecutive ones rotate over the entities.
  const slot = i % CYCLE.length;
  const rank = Math.floor(i / CYCLE.length) * (marker === 'T' ? 6 : 1) + (marker === 'T' ? slot - (slot < 4 ? 1 : 2) : 0);
  return { tenantId, entityId: `${tenantId}-e${rank % ENTITIES_PER_TENANT}`, type: `Step${marker}`, marker };
}

function filler(n: number): EventEnvelope[] {
  return Array.from({ length: n }, () => {
    const eventId = newId();
    return { eventId, type: 'Noise', tenantId: 'acme', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'system', id: 'chaos' } };
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: three worker processes on PostgreSQL + Redis, one SIGKILLed every few seconds', () => {
  const suite = processSuite();

  it(`ROUTER-CHAOS-1 ${EVENTS} events, SIGKILLs and graceful restarts mid-batch until the last event is handled, a trimmed stream: 0 lost, 0 applied twice, per-entity order kept, no dead letters, lag back to 0`, async () => {
    const { producer, site, startWorker } = await suite.cluster('chaos', { serverOptions: '-c synchronous_commit=off', settings: { tenants: TENANTS.join(',') } });
    // The producer writes and deploys only; the workers do all the routing and handling.
    const workersUp = Promise.all([0, 1, 2].map(() => startWorker(WORKER)));
    for (const marker of ['A', 'B'] as const) {
      await deployProbe(producer, suite.probe, { name: PLUGINS[marker], subscribeTo: [`Step${marker}`], settings: { mode: 'append', marker } });
    }
    for (const tenantId of TENANTS) {
      await deployProbe(producer, suite.probe, { name: PLUGINS.T, tenantScope: 'tenant', tenantId, subscribeTo: ['StepT'], settings: { mode: 'append', marker: 'T' } });
    }
    const groups = [pluginGroup(PLUGINS.A, null), pluginGroup(PLUGINS.B, null), ...TENANTS.map((t) => pluginGroup(PLUGINS.T, t))];
    // Another bus instance on the same stream with a small cap: its publishes run retention.
    const trimmer = await openRedisBus({ url: TEST_REDIS_URL, prefix: site.redisPrefix, options: { maxLength: TRIM_TO } });
    suite.defer(() => trimmer.close());
    await workersUp;

    /** Work not yet done: unpublished outbox rows, undispatched and unhandled entries. */
    const outstanding = async (): Promise<number> => {
      let n = (await producer.store.outbox.size()) + (await producer.bus.groupInfo(DISPATCH_GROUP).then((i) => i.lag + i.pending));
      for (const g of groups) for (const q of await queuesOf(producer.bus, g)) n += await producer.bus.groupInfo(q).then((i) => i.lag + i.pending);
      return n;
    };

    // A killer replaces a random worker every few seconds until every event is handled.
    const started = Date.now();
    let handled = false;
    let producedMs = Infinity;
    const stops: Array<{ atMs: number; outstanding: number; graceful: boolean }> = [];
    const killer = (async () => {
      while (!handled) {
        await sleep(KILL_EVERY_MS);
        if (handled) break;
        const before = await outstanding();
        // Nothing to do right now (the run just ended and `until` has not seen it yet, or everything
        // written so far is handled): a stop now would test nothing, so none is made or counted.
        // Without this, a stop made just as the last event was handled failed the check below.
        if (before === 0) continue;
        const victim = [...suite.workers][Math.floor(Math.random() * suite.workers.size)]!;
        suite.workers.delete(victim);
        const graceful = (stops.length + 1) % GRACEFUL_EVERY === 0;
        // Graceful: a router restarted mid-batch drains what is in flight, leaves the rest, releases its leases.
        if (graceful) expect(await stopChild(victim)).toBe(0);
        else await killChild(victim);
        stops.push({ atMs: Date.now() - started, outstanding: before, graceful });
        await startWorker(WORKER);
      }
    })();
    let fillers = 0;
    const trimming = (async () => {
      while (!handled) {
        fillers += (await trimmer.publish(filler(20))).ids.length;
        await sleep(1000);
      }
    })();

    for (let seq = 0; seq < EVENTS; seq += PER_COMMIT) {
      const n = Math.min(PER_COMMIT, EVENTS - seq);
      const { tenantId } = eventOf(seq);
      await producer.store.commit({ tenantId, actor: 'user:test' }, {
        events: Array.from({ length: n }, (_, i) => {
          const e = eventOf(seq + i);
          return { type: e.type, entityId: e.entityId, payload: { seq: seq + i } };
        }),
      });
    }
    producedMs = Date.now() - started;
    try {
      // (A killer that failed — a graceful stop that did not exit 0 — fails the test at once.)
      await Promise.race([until('every event handled', async () => ((await outstanding()) === 0 ? true : undefined), 1_100_000), killer]);
    } finally {
      handled = true;
      await Promise.all([killer, trimming]);
    }
    const handledMs = Date.now() - started;

    // The chaos went on to the end: the last stop found work still to do, after the last event was written.
    const last = stops.at(-1);
    expect(stops.filter((s) => !s.graceful).length).toBeGreaterThanOrEqual(3);
    expect(stops.filter((s) => s.graceful).length).toBeGreaterThanOrEqual(1);
    expect(last?.atMs).toBeGreaterThan(producedMs);
    expect(last?.outstanding).toBeGreaterThan(0);
    // Lag recovers after the last kill: the dispatch group and every queue drain to 0 pending, 0 lag.
    for (const g of groups) await drained(producer, g, 120_000);
    const dispatch = await producer.bus.groupInfo(DISPATCH_GROUP);
    expect([dispatch.lag, dispatch.pending]).toEqual([0, 0]);
    // The stream was trimmed (retention ran on the trimmer's publishes all along, held back only by
    // what a group still needed): it carried EVENTS Steps, as many plugin writes, and the fillers.
    const retained = await producer.bus.length();
    expect(retained).toBeLessThan(2 * EVENTS + fillers);

    const expected = new Map<string, number[]>();
    for (let seq = 0; seq < EVENTS; seq++) {
      const e = eventOf(seq);
      const key = `${e.marker}:${e.entityId}`;
      const list = expected.get(key);
      if (list) list.push(seq);
      else expected.set(key, [seq]);
    }
    const got = await appendRecords(producer, TENANTS);
    expect(recordMismatches(expected, got).slice(0, 20)).toEqual([]);
    expect([...got.values()].reduce((n, seqs) => n + seqs.length, 0)).toBe(EVENTS);
    expect(await producer.bus.deadLetters()).toEqual([]);
    process.stdout.write(
      `ROUTER-CHAOS-1: ${EVENTS} events (+${fillers} fillers, stream trimmed to ${retained}) over ${groups.length} queues, ${expected.size} entity records; ` +
        `${stops.filter((s) => !s.graceful).length} SIGKILLs + ${stops.filter((s) => s.graceful).length} graceful restarts of 3 worker processes; ` +
        `produced in ${producedMs} ms, all handled in ${handledMs} ms: every effect once, in order. ` +
        `Stops at ms (outstanding): ${stops.map((s) => `${s.atMs}${s.graceful ? 'g' : ''}(${s.outstanding})`).join(' ')}\n`,
    );
  }, 1_200_000);
});
