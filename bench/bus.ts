// Bus throughput: publish (batches of 100) + consume (read 100, ack 100) end to end, for the embedded
// and Redis adapters, each beside a raw baseline measured in the same run:
//   raw redis  — ioredis pipelines of XADD, XREADGROUP COUNT 100, XACK over the same events;
//   raw sqlite — better-sqlite3 prepared inserts (one transaction per batch) and range selects.
// Both baselines JSON-encode and -decode the events, since any consumer must.
// Run: node --import tsx bench/bus.ts   [BENCH_BUS_N=20000] [UEE_BENCH_REDIS_URL=redis://127.0.0.1:6379]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { openEmbeddedBus, openRedisBus, type EventBus } from '../src/bus/index.js';
import { EventEnvelopeSchema, newId, type EventEnvelope } from '../src/core/index.js';
import { median, printResult, printTable } from './_table.js';

const N = Number(process.env.BENCH_BUS_N ?? 20_000);
const BATCH = 100;
const ROUNDS = 3;
const REDIS_URL = process.env.UEE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = randomBytes(4).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'uee-bench-bus-'));
const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
let roundNo = 0;

interface Timing {
  publishMs: number;
  consumeMs: number;
}

function makeEvents(n: number): EventEnvelope[] {
  return Array.from({ length: n }, (_, i) => {
    const eventId = newId();
    return {
      eventId,
      type: 'TaskUpdated',
      tenantId: 'acme',
      entityId: `task-${i}`,
      entityTypeId: 'Task',
      entityVersion: 2,
      payload: { title: `task number ${i}`, status: 'open', priority: i % 5, tags: ['bench', 'bus'] },
      occurredAt: new Date().toISOString(),
      correlationId: eventId,
      causationId: null,
      hop: 0,
      source: { kind: 'api', id: 'user:bench' },
    };
  });
}

async function rawRedis(events: EventEnvelope[]): Promise<Timing> {
  const key = `uee-bench:${runId}:raw:${roundNo}:events`;
  await admin.xgroup('CREATE', key, 'g', '0', 'MKSTREAM');
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    const pipe = admin.pipeline();
    for (const e of events.slice(i, i + BATCH)) pipe.xadd(key, 'MAXLEN', '~', 1_000_000, '*', 'e', JSON.stringify(e));
    await pipe.exec();
  }
  const t1 = performance.now();
  let seen = 0;
  while (seen < events.length) {
    const reply = (await admin.xreadgroup('GROUP', 'g', 'c', 'COUNT', BATCH, 'STREAMS', key, '>')) as Array<[string, Array<[string, string[]]>]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    const ids = entries.map(([id, fields]) => {
      JSON.parse(fields[1]!);
      return id;
    });
    if (ids.length > 0) await admin.xack(key, 'g', ...ids);
    seen += ids.length;
  }
  return { publishMs: t1 - t0, consumeMs: performance.now() - t1 };
}

