/**
 * ROUTER-LIVE: on Redis each router process beats a heartbeat key with a short TTL; the dispatch and
 * queue leases are bound to it. A SIGKILLed process's queues (and the entries it held) move to
 * another process within a few heartbeat TTLs — not the lease TTL (`claimIdleMs`, set to 60 s here so
 * waiting it out fails the test). A process paused longer than its heartbeat (SIGSTOP) loses its
 * queues to the others while it sleeps and, woken, starts nothing it no longer holds: every event is
 * still handled once per plugin, each entity's events in stream order. (While it sleeps, a store
 * transaction it had open still holds its entity locks: PostgreSQL, not the bus, decides when those go.)
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { queueLeaseName } from '../../src/bus/index.js';
import { TEST_REDIS_URL } from '../helpers.js';
import { appendRecords, deployProbe, drained, killChild, queuesOf, processSuite, readyLines, recordMismatches, until, type AppSite } from './harness.js';

const HEARTBEAT_MS = 1000;
/** The old takeover bound (entries idle this long, leases living this long): far beyond the heartbeat. */
const CLAIM_IDLE_MS = 60_000;
const ENTITIES = 6;
const TENANTS = ['acme', 'globex'];

describe('process heartbeats on Redis (PostgreSQL store, worker processes)', () => {
  const suite = processSuite();
  const workers = suite.workers;

  async function setUp(label: string): Promise<{ producer: UeeApp; site: AppSite; start: () => Promise<ChildProcess>; groups: string[] }> {
    const { producer, site, startWorker } = await suite.cluster(label);
    await deployProbe(producer, suite.probe, { name: 'LiveG', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'G' } });
    for (const tenantId of TENANTS) await deployProbe(producer, suite.probe, { name: 'LiveT', tenantScope: 'tenant', tenantId, subscribeTo: ['Step'], settings: { mode: 'append', marker: 'T' } });
    const start = (): Promise<ChildProcess> => startWorker({ router: { heartbeatMs: HEARTBEAT_MS, claimIdleMs: CLAIM_IDLE_MS } });
    return { producer, site, start, groups: [pluginGroup('LiveG', null), ...TENANTS.map((t) => pluginGroup('LiveT', t))] };
  }

  let seq = 0;
  /** Commits `n` Step events round-robin over the entities, in commits of 12 alternating tenants. */
  async function produce(producer: UeeApp, n: number): Promise<void> {
    for (let done = 0; done < n; done += 12) {
      const tenantId = TENANTS[Math.floor(seq / 12) % 2]!;
      const events = Array.from({ length: 12 }, () => {
        const s = seq++;
        return { type: 'Step', entityId: `${tenantId}-e${s % ENTITIES}`, payload: { seq: s } };
      });
      await producer.store.commit({ tenantId, actor: 'user:test' }, { events });
    }
  }

  async function drainAll(producer: UeeApp, groups: string[], timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    for (const g of groups) await drained(producer, g, timeoutMs);
    return Date.now() - t0;
  }

  /** Every entity's handled sequence per plugin equals what was produced: none lost, none twice, in order. */
  async function expectOnceInOrder(producer: UeeApp): Promise<void> {
    const expected = new Map<string, number[]>();
    for (let n = 0; n < seq; n++) {
      const entity = `${TENANTS[Math.floor(n / 12) % 2]!}-e${n % ENTITIES}`;
      for (const marker of ['G', 'T']) expected.set(`${marker}:${entity}`, [...(expected.get(`${marker}:${entity}`) ?? []), n]);
    }
    expect(recordMismatches(expected, await appendRecords(producer, TENANTS))).toEqual([]);
    expect(await producer.bus.deadLetters()).toEqual([]);
  }

  /** The worker whose router holds the dispatch lease (Redis key `<prefix>lease:uee.dispatch`). */
  async function dispatcherOf(site: AppSite): Promise<ChildProcess> {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const owner = await redis.get(`${site.redisPrefix}lease:${DISPATCH_GROUP}`);
      const victim = [...workers].find((w) => readyLines.get(w) === owner);
      if (victim === undefined) throw new Error(`no worker holds the dispatch lease (held by ${String(owner)})`);
      return victim;
    } finally {
      await redis.quit();
    }
  }

  it('ROUTER-LIVE-1 a SIGKILLed worker\'s dispatch, queues and pending entries move within a few heartbeat TTLs, not claimIdleMs', async () => {
    seq = 0;
    const { producer, site, start, groups } = await setUp('live1');
    await start();
    await start();
    await produce(producer, 120);
    // Baseline, same run: the time two live workers take for a burst.
    await drainAll(producer, groups, 120_000);
    const t0 = Date.now();
    await produce(producer, 120);
    const baselineMs = Date.now() - t0 + (await drainAll(producer, groups, 120_000));

    const victim = await dispatcherOf(site);
    await produce(producer, 120);
    const killedAt = Date.now();
    workers.delete(victim);
    await killChild(victim);
    await drainAll(producer, groups, CLAIM_IDLE_MS - 10_000);
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`ROUTER-LIVE-1: heartbeat ${HEARTBEAT_MS} ms, claimIdleMs ${CLAIM_IDLE_MS} ms: burst with 2 workers ${baselineMs} ms; after SIGKILL of the dispatcher, drained in ${takeoverMs} ms\n`);
    // One worker left does the work of two, plus the heartbeat lapse, a lease retry and a claim.
    expect(takeoverMs).toBeLessThan(2 * baselineMs + 4 * HEARTBEAT_MS);
    await expectOnceInOrder(producer);
  }, 300_000);

  it('ROUTER-LIVE-2 a worker paused (SIGSTOP) past its heartbeat loses its leases to the other; woken, it starts nothing it no longer holds: every event once, in order', async () => {
    seq = 0;
    const { producer, site, start, groups } = await setUp('live2');
    const survivorFirst = await start();
    await start();
    await produce(producer, 60);
    await drainAll(producer, groups, 120_000);
    const victim = await dispatcherOf(site);
    const survivor = [...workers].find((w) => w !== victim) ?? survivorFirst;
    // Every queue: the plugins' own and the global plugin's lanes (one per tenant, each a queue of the split).
    const queues = (await Promise.all(groups.map((g) => queuesOf(producer.bus, g)))).flat();
    expect(queues.length).toBe(groups.length + TENANTS.length);
    const leases = [DISPATCH_GROUP, ...queues.map((g) => queueLeaseName(g))].map((n) => `${site.redisPrefix}lease:${n}`);
    // Paused with a burst in hand: every lease must move to the other worker while it sleeps. (Its
    // work may still wait for the paused process: a transaction it had open holds its entity locks.)
    await produce(producer, 240);
    victim.kill('SIGSTOP');
    try {
      const redis = new Redis(TEST_REDIS_URL);
      try {
        await until('every lease held by the live worker', async () => ((await redis.mget(...leases)).every((o) => o === readyLines.get(survivor)) ? true : undefined), CLAIM_IDLE_MS - 10_000);
      } finally {
        await redis.quit();
      }
    } finally {
      victim.kill('SIGCONT');
    }
    // Woken: it finds its heartbeat lapsed and its leases gone; it starts nothing of what it held.
    await produce(producer, 120);
    await drainAll(producer, groups, 120_000);
    await expectOnceInOrder(producer);
  }, 300_000);
});
