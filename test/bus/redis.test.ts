import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRedisBus } from '../../src/bus/index.js';
import { isUeeError } from '../../src/core/index.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { busConformance, expectCorruptEntryDeadLettered } from './conformance.js';

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

describe('redis bus specifics', () => {
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

  it('BUS-R3: keys live under the prefix: <prefix>events, <prefix>dead, <prefix>dedupe:<eventId>', async () => {
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    try {
      await bus.ensureGroup('g', 'earliest');
      const { ids } = await bus.publish([{ eventId: 'evt-1', type: 'T', tenantId: null, payload: {}, occurredAt: new Date().toISOString(), correlationId: 'evt-1', causationId: null, hop: 0, source: { kind: 'system', id: 'x' } }]);
      const [d] = await bus.read('g', 'c');
      await bus.deadLetter('g', d!, { code: 'X', message: 'y' });
      expect(ids).toHaveLength(1);
      expect((await admin.keys(`${prefix}*`)).sort()).toEqual([`${prefix}dead`, `${prefix}dedupe:evt-1`, `${prefix}events`]);
      expect(await admin.pttl(`${prefix}dedupe:evt-1`)).toBeGreaterThan(0);
    } finally {
      await bus.close();
    }
  });
});
