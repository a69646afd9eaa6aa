/**
 * ROUTER-IO-ACKREAD: the acks and reads a process's queues ask for in one turn go to the bus as ONE
 * step (`ackAndReadQueues`: one SQLite transaction) when the bus has it and there are both and more
 * than two of them, each queue still served its own outcome; a lone ack and a lone read, and a bus
 * without the step, get the two calls as before.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus, type EventBus } from '../../src/bus/index.js';
import { QueueIo } from '../../src/router/queue-io.js';
import { makeEvents } from '../bus/conformance.js';
import { tempDir } from '../helpers.js';

/** The bus with each call counted by method name. */
function counted(bus: EventBus, calls: Map<string, number>, without: readonly string[] = []): EventBus {
  return new Proxy(bus, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && without.includes(prop)) return undefined;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('QueueIo: acks and reads of one turn', () => {
  let dir: ReturnType<typeof tempDir>;
  let bus: EventBus;
  /** Entry ids in stream order. */
  let ids: string[];
  beforeEach(async () => {
    dir = tempDir();
    bus = await openEmbeddedBus({ path: join(dir.path, 'bus.db') });
    await bus.ensureGroup('src', 'earliest');
    for (const q of ['qa', 'qb', 'qc']) await bus.ensureQueue(q);
    await bus.publish(makeEvents(6));
    // qa: 0, 3 ; qb: 1, 4 ; qc: 2, 5
    const read = await bus.read('src', 'd', { count: 6 });
    ids = read.map((d) => d.id);
    await bus.route('src', read.map((d, i) => ({ id: d.id, groups: [['qa', 'qb', 'qc'][i % 3]!] })));
  });
  afterEach(async () => {
    await bus.close();
    dir[Symbol.dispose]();
  });

  it.each([
    ['with ackAndReadQueues: one bus step', [] as string[], { ackAndReadQueues: 1 }],
    ['without it: a read call and an ack call', ['ackAndReadQueues'], { readQueues: 1, ackQueues: 1 }],
  ])('ROUTER-IO-ACKREAD-1 %s; every ack and read gets its own outcome', async (_label, without, expected) => {
    const held = await bus.read('qa', 'p', { count: 2 });
    const heldB = await bus.read('qb', 'p', { count: 1 });
    const calls = new Map<string, number>();
    const io = new QueueIo(counted(bus, calls, without), 'p');
    const [ackA, ackB, readB, readC, readNope] = await Promise.allSettled([
      io.ack('qa', held[0]!.id).then(() => io.ack('qa', held[1]!.id)),
      io.ack('qb', heldB[0]!.id),
      io.read('qb', 10),
      io.read('qc', 1),
      io.read('nope', 10),
    ]);
    expect([ackA.status, ackB.status]).toEqual(['fulfilled', 'fulfilled']);
    // The first turn: qa's first ack, qb's ack and the three reads in one step; qa's second ack a turn later, alone.
    const firstTurn = Object.fromEntries([...calls].filter(([m]) => m !== 'ack'));
    expect(firstTurn).toEqual(expected);
    expect(calls.get('ack')).toBe(1);
    expect(readB.status === 'fulfilled' && readB.value.map((d) => d.id)).toEqual([ids[4]]);
    expect(readC.status === 'fulfilled' && readC.value.map((d) => d.id)).toEqual([ids[2]]);
    expect(readNope.status === 'rejected' && (readNope.reason as { code?: string }).code).toBe('NOT_FOUND');
    expect(await bus.pending('qa')).toEqual([]);
    expect((await bus.pending('qb')).map((p) => p.consumer)).toEqual(['p']);
    expect(io.readCalls).toBe(1);
  });

  it('ROUTER-IO-ACKREAD-2 one queue\'s ack and read in a turn keep their own calls (the one-queue path: its read takes no write lock when nothing is unread)', async () => {
    const held = await bus.read('qa', 'p', { count: 1 });
    const calls = new Map<string, number>();
    const io = new QueueIo(counted(bus, calls), 'p');
    const [, read] = await Promise.all([io.ack('qa', held[0]!.id), io.read('qa', 10)]);
    expect(Object.fromEntries(calls)).toEqual({ ack: 1, read: 1 });
    expect(read.map((d) => d.id)).toEqual([ids[3]]);
  });
});
