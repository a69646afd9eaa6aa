/**
 * ROUTER-SHARE-3: a queue the split gives to a process that does not dispatch is woken across
 * processes. The dispatching router names the queues it filled for other processes in one bus
 * signal (`QUEUED_SIGNAL`); their routers wake those workers at once, as a dispatcher wakes its own
 * process's. Before, such a worker found its deliveries at its next poll: after a quiet spell up to
 * `pollMs` late (500 ms by default), half the queues of a two-process deployment.
 *
 * Two routers share one Redis and one PostgreSQL schema in this process; A dispatches. Plugin and
 * router names are picked so the split gives plugin `Near`'s queue to A and `Far`'s to B. After each
 * quiet spell one event concerns both: how long `Far`'s effect takes to appear is compared with
 * `Near`'s (A's own queue, woken in-process: the baseline, measured in the same rounds). Then: B polls
 * its empty queue at the slow pace while it hears the signals, and a signal lost while the
 * subscriptions' connections are cut costs no poll wait (B wakes its workers once subscribed again).
 * B's first attempt to subscribe fails: it is retried at its next roster call.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { queueLeaseName } from '../../src/bus/index.js';
import { RedisBus } from '../../src/bus/redis/redis-bus.js';
import { laneGroup } from '../../src/registry/index.js';
import { laneOwner } from '../../src/router/ownership.js';
import { QUEUED_SIGNAL } from '../../src/router/router.js';
import { randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { deployProbe, marks, newSite, openApp, probeSuite, until } from './harness.js';

const POLL_MS = 1500;
const ROUNDS = 5;
const acme = { tenantId: 'acme', actor: 'user:test' };

const suite = probeSuite();
const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

/** Router and plugin names for which the split gives the two global plugins' lanes for acme (where acme's events wait): `near`'s to `a`, `far`'s to `b`. */
function names(): { a: string; b: string; near: string; far: string } {
  const a = `a-${randomBytes(3).toString('hex')}`;
  const b = `b-${randomBytes(3).toString('hex')}`;
  for (let i = 0; ; i++) {
    const near = `Near${i}`;
    const far = `Far${i}`;
    if (laneOwner([a, b], laneGroup(near, 'acme')) === a && laneOwner([a, b], laneGroup(far, 'acme')) === b) return { a, b, near, far };
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

it('ROUTER-SHARE-3 a queue held by a process that does not dispatch is woken across processes: its delivery after a quiet spell is as prompt as the dispatching process\'s own', async () => {
  const schema = randomSchema('share3');
  suite.schemas.push(schema);
  const site = newSite('redis', 'share3');
  disposers.push(() => site.dispose());
  const n = names();
  // claimIdleMs far above pollMs: a woken worker's longest wait on an empty queue is 10 × pollMs.
  const router = { refreshMs: 200, backoffMs: 20, concurrency: 4, heartbeatMs: 600, pollMs: POLL_MS, claimIdleMs: 60_000 };
  const a = await openApp(site, { store: schemaUrl(schema) }, { router: { ...router, consumerName: n.a } });
  disposers.push(() => a.close());
  await until('A to dispatch', () => (a.runtime!.router.leading ? true : undefined));
  const redis = new Redis(TEST_REDIS_URL);
  disposers.push(() => redis.quit().then(() => undefined));
  const signalClients = async (): Promise<string[]> =>
    ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=uee-signals:${site.redisPrefix}`));
  await until("A's signal subscription", async () => ((await signalClients()).length === 1 ? true : undefined));
  // B's first attempt to listen fails (Redis refusing the subscription): it is tried again at its
  // next roster call, so B still hears the signals below.
  // (Only the router's: the outbox relay listens on a channel of its own, first.)
  const original = Object.getOwnPropertyDescriptor(RedisBus.prototype, 'listen')!.value as RedisBus['listen'];
  let refused = false;
  const listen = vi.spyOn(RedisBus.prototype, 'listen').mockImplementation(function (this: RedisBus, channel, handlers) {
    if (channel === QUEUED_SIGNAL && !refused) {
      refused = true;
      return Promise.reject(new Error('subscription refused (test)'));
    }
    return original.call(this, channel, handlers);
  });
  disposers.push(() => listen.mockRestore());
  const dir = tempDir('uee-share3-b');
  disposers.push(() => dir[Symbol.dispose]());
  const b = await openApp({ ...site, dataDir: dir.path }, { store: schemaUrl(schema) }, { router: { ...router, consumerName: n.b } });
  disposers.push(() => b.close());
  await until("B's signal subscription, after its first attempt failed", async () => ((await signalClients()).length === 2 ? true : undefined));
  // (B also listens for routing changes: a subscription of its own, made once)
  expect(listen.mock.calls.filter(([channel]) => channel === QUEUED_SIGNAL)).toHaveLength(2);
  listen.mockRestore();
  await deployProbe(a, suite.probe, { name: n.near, subscribeTo: ['Ping'], settings: { mode: 'mark', marker: 'near' } });
  await deployProbe(a, suite.probe, { name: n.far, subscribeTo: ['Ping'], settings: { mode: 'mark', marker: 'far' } });
  await a.runtime!.router.refresh();
  await b.runtime!.router.refresh();

  // The global plugins' lanes for acme.
  const holder = (plugin: string): Promise<string | null> => redis.get(`${site.redisPrefix}lease:${queueLeaseName(laneGroup(plugin, 'acme'))}`);
  const seen = async (marker: string, entityId: string): Promise<boolean> => (await marks(a, 'acme')).some((m) => m.marker === marker && m.sourceEntity === entityId);

  const near: number[] = [];
  const far: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const entityId = `p${round}`;
    const t0 = Date.now();
    await a.store.commit(acme, { events: [{ type: 'Ping', entityId }] });
    let nearMs: number | undefined;
    let farMs: number | undefined;
    await until(`round ${round}: both plugins' marks`, async () => {
      if (nearMs === undefined && (await seen('near', entityId))) nearMs = Date.now() - t0;
      if (farMs === undefined && (await seen('far', entityId))) farMs = Date.now() - t0;
      return nearMs !== undefined && farMs !== undefined ? true : undefined;
    }, 60_000);
    if (round === 0) {
      // Warm-up: each process holds the queue the split gives it before anything is measured.
      await until('the split: Near on A, Far on B', async () => ((await holder(n.near)) === n.a && (await holder(n.far)) === n.b ? true : undefined));
      expect(a.runtime!.router.leading).toBe(true);
      expect(b.runtime!.router.leading).toBe(false);
    } else {
      near.push(nearMs!);
      far.push(farMs!);
    }
    // A quiet spell: the workers' waits grow to their longest.
    await new Promise((r) => setTimeout(r, POLL_MS + 500));
  }
  console.info(`ROUTER-SHARE-3 ms after the commit, Near (A, dispatching) ${near.join('/')}; Far (B) ${far.join('/')}`);
  // Polling, B would find the event a uniformly spread part of `pollMs` late (a median of ~750 ms).
  expect(median(far)).toBeLessThan(median(near) + POLL_MS / 10);

  // Woken by signals, B polls its empty queue as rarely as the dispatching process does: its waits
  // double from pollMs past it (1.5, 3, 6 s…) instead of staying at pollMs (a read every 1.5 s).
  const before = b.runtime!.router.queueIo.queueReads;
  await new Promise((r) => setTimeout(r, 4 * POLL_MS));
  const reads = b.runtime!.router.queueIo.queueReads - before;
  console.info(`ROUTER-SHARE-3 B's reads of its empty queue in ${4 * POLL_MS} ms: ${reads}`);
  expect(reads).toBeLessThanOrEqual(2);

  // The signal subscriptions' connections are cut and an event follows at once: its signal is sent
  // while nobody listens (lost). When B's router is subscribed again (ioredis reconnects after
  // ~200 ms) it wakes its workers, so the delivery is found then, not at B's next poll (pollMs).
  const clients = await signalClients();
  expect(clients).toHaveLength(2); // A's and B's
  for (const line of clients) await redis.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
  const t0 = Date.now();
  await a.store.commit(acme, { events: [{ type: 'Ping', entityId: 'lost' }] });
  await until("Far's mark after the lost signal", async () => ((await seen('far', 'lost')) ? true : undefined), 60_000);
  const lostMs = Date.now() - t0;
  console.info(`ROUTER-SHARE-3 Far's mark ${lostMs} ms after a commit whose signal was lost`);
  expect(lostMs).toBeLessThan(POLL_MS / 2);
}, 120_000);
