/**
 * ROUTER-SHARE-4: a global plugin's lanes are split among the processes sharing a bus, each lane on
 * its own (`laneOwner`), so one busy global plugin's work is spread over every process instead of
 * running in the one its queue goes to (before, its lanes went with its queue: a second process ran
 * none of it).
 *
 * Two routers share one Redis and one PostgreSQL schema in this process; one global plugin; events of
 * 12 tenants, each in the plugin's lane for its tenant. Router names are picked so the split gives
 * each router at least 4 of the 12 lanes. A runs alone first and holds every lane; when B joins, the
 * lanes the split gives B move to it promptly (A's idle lane workers are woken by the new split, not
 * left to their next poll). Then every call runs in the router the split gives its lane to — both run
 * some — and every event is handled once.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { queueLeaseName } from '../../src/bus/index.js';
import type { UeeApp } from '../../src/app/index.js';
import { laneGroup } from '../../src/registry/index.js';
import { laneOwner } from '../../src/router/ownership.js';
import { randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { deployProbe, marks, newSite, openApp, probeSuite, until, watchRouterCalls } from './harness.js';

const TENANTS = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
const PLUGIN = 'Spread';
const ROUNDS = 5;

const suite = probeSuite();
const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

/** Router names for which the split gives each of the two at least a third of the lanes. */
function names(): { a: string; b: string } {
  for (;;) {
    const a = `a-${randomBytes(3).toString('hex')}`;
    const b = `b-${randomBytes(3).toString('hex')}`;
    const toA = TENANTS.filter((t) => laneOwner([a, b], laneGroup(PLUGIN, t)) === a).length;
    if (toA >= TENANTS.length / 3 && toA <= (2 * TENANTS.length) / 3) return { a, b };
  }
}

/** Counts `app`'s router's calls per tenant from now on. */
function callsByTenant(app: UeeApp): Map<string, number> {
  const calls = new Map<string, number>();
  watchRouterCalls(app, ({ event }) => calls.set(event.tenantId ?? '', (calls.get(event.tenantId ?? '') ?? 0) + 1));
  return calls;
}

it('ROUTER-SHARE-4 a global plugin\'s lanes are split among the processes: each runs the calls of the lanes the split gives it, both run some, every event once', async () => {
  const schema = randomSchema('share4');
  suite.schemas.push(schema);
  const site = newSite('redis', 'share4');
  disposers.push(() => site.dispose());
  const n = names();
  const settings = { store: schemaUrl(schema), tenants: TENANTS.join(',') };
  // pollMs far above the heartbeat: a lane that moves at the next poll instead of at the new split fails.
  const router = { refreshMs: 200, backoffMs: 20, concurrency: 4, heartbeatMs: 600, claimIdleMs: 60_000, pollMs: 10_000 };
  const a = await openApp(site, settings, { router: { ...router, consumerName: n.a } });
  disposers.push(() => a.close());
  await until('A to dispatch', () => (a.runtime!.router.leading ? true : undefined));
  await deployProbe(a, suite.probe, { name: PLUGIN, subscribeTo: ['Ping'], settings: { mode: 'mark', marker: 's' } });
  await a.runtime!.router.refresh();

  const redis = new Redis(TEST_REDIS_URL);
  disposers.push(() => redis.quit().then(() => undefined));
  const lanes = TENANTS.map((t) => laneGroup(PLUGIN, t));
  const owner = new Map(TENANTS.map((t, i) => [t, laneOwner([n.a, n.b], lanes[i]!)!]));
  const publish = async (round: number): Promise<void> => {
    for (const t of TENANTS) await a.store.commit({ tenantId: t, actor: 'user:test' }, { events: [{ type: 'Ping', entityId: `e${round}` }] });
  };
  const handled = async (perTenant: number): Promise<boolean> => {
    for (const t of TENANTS) if ((await marks(a, t)).length < perTenant) return false;
    return true;
  };

  const holders = (): Promise<Array<string | null>> => redis.mget(...lanes.map((l) => `${site.redisPrefix}lease:${queueLeaseName(l)}`));

  // A alone: it makes every lane and holds every lane's lease.
  await publish(0);
  await until('the first events handled', async () => ((await handled(1)) ? true : undefined), 60_000);
  expect(await holders()).toEqual(lanes.map(() => n.a));
  // B joins: the lanes the split gives it move to it — A's lane workers, woken by the new split, hand
  // theirs over at once (an idle lane's worker would otherwise look again only at its next poll).
  const dir = tempDir('uee-share4-b');
  disposers.push(() => dir[Symbol.dispose]());
  const joined = Date.now();
  const b = await openApp({ ...site, dataDir: dir.path }, settings, { router: { ...router, consumerName: n.b } });
  disposers.push(() => b.close());
  await until('every lane\'s lease held by its owner in the split', async () => ((await holders()).every((h, i) => h === owner.get(TENANTS[i]!)) ? true : undefined), 30_000);
  const movedMs = Date.now() - joined;
  process.stdout.write(`ROUTER-SHARE-4: lanes moved to the joining router within ${movedMs} ms (heartbeat ${router.heartbeatMs} ms, pollMs ${router.pollMs} ms)\n`);
  // Within a few roster calls (a quarter heartbeat each) and a lease take, not a poll.
  expect(movedMs).toBeLessThan(router.pollMs);

  const inA = callsByTenant(a);
  const inB = callsByTenant(b);
  for (let round = 1; round <= ROUNDS; round++) await publish(round);
  await until('every event handled', async () => ((await handled(1 + ROUNDS)) ? true : undefined), 60_000);

  // Each lane's calls ran where the split puts it: both routers ran some.
  for (const t of TENANTS) {
    const [mine, other] = owner.get(t) === n.a ? [inA, inB] : [inB, inA];
    expect({ tenant: t, calls: mine.get(t) ?? 0, elsewhere: other.get(t) ?? 0 }).toEqual({ tenant: t, calls: ROUNDS, elsewhere: 0 });
  }
  expect([...inA.values()].reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual((ROUNDS * TENANTS.length) / 3);
  expect([...inB.values()].reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual((ROUNDS * TENANTS.length) / 3);
  // Every event once: one mark per event, none twice.
  for (const t of TENANTS) {
    const got = (await marks(a, t)).map((m) => m.sourceEntity as string).sort();
    expect(got).toEqual(Array.from({ length: 1 + ROUNDS }, (_, r) => `e${r}`).sort());
  }
}, 180_000);
