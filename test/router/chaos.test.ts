/**
 * ROUTER-CHAOS-1: three worker processes share one PostgreSQL store and one Redis bus while a
 * producer writes ≥ 20,000 events about many entities over several plugins (two global, one per
 * tenant) and two tenants. During the run one worker is SIGKILLed every few seconds and a new one
 * started, some are restarted gracefully in the middle of a batch (SIGTERM: in-flight deliveries
 * finish, the rest is left pending for the next owner), and the event stream is trimmed all along
 * (another bus instance on the same stream with a small `maxLength` publishes filler events, so
 * retention runs every few hundred appends). Afterwards every plugin's record of every entity is
 * exactly the sequence of that entity's events it subscribed to — none lost, none applied twice, in
 * stream order — nothing is dead-lettered, and every queue's lag and pending count is back to 0.
 *
 * The probe plugin appends `payload.seq` to one entity per (plugin, entity) by read-then-write, so
 * an event handled twice, skipped, concurrently or out of order shows in the list.
 * `UEE_CHAOS_EVENTS` sets the stream's length (default 20,000: 221 s on the loaded 2-core dev VM).
 *
 * Speed: the run's wall time was the store's fsync per commit, serialised per tenant by the
 * journal head's row lock (30 effects/s on a loaded 2-core machine); process crashes — what this
 * test is about — never lose a committed PostgreSQL transaction, so the test's store connections use
 * `synchronous_commit=off` (the durability of PostgreSQL's own crash is its business, not the router's).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { openRedisBus } from '../../src/bus/index.js';
import type { EventEnvelope } from '../../src/core/index.js';
import { newId } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { allOfType, deployProbe, drained, newSite, openApp, probeWasm, until, killChild, spawnChild, type AppSite } from './harness.js';

const EVENTS = Number(process.env.UEE_CHAOS_EVENTS ?? 20_000);
const KILL_EVERY_MS = 3000;
/** Every this many kills, the victim is stopped gracefully (SIGTERM mid-batch) instead of SIGKILLed. */
const GRACEFUL_EVERY = 3;
const TENANTS = ['acme', 'globex'];
const ENTITIES_PER_TENANT = 3;
const PER_COMMIT = 100;
/** The plugin each event type concerns, by marker: two global ones and one per tenant. */
const TYPES = [
  { type: 'StepA', marker: 'A' },
  { type: 'StepB', marker: 'B' },
  { type: 'StepT', marker: 'T' },
] as const;
/** The retention cap of the trimming bus instance. */
const TRIM_TO = 500;

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

function startWorker(site: AppSite, store: string): Promise<ChildProcess> {
  // A 1 s heartbeat: a SIGKILLed worker's queues move within ~1.5 s (ROUTER-LIVE-1), not the lease TTL.
  return spawnChild(join(import.meta.dirname, 'chaos-child.ts'), { site, store, router: { heartbeatMs: 1000 } }, 'READY');
}

/** Event `seq`: its tenant (alternating per commit), entity and type. */
function eventOf(seq: number): { tenantId: string; entityId: string; type: string; marker: string } {
  const tenantId = TENANTS[Math.floor(seq / PER_COMMIT) % TENANTS.length]!;
  const { type, marker } = TYPES[seq % TYPES.length]!;
  return { tenantId, entityId: `${tenantId}-e${Math.floor(seq / TYPES.length) % ENTITIES_PER_TENANT}`, type, marker };
}

function filler(n: number): EventEnvelope[] {
  return Array.from({ length: n }, () => {
    const eventId = newId();
    return { eventId, type: 'Noise', tenantId: 'acme', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'system', id: 'chaos' } };
  });
}

