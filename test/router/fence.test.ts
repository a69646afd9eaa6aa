/**
 * ROUTER-FENCE: a queue's commits are fenced by its lease. Each time a process takes a queue's lease
 * it draws a fencing token (the bus counter `uee.fence`, strictly increasing), every commit it makes
 * for that queue carries it, and the store refuses (`FENCED`) a commit whose token is older than one
 * already committed under the queue — so a router paused past its lease (GC, SIGSTOP, a network cut)
 * that wakes with a commit in hand cannot apply it after another process took the queue over, and
 * does not ack the delivery either: the new holder owns it.
 *
 * Two routers share one Redis and one PostgreSQL schema in this process. The pause is injected into
 * router A as a process pause looks from outside: once its plugin's commit is about to start, its
 * heartbeat calls stop reaching Redis (the heartbeat key lapses, B takes the queue and the entries A
 * held) and the commit waits, until B has handled that event and the next one of the same entity.
 * (Once A's heartbeat beats again, the split of the queues gives the queue back to A: B hands it over.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fencedError, type CommitBatch, type CommitResult } from '../../src/store/index.js';
import { DEFAULT_UNFINISHED_DELIVERIES } from '../../src/runtime/quarantine.js';
import { UeeError, isUeeError, type TenantContext } from '../../src/core/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { queueLeaseName } from '../../src/bus/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { allOfType, deployProbe, drained, firstOwns, newSite, openApp, pausableHeartbeat, probeWasm, until } from './harness.js';
import { Redis } from 'ioredis';

const HEARTBEAT_MS = 600;
/** Far beyond the heartbeat: only the heartbeat can move the queue in this test's time. */
const CLAIM_IDLE_MS = 60_000;
const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

describe('commit fencing (Redis bus, PostgreSQL store, two routers)', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  /**
   * Router A handles seq 0 of entity x1 alone, then router B joins on the same Redis and schema.
   * `pauseA()` arms A's pause: its heartbeat calls stop reaching Redis until `wake()`, so B takes the
   * queue and the entries A held.
   */
  async function twoRouters(label: string) {
    const schema = randomSchema(label);
    schemas.push(schema);
    const store = schemaUrl(schema);
    const site = newSite('redis', label);
    disposers.push(() => site.dispose());
    const options = { router: { refreshMs: 200, backoffMs: 20, concurrency: 4, heartbeatMs: HEARTBEAT_MS, claimIdleMs: CLAIM_IDLE_MS } };
    // A global plugin: acme's events wait in its lane, a queue of the split on its own.
    const group = laneGroup('Fenced', 'acme');
    // The split of the queues gives the lane to A while both live (to B while A's heartbeat lapsed).
    const names = firstOwns(group);
    const a = await openApp(site, { store }, { router: { ...options.router, consumerName: names.first } });
    disposers.push(() => a.close());
    await deployProbe(a, probe, { name: 'Fenced', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'F' } });
    await a.runtime!.router.refresh();
    const step = (seq: number): Promise<CommitResult> => a.store.commit(acme, { events: [{ type: 'Step', entityId: 'x1', payload: { seq } }] });
    const seqs = async (): Promise<number[]> => ((await allOfType(a, 'acme', 'Order'))[0]?.attributes.seqs as number[] | undefined) ?? [];
    await step(0);
    await until('A to handle seq 0', async () => ((await seqs()).length === 1 ? true : undefined));
    const dir = tempDir('uee-fence-b');
    disposers.push(() => dir[Symbol.dispose]());
    const b = await openApp({ ...site, dataDir: dir.path }, { store }, { router: { ...options.router, consumerName: names.second } });
    disposers.push(() => b.close());

    const { pause: pauseA, wake, woken } = pausableHeartbeat(a);
    const redis = new Redis(TEST_REDIS_URL);
    disposers.push(() => redis.quit().then(() => undefined));
    const takenOver = (): Promise<true> =>
      until('B to take the queue over', async () => ((await redis.get(`${site.redisPrefix}lease:${queueLeaseName(group)}`)) === b.runtime!.router.consumer ? true : undefined));
    return { a, b, group, step, seqs, woken, wake, pauseA, takenOver };
  }

  it('ROUTER-FENCE-1 a router paused past its lease with a commit in hand is refused (FENCED) when it wakes, and does not ack: the new holder\'s effects stand, once, in order', async () => {
    const { a, b, group, step, seqs, woken, wake, pauseA, takenOver } = await twoRouters('fence');
    // A's pause: armed for its next fenced commit.
    const commit = a.store.commit.bind(a.store);
    let stale: Promise<CommitResult> | undefined;
    a.store.commit = (ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> => {
      if (batch.fence === undefined || stale !== undefined) return commit(ctx, batch);
      pauseA();
      stale = woken.then(() => commit(ctx, batch));
      return stale;
    };
    const ack = a.bus.ack.bind(a.bus);
    const acksAfterWake: string[] = [];
    let awake = false;
    a.bus.ack = (g, ids) => {
      if (awake && g === group) acksAfterWake.push(...ids);
      return ack(g, ids);
    };
    // What B handled while A slept (seq 1, which A had in hand, and seq 2).
    const ackB = b.bus.ack.bind(b.bus);
    const ackedByB: string[] = [];
    b.bus.ack = (g, ids) => {
      if (!awake && g === group) ackedByB.push(...ids);
      return ackB(g, ids);
    };

    await step(1);
    await until('A to reach its commit of seq 1 and pause', () => (stale !== undefined ? true : undefined));
    await takenOver();
    // B handles what A held (seq 1), then the entity's next event.
    await until('B to handle seq 1', async () => ((await seqs()).length === 2 ? true : undefined));
    await step(2);
    await until('B to handle seq 2', async () => ((await seqs()).length === 3 ? true : undefined));

    awake = true;
    wake();
    const refused = await stale!.then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(isUeeError(refused) ? refused.code : `answered applied=${String((refused as CommitResult).applied)}`).toBe('FENCED');

    await step(3);
    await drained(b, group, 30_000);
    expect(await seqs()).toEqual([0, 1, 2, 3]);
    // The stale holder acked nothing of what the new holder handled (it may take the queue back
    // afterwards, under a new holding, and ack what it handles then: seq 3).
    expect(ackedByB).toHaveLength(2);
    expect(acksAfterWake.filter((id) => ackedByB.includes(id))).toEqual([]);
    expect(await b.bus.deadLetters()).toEqual([]);
  }, 120_000);

  it('ROUTER-FENCE-3 a router paused past its lease on its way to dead-letter a delivery does not dead-letter it when it wakes: the new holder claimed it and handles it', async () => {
    const { a, b, group, step, seqs, woken, wake, pauseA, takenOver } = await twoRouters('fencedead');
    // A's attempt fails for good (a deterministic refusal of its commit): it goes to dead-letter, and pauses there.
    // (Only until it wakes: then the split gives the queue back to A, which handles it normally.)
    let awake = false;
    const commit = a.store.commit.bind(a.store);
    a.store.commit = (ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> =>
      batch.fence === undefined || awake ? commit(ctx, batch) : Promise.reject(new UeeError('VALIDATION_FAILED', 'refused in A only'));
    const deadLetter = a.bus.deadLetter.bind(a.bus);
    let stale: Promise<boolean> | undefined;
    a.bus.deadLetter = (...args) => {
      if (stale !== undefined) return deadLetter(...args);
      pauseA();
      stale = woken.then(() => deadLetter(...args));
      return stale;
    };
    // B's ack of the claimed entry waits until A has woken and tried: B holds the entry meanwhile.
    let staleDone!: () => void;
    const tried = new Promise<void>((resolve) => (staleDone = resolve));
    const ack = b.bus.ack.bind(b.bus);
    b.bus.ack = async (g, ids) => {
      if (g === group) await tried;
      return ack(g, ids);
    };

    await step(1);
    await until('A to reach its dead letter of seq 1 and pause', () => (stale !== undefined ? true : undefined));
    await takenOver();
    await until('B to handle seq 1', async () => ((await seqs()).length === 2 ? true : undefined));
    awake = true;
    wake();
    const recorded = await stale!;
    staleDone();
    expect(recorded).toBe(false);

    await step(2);
    await drained(b, group, 30_000);
    expect(await seqs()).toEqual([0, 1, 2]);
    expect(await b.bus.deadLetters()).toEqual([]);
  }, 120_000);
});

