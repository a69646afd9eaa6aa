import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRedisBus, type Delivery, type EventBus } from '../../src/bus/index.js';
import { createLogger, isUeeError } from '../../src/core/index.js';
import { SETTLE_LUA } from '../../src/bus/redis/scripts.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { busConformance, expectCorruptEntryDeadLettered, makeEvents } from './conformance.js';

let admin: Redis;
let prefix = '';
beforeAll(() => {
  admin = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await admin.quit();
});
beforeEach(() => {
  prefix = randomPrefix('bus');
});
afterEach(async () => {
  await deleteKeys(admin, prefix);
});

/** Waits (up to 5 s) for `probe` to hold. */
async function until(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Deletes every key under `prefix` (SCAN + DEL). */
async function deleteKeys(redis: Redis, keyPrefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

busConformance('redis streams', (options) => openRedisBus({ url: TEST_REDIS_URL, prefix, ...(options ? { options } : {}) }));

/**
 * Group `g` with six events, read three each by consumers `live` and `dead` (both with a heartbeat;
 * `first` reads first, so holds the older three).
 */
async function liveAndDead(bus: EventBus, first: 'live' | 'dead'): Promise<{ live: Delivery[]; dead: Delivery[] }> {
  await bus.ensureGroup('g', 'earliest');
  await bus.publish(makeEvents(6));
  await bus.heartbeat!('live', 60_000);
  await bus.heartbeat!('dead', 60_000);
  const a = await bus.read('g', first, { count: 3 });
  const b = await bus.read('g', first === 'live' ? 'dead' : 'live', { count: 3 });
  return first === 'live' ? { live: a, dead: b } : { live: b, dead: a };
}

describe('redis bus specifics', () => {
  it('BUS-R-LIVE-1: a liveness lease is its owner\'s while its heartbeat lives (no TTL of its own), taken once it lapses, never by a caller without a heartbeat', async () => {
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    const b = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      expect(await a.heartbeat!('p1', 300)).toBe(false); // first beat
      expect(await a.heartbeat!('p1', 300)).toBe(true);
      expect(await b.lease('q:x', 'p2', 10, { liveness: true })).toBe(false); // p2 has no heartbeat: takes nothing
      expect(await a.lease('q:x', 'p1', 10, { liveness: true })).toBe(true);
      await b.heartbeat!('p2', 60_000);
      await new Promise((r) => setTimeout(r, 150));
      await a.heartbeat!('p1', 300);
      await new Promise((r) => setTimeout(r, 150));
      // Far past the lease's ttlMs (10): still p1's, as its heartbeat lives.
      expect(await b.lease('q:x', 'p2', 10, { liveness: true })).toBe(false);
      await new Promise((r) => setTimeout(r, 400)); // p1's heartbeat lapses
      expect(await b.lease('q:x', 'p2', 10, { liveness: true })).toBe(true);
      expect(await a.heartbeat!('p1', 300)).toBe(false); // p1 learns it had lapsed
      expect(await a.lease('q:x', 'p1', 10, { liveness: true })).toBe(false);
      await b.heartbeat!('p2', 0); // a clean stop ends the heartbeat: the lease moves at once
      expect(await a.lease('q:x', 'p1', 10, { liveness: true })).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('BUS-R-DEDUPE-1: the de-duplication keys are bounded by what was published lately: settled ids lapse settledDedupeMs after their settle, only the never-settled live the whole window', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { dedupeWindowMs: 3_600_000, settledDedupeMs: 300 } });
    const count = async (): Promise<number> => {
      let n = 0;
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}dedupe:*`, 'COUNT', 1000);
        n += keys.length;
        cursor = next;
      } while (cursor !== '0');
      return n;
    };
    try {
      // As the outbox relay does: batches of 500, each settled once published (and marked).
      for (let i = 0; i < 6; i++) {
        const batch = makeEvents(500);
        await bus.publish(batch, { readAt: Date.now() });
        await bus.settle(batch.map((e) => e.eventId));
      }
      const unsettled = makeEvents(10); // a relay that died before marking these
      await bus.publish(unsettled);
      expect(await count()).toBe(3_010);
      await new Promise((r) => setTimeout(r, 400));
      expect(await count()).toBe(10);
      expect(await admin.pttl(`${prefix}dedupe:${unsettled[0]!.eventId}`)).toBeGreaterThan(3_000_000);
      expect(await bus.length()).toBe(3_010);
    } finally {
      await bus.close();
    }
  });

  it('BUS-R-DEDUPE-2: the settle script shortens and never lengthens a key\'s TTL, in its Redis 7 form (PEXPIRE … LT) and its Redis 6.2 form (PTTL + PEXPIRE) alike', async () => {
    for (const [form, script] of [['7', SETTLE_LUA], ['6.2', SETTLE_LUA.replace('if redis.REDIS_VERSION_NUM then', 'if false then')]] as const) {
      expect(script, form).toContain(form === '7' ? 'if redis.REDIS_VERSION_NUM then' : 'if false then');
      const [long, short, gone] = ['long', 'short', 'gone'].map((k) => `${prefix}dedupe:${form}:${k}`) as [string, string, string];
      await admin.set(long, '1', 'PX', 3_600_000);
      await admin.set(short, '1', 'PX', 2_000);
      expect(await admin.eval(script, 3, long, short, gone, 30_000)).toBe(3);
      const [l, sh] = [await admin.pttl(long), await admin.pttl(short)];
      expect(l, form).toBeGreaterThan(25_000);
      expect(l, form).toBeLessThanOrEqual(30_000); // shortened from an hour
      expect(sh, form).toBeLessThanOrEqual(2_000); // not lengthened to 30 s
      expect(await admin.exists(gone), form).toBe(0); // a missing key stays missing
    }
  });

  it('BUS-R-ROSTER-1: a roster lists its members whose heartbeat lives, sorted; a lapsed heartbeat drops a member at once, an expired entry and a ttl of 0 remove it', async () => {
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    const b = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await a.heartbeat!('p2', 60_000);
      await b.heartbeat!('p1', 300);
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p2']);
      expect(await b.roster!('routers', 'p1', 60_000)).toEqual(['p1', 'p2']);
      expect(await a.roster!('others', 'p2', 60_000)).toEqual(['p2']); // rosters are apart
      await new Promise((r) => setTimeout(r, 400)); // p1's heartbeat lapses; its roster entry lives on
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p2']);
      await b.heartbeat!('p1', 60_000); // back: counted again while its entry lives
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p1', 'p2']);
      await b.roster!('routers', 'p1', 0); // a clean stop takes it off
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p2']);
      await b.roster!('routers', 'p1', 200); // an entry not refreshed expires, heartbeat or not
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p1', 'p2']);
      await new Promise((r) => setTimeout(r, 300));
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p2']);
      // Members with different TTLs (processes with different heartbeats): a short one written last
      // does not shorten the roster's life below the long one's entry.
      await b.roster!('routers', 'p1', 60_000);
      await a.roster!('routers', 'p2', 200);
      await new Promise((r) => setTimeout(r, 300));
      expect(await a.roster!('routers', 'p2', 60_000)).toEqual(['p1', 'p2']);
      await expect(a.roster!('routers', 'p2', -1)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(a.roster!('', 'p2', 1000)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('BUS-R-SIGNAL-1: a signal reaches the listeners of its channel on the same prefix, again after their connection was cut (re-subscribed before ready), and none after they stop', async () => {
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    const b = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    const other = await openRedisBus({ url: TEST_REDIS_URL, prefix: `${prefix}other:` });
    try {
      const got: string[] = [];
      const strangers: string[] = [];
      let ready = 0;
      let lost = 0;
      const stop = await b.listen!('queued', { message: (m) => got.push(m), ready: () => ready++, lost: () => lost++ });
      expect(ready).toBe(1);
      await other.listen!('queued', { message: (m) => strangers.push(m) });
      await a.signal!('queued', 'one\ntwo');
      await until(() => got.length === 1);
      expect(got).toEqual(['one\ntwo']);

      // The subscriber connection is cut: lost, then ready once it is subscribed again.
      const list = (await admin.client('LIST')) as string;
      const name = `uee-signals:${prefix}signal:`;
      const ids = list.split('\n').filter((l) => l.includes(` name=${name} `)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
      expect(ids).toHaveLength(1);
      await admin.client('KILL', 'ID', ids[0]!);
      await until(() => lost === 1 && ready === 2);
      await a.signal!('queued', 'three');
      await until(() => got.length === 2);
      expect(got[1]).toBe('three');

      stop();
      await a.signal!('queued', 'four');
      await a.signal!('elsewhere', 'five');
      await new Promise((r) => setTimeout(r, 150));
      expect(got).toHaveLength(2);
      expect(strangers).toEqual([]); // another prefix is another bus
      await expect(a.signal!('', 'x')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    } finally {
      await a.close();
      await b.close();
      await other.close();
    }
  });

  it('BUS-R-QUEUES-1: a queue another process deleted fails only its own part of a multi-queue read (one script for all the queues)', async () => {
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await a.ensureGroup('dispatch', 'earliest');
      for (const q of ['qa', 'qb', 'qc']) await a.ensureQueue(q);
      const events = makeEvents(3);
      await a.publish(events);
      const read = await a.read('dispatch', 'd', { count: 10 });
      await a.route('dispatch', read.map((d) => ({ id: d.id, groups: ['qa', 'qb', 'qc'] })));
      // Known to this bus as queues; then the queue stream goes, behind its back.
      expect((await a.readQueues!('c', [{ group: 'qb', count: 1 }])).map((o) => o.ok)).toEqual([true]);
      await admin.del(`${prefix}q:qb`);
      const out = await a.readQueues!('c', [
        { group: 'qa', count: 10 },
        { group: 'qb', count: 10 },
        { group: 'qc', count: 2 },
      ]);
      expect(out.map((o) => (o.ok ? o.value.map((d) => d.event.eventId) : o.error.code))).toEqual([events.map((e) => e.eventId), 'NOT_FOUND', events.slice(0, 2).map((e) => e.eventId)]);
      const [qa, , qc] = out.map((o) => (o.ok ? o.value : []));
      const acked = await a.ackQueues!([
        { group: 'qa', ids: qa!.map((d) => d.id) },
        { group: 'qc', ids: qc!.map((d) => d.id) },
      ]);
      expect(acked.map((o) => o.ok && o.value)).toEqual([3, 2]);
      expect((await a.groupInfo('qc')).pending).toBe(0);
    } finally {
      await a.close();
    }
  });

  it('BUS-R-QUEUES-2: queues() reads the queue index, never the keyspace (O(queues), whatever else Redis holds); the index follows ensureQueue and deleteQueue, and queues made before it are indexed when a bus opens', async () => {
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await a.ensureQueue('plugin:acme:one');
      await a.ensureQueue('plugin:acme:one'); // twice: one name
      await a.ensureQueue('plugin:*:two');
      await a.ensureQueue('plugin:acme:gone');
      await a.deleteQueue('plugin:acme:gone');
      expect((await admin.smembers(`${prefix}queues`)).sort()).toEqual(['plugin:*:two', 'plugin:acme:one']);
      expect((await a.queues!()).sort()).toEqual(['plugin:*:two', 'plugin:acme:one']);
      // A queue stream made behind the bus's back (as a process of an earlier version made them) is not
      // listed — the listing reads the index, not the keys — until a bus opens and indexes it; a name
      // whose stream went behind its back (an earlier version's deleteQueue) is dropped from the index.
      await admin.xgroup('CREATE', `${prefix}q:plugin:acme:old`, 'plugin:acme:old', '0', 'MKSTREAM');
      await admin.del(`${prefix}q:plugin:*:two`);
      expect((await a.queues!()).sort()).toEqual(['plugin:acme:one']);
      expect(await admin.sismember(`${prefix}queues`, 'plugin:*:two')).toBe(0);
    } finally {
      await a.close();
    }
    const reopened = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      expect((await reopened.queues!()).sort()).toEqual(['plugin:acme:old', 'plugin:acme:one']);
    } finally {
      await reopened.close();
    }
  });

  it('BUS-R-LIVE-2: claimStale with deadOwners takes a dead consumer\'s entries at once, whatever their idle time, in stream order — never a live one\'s', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      const { live, dead } = await liveAndDead(bus, 'dead');
      expect(await bus.claimStale('g', 'taker', { minIdleMs: 60_000, deadOwners: true })).toEqual([]); // both alive
      await bus.heartbeat!('dead', 0);
      const claimed = await bus.claimStale('g', 'taker', { minIdleMs: 60_000, deadOwners: true });
      expect(claimed.map((d) => d.id)).toEqual(dead.map((d) => d.id));
      expect(claimed.every((d) => d.deliveryCount === 2)).toBe(true);
      expect(await bus.claimStale('g', 'other', { minIdleMs: 60_000 })).toEqual([]); // without deadOwners: idle time only
      expect((await bus.pending('g', { consumer: 'live' })).map((p) => p.id)).toEqual(live.map((d) => d.id));
    } finally {
      await bus.close();
    }
  });

  it('BUS-R-LIVE-3: claimStale with deadOwners does not take a dead consumer\'s entries past an older one a live consumer still holds', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      // The live process read first (a previous holder finishing its batch), the dead one after it.
      const { live, dead } = await liveAndDead(bus, 'live');
      await bus.heartbeat!('dead', 0);
      expect(await bus.claimStale('g', 'taker', { minIdleMs: 60_000, deadOwners: true })).toEqual([]);
      // Once the live one hands its entries back, everything comes in stream order.
      expect(await bus.handBack('g', 'live', live)).toBe(3);
      const claimed = await bus.claimStale('g', 'taker', { minIdleMs: 60_000, deadOwners: true });
      expect(claimed.map((d) => d.id)).toEqual([...live, ...dead].map((d) => d.id));
    } finally {
      await bus.close();
    }
  });

  it('BUS-R-OVERFLOW-1: a queue nobody reads stays within maxQueueLength + one routed batch in Redis memory (XLEN), and every event is queued or one QUEUE_OVERFLOW dead letter, never both; one warning names the queue', async () => {
    const cap = 100;
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ level: 'warn', sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { maxQueueLength: cap }, logger });
    try {
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('nobody');
      const events = makeEvents(1_000);
      for (let i = 0; i < events.length; i += 50) {
        await bus.publish(events.slice(i, i + 50));
        const read = await bus.read('dispatch', 'd', { count: 50 });
        expect(await bus.route('dispatch', read.map((d) => ({ id: d.id, groups: ['nobody'] })))).toBe(50);
        expect(await admin.xlen(`${prefix}q:nobody`)).toBeLessThanOrEqual(cap + 50);
      }
      const dead = await bus.deadLetters({ group: 'nobody', count: 10_000 });
      expect(dead.every((l) => l.error.code === 'QUEUE_OVERFLOW' && l.attempts.length === 0)).toBe(true);
      const queued: string[] = [];
      for (let b = await bus.read('nobody', 'c', { count: 100 }); b.length > 0; b = await bus.read('nobody', 'c', { count: 100 })) queued.push(...b.map((d) => d.event.eventId));
      // The oldest 900 went, the newest 100 are queued, in order: each event exactly once.
      expect(dead.map((l) => l.event.eventId)).toEqual(events.slice(0, 900).map((e) => e.eventId));
      expect(queued).toEqual(events.slice(900).map((e) => e.eventId));
      // The overflow's own consumer never stays behind in the group.
      expect((await bus.groupInfo('nobody')).consumers.map((c) => c.name)).toEqual(['c']);
      const warnings = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('queue overflow'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ queue: 'nobody', maxQueueLength: cap });
    } finally {
      await bus.close();
    }
  });

  it('BUS-R-OVERFLOW-2: two processes routing into one overflowing queue at once: every event is queued, read or one dead letter — none lost, none twice', async () => {
    const cap = 30;
    const a = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { maxQueueLength: cap } });
    const b = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { maxQueueLength: cap } });
    try {
      await a.ensureGroup('dispatch', 'earliest');
      await a.ensureQueue('shared');
      const events = makeEvents(600);
      await a.publish(events);
      const read: string[] = [];
      const dispatcher = async (bus: EventBus, name: string): Promise<void> => {
        for (let got = await bus.read('dispatch', name, { count: 10 }); got.length > 0; got = await bus.read('dispatch', name, { count: 10 })) {
          await bus.route('dispatch', got.map((d) => ({ id: d.id, groups: ['shared'] })));
        }
      };
      // A slow reader takes a few now and then, and acks them.
      let done = false;
      const reader = (async () => {
        while (!done) {
          const got = await b.read('shared', 'r', { count: 3 });
          read.push(...got.map((d) => d.event.eventId));
          await b.ack('shared', got.map((d) => d.id));
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await Promise.all([dispatcher(a, 'd1'), dispatcher(b, 'd2')]);
      done = true;
      await reader;
      expect((await a.groupInfo('shared')).lag).toBeLessThanOrEqual(cap);
      const dead = (await a.deadLetters({ group: 'shared', count: 10_000 })).map((l) => l.event.eventId);
      for (let got = await a.read('shared', 'r', { count: 100 }); got.length > 0; got = await a.read('shared', 'r', { count: 100 })) read.push(...got.map((d) => d.event.eventId));
      expect(dead.length).toBeGreaterThan(0);
      expect([...read, ...dead].sort()).toEqual(events.map((e) => e.eventId).sort());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('BUS-R-OVERFLOW-3: a backlog beyond one call, with a lag Redis cannot tell (an XDEL) and a garbage entry in it, is lettered before route answers: the garbage as CORRUPT_DATA, the rest QUEUE_OVERFLOW, the newest cap left', async () => {
    const big = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { maxQueueLength: 1_000 } });
    const small = await openRedisBus({ url: TEST_REDIS_URL, prefix, options: { maxQueueLength: 100 } });
    try {
      await big.ensureGroup('dispatch', 'earliest');
      await big.ensureQueue('q');
      const garbage = await admin.xadd(`${prefix}q:q`, '*', 'foo', 'bar');
      const events = makeEvents(701);
      await big.publish(events);
      const first = await big.read('dispatch', 'd', { count: 700 });
      await big.route('dispatch', first.map((d) => ({ id: d.id, groups: ['q'] })));
      // The 11th event leaves the queue behind the bus's back: Redis no longer tells the group's lag.
      const [, eleventh] = (await admin.xrange(`${prefix}q:q`, '-', '+', 'COUNT', 12)).slice(10);
      await admin.xdel(`${prefix}q:q`, eleventh![0]);
      // A bus with a lower cap routes one more: 701 undelivered, 601 over — more than one call letters.
      const last = await small.read('dispatch', 'd', { count: 1 });
      expect(await small.route('dispatch', last.map((d) => ({ id: d.id, groups: ['q'] })))).toBe(1);
      expect((await small.groupInfo('q')).lag).toBe(100);
      const dead = await small.deadLetters({ group: 'q', count: 1_000 });
      expect(dead).toHaveLength(601);
      expect([dead[0]!.originalId, dead[0]!.error.code, dead[0]!.event.type]).toEqual([garbage, 'CORRUPT_DATA', 'BusEntryCorrupt']);
      expect(dead.slice(1).every((l) => l.error.code === 'QUEUE_OVERFLOW')).toBe(true);
      const ids = (ds: ReadonlyArray<{ event: { eventId: string } }>): string[] => ds.map((d) => d.event.eventId);
      expect(ids(dead.slice(1))).toEqual(events.slice(0, 601).filter((_, i) => i !== 10).map((e) => e.eventId));
      expect(ids(await small.read('q', 'c', { count: 1_000 }))).toEqual(events.slice(601).map((e) => e.eventId));
    } finally {
      await big.close();
      await small.close();
    }
  });

  it('BUS-R1: a garbage entry XADDed to the stream becomes a CORRUPT_DATA dead letter and the consumer continues', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await expectCorruptEntryDeadLettered(bus, async () => {
        await admin.xadd(`${prefix}events`, '*', 'foo', 'bar', '__proto__', '{}');
      });
    } finally {
      await bus.close();
    }
  });

  it('BUS-R2: an unreachable Redis fails within seconds with a retryable BACKEND_UNAVAILABLE naming the URL without password', async () => {
    const started = Date.now();
    const err = await openRedisBus({ url: 'redis://user:s3cret@127.0.0.1:1' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isUeeError(err, 'BACKEND_UNAVAILABLE')).toBe(true);
    if (!isUeeError(err)) return;
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).not.toContain('s3cret');
    expect(JSON.stringify(err.toJSON())).not.toContain('s3cret');
  });

  it('BUS-R-UPGRADE: a plain group turned into a queue dead-letters what it had not finished (pending and unread), never drops it', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await bus.ensureGroup('up', 'earliest');
      const { ids } = await bus.publish(Array.from({ length: 3 }, (_, i) => ({ eventId: `up-${i}`, type: 'T', tenantId: null, payload: {}, occurredAt: new Date().toISOString(), correlationId: `up-${i}`, causationId: null, hop: 0, source: { kind: 'system' as const, id: 'x' } })));
      await bus.read('up', 'old-worker', { count: 1 });
      await bus.ensureQueue('up');
      const letters = await bus.deadLetters({ group: 'up' });
      expect(letters.map((l) => [l.originalId, l.event.eventId, l.error.code])).toEqual(ids.map((id, i) => [id, `up-${i}`, 'UPGRADED_TO_QUEUE']));
      expect(((await admin.xinfo('GROUPS', `${prefix}events`)) as unknown[][]).length).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('BUS-R3: keys live under the prefix: <prefix>events, <prefix>dead (+ its index by tenant), <prefix>dedupe:<eventId>', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await bus.ensureGroup('g', 'earliest');
      const { ids } = await bus.publish([{ eventId: 'evt-1', type: 'T', tenantId: null, payload: {}, occurredAt: new Date().toISOString(), correlationId: 'evt-1', causationId: null, hop: 0, source: { kind: 'system', id: 'x' } }]);
      const [d] = await bus.read('g', 'c');
      await bus.deadLetter('g', d!, { code: 'X', message: 'y' });
      expect(ids).toHaveLength(1);
      // The platform's letter ('' tenant): its index `dead-of:` and the index lengths `dead-tenants`.
      expect((await admin.keys(`${prefix}*`)).sort()).toEqual([`${prefix}dead`, `${prefix}dead-of:`, `${prefix}dead-tenants`, `${prefix}dedupe:evt-1`, `${prefix}events`]);
      expect(await admin.pttl(`${prefix}dedupe:evt-1`)).toBeGreaterThan(0);
    } finally {
      await bus.close();
    }
  });

  it('BUS-R-DEAD-1: dead letters written before the index by tenant (or by an older UEE) are indexed when a bus opens, once', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await bus.ensureGroup('g', 'earliest');
      const events = makeEvents(3).map((e, i) => ({ ...e, tenantId: i === 1 ? 'b' : 'a' }));
      await bus.publish(events);
      for (const d of await bus.read('g', 'c', { count: 3 })) await bus.deadLetter('g', d, { code: 'PLUGIN_ERROR', message: 'x' });
      // As an older UEE left them: the letters without their tenant field, no index.
      const written = (await admin.xrange(`${prefix}dead`, '-', '+')) as Array<[string, string[]]>;
      await admin.del(`${prefix}dead`, `${prefix}dead-of:a`, `${prefix}dead-of:b`, `${prefix}dead-tenants`);
      for (const [id, fields] of written) await admin.xadd(`${prefix}dead`, id, ...fields.filter((_, i) => fields[i - (i % 2)] !== 't'));
      expect(await bus.deadLetters({ tenantId: 'a' })).toEqual([]);
    } finally {
      await bus.close();
    }
    for (let open = 0; open < 2; open++) {
      const reopened = await openRedisBus({ url: TEST_REDIS_URL, prefix });
      try {
        expect((await reopened.deadLetters({ tenantId: 'a' })).map((l) => l.event.tenantId)).toEqual(['a', 'a']);
        expect((await reopened.deadLetters({ tenantId: 'b' })).map((l) => l.event.tenantId)).toEqual(['b']);
        expect(await admin.llen(`${prefix}dead-of:a`)).toBe(2);
        expect(await admin.zscore(`${prefix}dead-tenants`, 'a')).toBe('2');
      } finally {
        await reopened.close();
      }
    }
  });
});
