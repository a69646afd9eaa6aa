/**
 * ROUTER-SHARE: on Redis the routers sharing a bus split the queues among themselves. Each keeps
 * itself on the bus's roster of routers; every process computes the same bounded-load split of the
 * queues from the live members, and a queue worker asks for its queue's lease only when the split
 * gives the queue to its process. Before, the first process up took every queue lease and kept it
 * while it lived: a second worker process was a hot standby, not capacity. A process joining takes
 * its share from the others (they hand the queues over: in-flight work finishes, the rest stays
 * pending for the new holder's catch-up); a process draining or dying gives its share back. Through
 * every move each event is handled once per plugin, each entity's events in order.
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { queueLeaseName } from '../../src/bus/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { TEST_REDIS_URL } from '../helpers.js';
import { appendRecords, deployProbe, drained, processSuite, readyLines, recordMismatches, stopChild, until, type AppSite } from './harness.js';

const HEARTBEAT_MS = 1000;
const PLUGINS = 8;
const ENTITIES = 8;
const TENANT = 'acme';

describe('the queues split among the routers on one Redis bus (PostgreSQL store, worker processes)', () => {
  const suite = processSuite();
  const workers = suite.workers;

  let seq = 0;
  /** Commits `n` Step events round-robin over the entities, 12 per commit. */
  async function produce(producer: UeeApp, n: number): Promise<void> {
    for (let done = 0; done < n; done += 12) {
      const events = Array.from({ length: 12 }, () => {
        const s = seq++;
        return { type: 'Step', entityId: `e${s % ENTITIES}`, payload: { seq: s } };
      });
      await producer.store.commit({ tenantId: TENANT, actor: 'user:test' }, { events });
    }
  }

  /** Queue leases held per worker process (by its router's consumer name); `undefined` counts unheld ones. */
  async function holdings(site: AppSite, groups: readonly string[]): Promise<Map<string | undefined, number>> {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const owners = await redis.mget(...groups.map((g) => `${site.redisPrefix}lease:${queueLeaseName(g)}`));
      const out = new Map<string | undefined, number>();
      for (const o of owners) out.set(o ?? undefined, (out.get(o ?? undefined) ?? 0) + 1);
      return out;
    } finally {
      await redis.quit();
    }
  }

  /** Waits until the live workers `alive` hold every queue, `shares` of them each (in any order). */
  async function splitAs(site: AppSite, groups: readonly string[], alive: readonly ChildProcess[], shares: readonly number[]): Promise<void> {
    const names = alive.map((w) => readyLines.get(w));
    const t0 = Date.now();
    let last = '';
    try {
      await until(`the queues split ${shares.join('/')}`, async () => {
        const held = await holdings(site, groups);
        last = JSON.stringify([...held]);
        const counts = names.map((n) => held.get(n) ?? 0).sort((a, b) => b - a);
        return JSON.stringify(counts) === JSON.stringify([...shares].sort((a, b) => b - a)) ? true : undefined;
      }, 20 * HEARTBEAT_MS);
      process.stdout.write(`ROUTER-SHARE: split ${shares.join('/')} after ${Date.now() - t0} ms\n`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last holdings ${last} (live: ${JSON.stringify(names)})`);
    }
  }

  it('ROUTER-SHARE-1 two, then three, then two workers split the queues evenly; every event once per plugin, in order, through each move', async () => {
    seq = 0;
    const { producer, site, startWorker } = await suite.cluster('share1');
    const groups: string[] = [];
    for (let i = 0; i < PLUGINS; i++) {
      await deployProbe(producer, suite.probe, { name: `Share${i}`, subscribeTo: ['Step'], settings: { mode: 'append', marker: `S${i}` } });
      groups.push(pluginGroup(`Share${i}`, null));
    }
    const start = (): Promise<ChildProcess> => startWorker({ router: { heartbeatMs: HEARTBEAT_MS } });
    const a = await start();
    const b = await start();
    await splitAs(site, groups, [a, b], [4, 4]);
    await produce(producer, 48);

    // A third process joins while the first burst is handled: it takes its share from the others.
    const c = await start();
    await produce(producer, 48);
    await splitAs(site, groups, [a, b, c], [3, 3, 2]);
    await produce(producer, 48);

    // One drains (SIGTERM): its share goes back to the other two.
    workers.delete(a);
    expect(await stopChild(a)).toBe(0);
    await produce(producer, 48);
    await splitAs(site, groups, [b, c], [4, 4]);
    const t1 = Date.now();
    for (const g of groups) await drained(producer, g, 60_000);
    process.stdout.write(`ROUTER-SHARE: drained ${Date.now() - t1} ms after the last burst\n`);

    const expected = new Map<string, number[]>();
    for (let n = 0; n < seq; n++) for (let i = 0; i < PLUGINS; i++) expected.set(`S${i}:e${n % ENTITIES}`, [...(expected.get(`S${i}:e${n % ENTITIES}`) ?? []), n]);
    expect(recordMismatches(expected, await appendRecords(producer, [TENANT]))).toEqual([]);
    expect(await producer.bus.deadLetters()).toEqual([]);
  }, 180_000);
});