function rawSqlite(events: EventEnvelope[]): Timing {
  const db = new Database(join(dir, `raw-${roundNo}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, ms INTEGER NOT NULL, data TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO log (ms, data) VALUES (?, ?)');
  const select = db.prepare<[number, number], { n: number; data: string }>('SELECT n, data FROM log WHERE n > ? ORDER BY n LIMIT ?');
  const insertBatch = db.transaction((batch: EventEnvelope[]) => {
    const ms = Date.now();
    for (const e of batch) insert.run(ms, JSON.stringify(e));
  });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) insertBatch(events.slice(i, i + BATCH));
  const t1 = performance.now();
  let last = 0;
  let seen = 0;
  while (seen < events.length) {
    const rows = select.all(last, BATCH);
    for (const row of rows) JSON.parse(row.data);
    last = rows.at(-1)?.n ?? last;
    seen += rows.length;
  }
  const consumeMs = performance.now() - t1;
  db.close();
  return { publishMs: t1 - t0, consumeMs };
}

async function viaPort(bus: EventBus, events: EventEnvelope[]): Promise<Timing> {
  await bus.ensureGroup('g', 'earliest');
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) await bus.publish(events.slice(i, i + BATCH));
  const t1 = performance.now();
  let seen = 0;
  while (seen < events.length) {
    const got = await bus.read('g', 'c', { count: BATCH });
    if (got.length > 0) await bus.ack('g', got.map((d) => d.id));
    seen += got.length;
  }
  const consumeMs = performance.now() - t1;
  await bus.close();
  return { publishMs: t1 - t0, consumeMs };
}

/** The schema check the port applies to every entry it reads back (the raw baselines skip it). */
function validationOnly(events: EventEnvelope[]): Timing {
  const encoded = events.map((e) => JSON.stringify(e));
  const t0 = performance.now();
  for (const raw of encoded) if (!EventEnvelopeSchema.safeParse(JSON.parse(raw)).success) throw new Error('bench event invalid');
  const t1 = performance.now();
  for (const raw of encoded) JSON.parse(raw);
  return { publishMs: 0, consumeMs: t1 - t0 - (performance.now() - t1) };
}

const cases: Record<string, (events: EventEnvelope[]) => Promise<Timing>> = {
  'redis raw': rawRedis,
  'redis port': async (events) => viaPort(await openRedisBus({ url: REDIS_URL, prefix: `uee-bench:${runId}:port:${roundNo}:` }), events),
  'sqlite raw': (events) => Promise.resolve(rawSqlite(events)),
  'embedded port': async (events) => viaPort(await openEmbeddedBus({ path: join(dir, `port-${roundNo}.db`) }), events),
  validation: (events) => Promise.resolve(validationOnly(events)),
};

async function cleanupRedis(): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `uee-bench:${runId}:*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function main(): Promise<void> {
  await admin.connect();
  const results = new Map<string, Timing[]>();
  // One warm-up round (JIT, statement caches, script load), then ROUNDS measured ones interleaved.
  for (let round = -1; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(cases)) {
      roundNo++;
      const timing = await run(makeEvents(round < 0 ? 2_000 : N));
      if (round >= 0) results.set(name, [...(results.get(name) ?? []), timing]);
    }
    await cleanupRedis();
  }
  const rate = (ms: number): number => (N / ms) * 1000;
  const figures = new Map<string, { publish: number; consume: number; total: number }>();
  for (const [name, timings] of results) {
    figures.set(name, {
      publish: rate(median(timings.map((t) => t.publishMs))),
      consume: rate(median(timings.map((t) => t.consumeMs))),
      total: rate(median(timings.map((t) => t.publishMs + t.consumeMs))),
    });
  }
  const f = (name: string): { publish: number; consume: number; total: number } => figures.get(name)!;
  // Overhead: extra time the port needs for the same work, relative to raw; and the same with the
  // read-side schema validation (which the raw baselines do not do) taken out.
  const overhead = (port: number, raw: number): number => (raw / port - 1) * 100;
  const validationUs = median(results.get('validation')!.map((t) => t.consumeMs)) * (1000 / N);
  const withoutValidation = (port: number, raw: number): number => ((1e6 / port - validationUs) / (1e6 / raw) - 1) * 100;
  const rows: Array<Array<string | number>> = [];
  for (const [backend, raw, port] of [
    ['redis', 'redis raw', 'redis port'],
    ['embedded', 'sqlite raw', 'embedded port'],
  ] as const) {
    rows.push([backend, 'raw', f(raw).publish, f(raw).consume, f(raw).total, '', '']);
    rows.push([
      backend,
      'port',
      f(port).publish,
      f(port).consume,
      f(port).total,
      `${overhead(f(port).total, f(raw).total).toFixed(0)}%`,
      `${withoutValidation(f(port).total, f(raw).total).toFixed(0)}%`,
    ]);
  }
  process.stdout.write(`bus: ${N} events, batches of ${BATCH}, median of ${ROUNDS} rounds (events/s)\n`);
  printTable(['backend', 'path', 'publish', 'read+ack', 'end-to-end', 'port overhead', 'excl. validation'], rows);
  process.stdout.write(`read-side validation (EventEnvelopeSchema, beyond JSON.parse): ${validationUs.toFixed(2)} µs/event\n`);
  const r = (x: number): number => Math.round(x);
  printResult('bus', {
    events: N,
    batch: BATCH,
    redisRawEventsPerSec: r(f('redis raw').total),
    redisPortEventsPerSec: r(f('redis port').total),
    redisOverheadPct: Math.round(overhead(f('redis port').total, f('redis raw').total)),
    redisPortPublishPerSec: r(f('redis port').publish),
    redisPortConsumePerSec: r(f('redis port').consume),
    sqliteRawEventsPerSec: r(f('sqlite raw').total),
    embeddedPortEventsPerSec: r(f('embedded port').total),
    embeddedOverheadPct: Math.round(overhead(f('embedded port').total, f('sqlite raw').total)),
    embeddedPortPublishPerSec: r(f('embedded port').publish),
    embeddedPortConsumePerSec: r(f('embedded port').consume),
    redisOverheadExclValidationPct: Math.round(withoutValidation(f('redis port').total, f('redis raw').total)),
    embeddedOverheadExclValidationPct: Math.round(withoutValidation(f('embedded port').total, f('sqlite raw').total)),
    validationUsPerEvent: Number(validationUs.toFixed(2)),
  });
}

try {
  await main();
} finally {
  await cleanupRedis().catch(() => undefined);
  await admin.quit().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
