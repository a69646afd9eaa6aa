// Embedded bus queue reads: `npm run bench -- queues`. 1,000 queues with 2 entries each (the shape
// 1,000 tenants × 1 plugin gives bench/routing), read for one consumer in one `readQueues` call (one
// transaction for the round) beside the same queues read one `read` at a time (a transaction each),
// in the same run; µs per queue read, then one JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBus } from '../src/bus/index.js';
import type { EventBus } from '../src/bus/index.js';
import { newId, type EventEnvelope } from '../src/core/index.js';
import { median, printResult, printTable } from './_table.js';

const QUEUES = 1000;
const PER_QUEUE = 2;
const ROUNDS = 25;
const WARMUP = 5;

const tick = (): EventEnvelope => {
  const eventId = newId();
  return { eventId, type: 'Tick', tenantId: 'acme', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' } };
};

/** Publishes a round of entries and routes PER_QUEUE of them into each queue. */
async function fill(bus: EventBus): Promise<void> {
  const n = QUEUES * PER_QUEUE;
  await bus.publish(Array.from({ length: n }, tick));
  for (let got = 0; got < n; ) {
    const ds = await bus.read('src', 'router', { count: 500 });
    await bus.route('src', ds.map((d, i) => ({ id: d.id, groups: [`q${(got + i) % QUEUES}`] })));
    await bus.ack('src', ds.map((d) => d.id));
    got += ds.length;
  }
}

/** µs per queue read of one round, reading with `readQueues` (together) or `read` (one by one); every entry is acked after. */
async function round(bus: EventBus, together: boolean): Promise<number> {
  await fill(bus);
  const reads = Array.from({ length: QUEUES }, (_, q) => ({ group: `q${q}`, count: 64 }));
  const start = process.hrtime.bigint();
  const read: string[][] = [];
  if (together) {
    for (const o of await bus.readQueues!('c', reads)) read.push(o.ok ? o.value.map((d) => d.id) : []);
  } else {
    for (const r of reads) read.push((await bus.read(r.group, 'c', { count: r.count })).map((d) => d.id));
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / QUEUES;
  if (read.flat().length !== QUEUES * PER_QUEUE) throw new Error(`read ${read.flat().length} entries, routed ${QUEUES * PER_QUEUE}`);
  await bus.ackQueues!(read.map((ids, q) => ({ group: `q${q}`, ids })));
  return us;
}

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-queues-'));
try {
  const bus = await openEmbeddedBus({ path: join(dir, 'bus.db') });
  await bus.ensureGroup('src', 'earliest');
  for (let q = 0; q < QUEUES; q++) await bus.ensureQueue(`q${q}`);
  const together: number[] = [];
  const oneByOne: number[] = [];
  // Alternating, so a busy neighbour skews both alike.
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    const a = await round(bus, true);
    const b = await round(bus, false);
    if (r >= WARMUP) {
      together.push(a);
      oneByOne.push(b);
    }
  }
  await bus.close();
  const t = median(together);
  const o = median(oneByOne);
  printTable(
    ['read', `µs per queue read (${QUEUES} queues, ${PER_QUEUE} entries each)`],
    [
      ['readQueues: one transaction for the round', t.toFixed(2)],
      ['read: one transaction per queue (baseline)', o.toFixed(2)],
    ],
  );
  printResult('queues', { queues: QUEUES, entriesPerQueue: PER_QUEUE, readQueuesUsPerQueue: Number(t.toFixed(2)), readUsPerQueue: Number(o.toFixed(2)), ratio: Number((o / t).toFixed(2)) });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