describe('chaos: three worker processes on PostgreSQL + Redis, one SIGKILLed every few seconds', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  const workers = new Set<ChildProcess>();
  afterEach(async () => {
    for (const w of workers) await killChild(w);
    workers.clear();
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it(`ROUTER-CHAOS-1 ${EVENTS} events, SIGKILLs, graceful restarts mid-batch and a trimmed stream: 0 lost, 0 applied twice, per-entity order kept, no dead letters, lag back to 0`, async () => {
    const schema = randomSchema('chaos');
    schemas.push(schema);
    const store = `${schemaUrl(schema)}&options=${encodeURIComponent('-c synchronous_commit=off')}`;
    const site = newSite('redis', 'chaos');
    disposers.push(() => site.dispose());
    // The producer writes and deploys only; the workers do all the routing and handling.
    const producer: UeeApp = await openApp(site, { store, runtime: 'off' });
    disposers.push(() => producer.close());
    await deployProbe(producer, probe, { name: 'ChaosA', subscribeTo: ['StepA'], settings: { mode: 'append', marker: 'A' } });
    await deployProbe(producer, probe, { name: 'ChaosB', subscribeTo: ['StepB'], settings: { mode: 'append', marker: 'B' } });
    for (const tenantId of TENANTS) {
      await deployProbe(producer, probe, { name: 'ChaosT', tenantScope: 'tenant', tenantId, subscribeTo: ['StepT'], settings: { mode: 'append', marker: 'T' } });
    }
    const groups = [pluginGroup('ChaosA', null), pluginGroup('ChaosB', null), ...TENANTS.map((t) => pluginGroup('ChaosT', t))];
    // Another bus instance on the same stream with a small cap: its publishes run retention.
    const trimmer = await openRedisBus({ url: TEST_REDIS_URL, prefix: site.redisPrefix, options: { maxLength: TRIM_TO } });
    disposers.push(() => trimmer.close());
    const workerSite = (): AppSite => {
      const dir = tempDir('uee-chaos-worker');
      disposers.push(() => dir[Symbol.dispose]());
      return { ...site, dataDir: dir.path };
    };
    for (let i = 0; i < 3; i++) workers.add(await startWorker(workerSite(), store));

    // Produce while a killer replaces a random worker every few seconds.
    const started = Date.now();
    let producing = true;
    let kills = 0;
    let restarts = 0;
    const killer = (async () => {
      while (producing) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        if (!producing) break;
        const victim = [...workers][Math.floor(Math.random() * workers.size)]!;
        workers.delete(victim);
        if ((kills + restarts + 1) % GRACEFUL_EVERY === 0) {
          // A router restarted mid-batch: drains what is in flight, leaves the rest, releases its leases.
          const exited = new Promise<number | null>((resolve) => victim.once('exit', (code) => resolve(code)));
          victim.kill('SIGTERM');
          expect(await exited).toBe(0);
          restarts++;
        } else {
          await killChild(victim);
          kills++;
        }
        workers.add(await startWorker(workerSite(), store));
      }
    })();
    let fillers = 0;
    for (let seq = 0; seq < EVENTS; seq += PER_COMMIT) {
      const n = Math.min(PER_COMMIT, EVENTS - seq);
      const { tenantId } = eventOf(seq);
      await producer.store.commit({ tenantId, actor: 'user:test' }, {
        events: Array.from({ length: n }, (_, i) => {
          const e = eventOf(seq + i);
          return { type: e.type, entityId: e.entityId, payload: { seq: seq + i } };
        }),
      });
      if ((seq / PER_COMMIT) % 10 === 0) fillers += (await trimmer.publish(filler(50))).ids.length;
    }
    const producedMs = Date.now() - started;
    // Keep the chaos going until at least three SIGKILLs and one graceful restart happened.
    await until('three kills and a restart', () => (kills >= 3 && restarts >= 1 ? true : undefined), 120_000);
    producing = false;
    await killer;

    // Lag recovers: the dispatch group and every queue drain to 0 pending, 0 lag.
    for (const g of groups) await drained(producer, g, 600_000);
    const doneMs = Date.now() - started;
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
    const got = new Map<string, number[]>();
    for (const tenantId of TENANTS) {
      for (const v of await allOfType(producer, tenantId, 'Order')) got.set(`${String(v.attributes.marker)}:${String(v.attributes.entity)}`, v.attributes.seqs as number[]);
    }
    const wrong: string[] = [];
    let effects = 0;
    for (const [key, seqs] of expected) {
      const list = got.get(key) ?? [];
      effects += list.length;
      if (JSON.stringify(list) !== JSON.stringify(seqs)) wrong.push(`${key}: ${list.length} of ${seqs.length}, first difference at ${list.findIndex((s, i) => s !== seqs[i])}`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(got.size).toBe(expected.size);
    expect(effects).toBe(EVENTS);
    expect(await producer.bus.deadLetters()).toEqual([]);
    process.stdout.write(
      `ROUTER-CHAOS-1: ${EVENTS} events (+${fillers} fillers, stream trimmed to ${retained}) over ${groups.length} queues, ${expected.size} entity records, ` +
        `${kills} SIGKILLs + ${restarts} graceful restarts of 3 worker processes; produced in ${producedMs} ms, all handled in ${doneMs} ms: every effect once, in order\n`,
    );
  }, 1_200_000);
});