describe('commit fencing after a bus reset (embedded bus, SQLite store)', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('ROUTER-FENCE-2 a fence the store holds above the bus\'s token counter (a new bus on an old store) is passed at the first refusal, not waited out one token at a time', async () => {
    const site = newSite('embedded', 'fence-reset');
    disposers.push(() => site.dispose());
    const seed = await openApp(site, { runtime: 'off' });
    const group = laneGroup('Reset', 'acme');
    // The store remembers a holder far ahead of this bus's counter (it starts at 1).
    await seed.store.commit(acme, { fence: { key: queueLeaseName(group), token: 1_000_000 }, writes: [{ entityTypeId: 'Seed', attributes: {} }] });
    await deployProbe(seed, probe, { name: 'Reset', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'R' } });
    await seed.close();
    const app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20, concurrency: 4, claimIdleMs: 600 } });
    disposers.push(() => app.close());
    await app.store.commit(acme, { events: [0, 1, 2].map((seq) => ({ type: 'Step', entityId: 'x1', payload: { seq } })) });
    await drained(app, group, 30_000);
    expect((await allOfType(app, 'acme', 'Order'))[0]?.attributes.seqs).toEqual([0, 1, 2]);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 60_000);

  it('ROUTER-FENCE-4 a delivery refused FENCED again and again is handed back uncounted: it is never quarantined as if the process had died during it', async () => {
    const site = newSite('embedded', 'fence-count');
    disposers.push(() => site.dispose());
    const app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20, concurrency: 4, claimIdleMs: 600 } });
    disposers.push(() => app.close());
    await deployProbe(app, probe, { name: 'Refused', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'R' } });
    await app.runtime!.router.refresh();
    // Each time the queue is taken again, its first commits are refused as if another holder had
    // committed meanwhile — more times than the crash quarantine tolerates unfinished deliveries.
    let refusals = DEFAULT_UNFINISHED_DELIVERIES + 1;
    const commit = app.store.commit.bind(app.store);
    app.store.commit = (ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> => {
      if (batch.fence === undefined || refusals === 0) return commit(ctx, batch);
      refusals--;
      return Promise.reject(fencedError(batch.fence, batch.fence.token + 1));
    };
    await app.store.commit(acme, { events: [{ type: 'Step', entityId: 'x1', payload: { seq: 1 } }] });
    await drained(app, pluginGroup('Refused', null), 30_000);
    expect(refusals).toBe(0);
    expect(await app.bus.deadLetters()).toEqual([]);
    expect((await allOfType(app, 'acme', 'Order'))[0]?.attributes.seqs).toEqual([1]);
  }, 60_000);
});
