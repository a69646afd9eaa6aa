// The bus's publish de-duplication state, with and without the relay settling what it has marked
// (EventBus.settle), on the embedded bus and on Redis, in one run.
//
// A real SQLite store's outbox holds N committed events; an OutboxRelay moves them to the bus
// (peek → publish → mark → settle). Baseline: the same relay with `settle` a no-op — the state as it
// was before settling existed, every id kept for the whole window (24 h). Figures per backend: relay
// events/s each way (medians of alternating rounds), the ids still remembered once the settled
// horizon has passed, and the bytes per id (Redis: MEMORY USAGE of sampled keys; embedded: the
// table's and its indexes' pages, dbstat), hence the state at a sustained 1,000 events/s.
// Run: npm run bench -- dedupe   [BENCH_DEDUPE_N=20000] [UEE_BENCH_REDIS_URL=redis://127.0.0.1:6379]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { OutboxRelay, openBus, openStore } from '../src/app/index.js';
import type { EventBus } from '../src/bus/index.js';
import { silentLogger } from '../src/core/index.js';
import { alternating, printResult, printTable } from './_table.js';

const N = Number(process.env.BENCH_DEDUPE_N ?? 20_000);
const ROUNDS = 3;
/** Short, so the bench need not wait a minute to see settled ids go; the default is 60 s. */
const SETTLED_MS = 1_000;
const WINDOW_MS = 24 * 3_600_000;
const RATE = 1_000;
const REDIS_URL = process.env.UEE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'uee-bench-dedupe-'));
const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Round {
  eventsPerSec: number;
  remembered: number;
  bytesPerId: number;
}

async function redisKeys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}dedupe:*`, 'COUNT', 5000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function round(backend: 'embedded' | 'redis', settle: boolean, n: number): Promise<Round> {
  const path = join(dir, `${backend}-${settle ? 'on' : 'off'}-${randomBytes(3).toString('hex')}.db`);
  const prefix = `uee-bench:${randomBytes(4).toString('hex')}:`;
  const store = await openStore({ kind: 'sqlite', path }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
  await store.tenants.create('acme');
  const busPath = `${path}.bus`;
  const bus = await openBus(backend === 'embedded' ? { kind: 'embedded', path: busPath } : { kind: 'redis', url: REDIS_URL, prefix }, {
    logger: silentLogger,
    busOptions: { dedupeWindowMs: WINDOW_MS, settledDedupeMs: SETTLED_MS },
  });
  try {
    const ctx = { tenantId: 'acme', actor: 'bench' };
    for (let i = 0; i < n; i += 100) {
      await store.commit(ctx, { events: Array.from({ length: 100 }, (_, k) => ({ type: 'Tick', entityId: `e${(i + k) % 997}`, payload: { i: i + k } })) });
    }
    // The relay uses publish and settle only; the baseline's settle does nothing.
    const relayBus = settle ? bus : ({ publish: bus.publish.bind(bus), settle: () => Promise.resolve() } as unknown as EventBus);
    const start = performance.now();
    const relay = new OutboxRelay(store.outbox, relayBus, { idleMs: 5, logger: silentLogger });
    await relay.flush();
    const eventsPerSec = n / ((performance.now() - start) / 1000);
    await relay.stop();
    if ((await bus.length()) !== n) throw new Error(`expected ${n} events on the bus, found ${await bus.length()}`);
    await sleep(SETTLED_MS + 200);
    if (backend === 'redis') {
      const keys = await redisKeys(prefix);
      const sample = keys.slice(0, 200);
      const sizes = await Promise.all(sample.map((k) => admin.memory('USAGE', k)));
      const bytesPerId = sample.length === 0 ? NaN : sizes.reduce((a: number, b) => a + Number(b ?? 0), 0) / sample.length;
      await admin.del(...(await admin.keys(`${prefix}*`)));
      return { eventsPerSec, remembered: keys.length, bytesPerId };
    }
    // Past the horizon: the embedded bus forgets lapsed settles at each publish (8 at most per call) and
    // purges ids past the window every 5,000 appends; publish that many in 50 calls (not timed).
    let fillers = 0;
    for (let c = 0; c < 50; c++) {
      const ids = await bus.publish(Array.from({ length: 100 }, (_, i) => ({
        eventId: `filler-${c}-${i}`, type: 'Tick', tenantId: 'acme', entityId: 'f', payload: {},
        occurredAt: new Date().toISOString(), correlationId: `filler-${c}-${i}`, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' },
      })));
      fillers += ids.ids.filter((id) => id !== null).length;
    }
    await bus.close();
    const raw = new Database(busPath, { readonly: true });
    const rows = (raw.prepare('SELECT count(*) AS n FROM bus_dedupe').get() as { n: number }).n - fillers;
    const pages = raw.prepare("SELECT sum(pgsize) AS b FROM dbstat WHERE name IN ('bus_dedupe', 'bus_dedupe_at') OR name LIKE 'sqlite_autoindex_bus_dedupe%'").get() as { b: number };
    const total = (raw.prepare('SELECT count(*) AS n FROM bus_dedupe').get() as { n: number }).n;
    raw.close();
    return { eventsPerSec, remembered: rows, bytesPerId: pages.b / Math.max(1, total) };
  } finally {
    await bus.close().catch(() => undefined);
    await store.close();
  }
}

const figures: Record<string, number> = { n: N, settledDedupeMs: SETTLED_MS };
const rows: Array<Array<string | number>> = [];
try {
  for (const backend of ['embedded', 'redis'] as const) {
    await round(backend, true, 2_000); // warm-up
    const { baseline: off, change: on } = await alternating(ROUNDS, () => round(backend, false, N), () => round(backend, true, N));
    const bytes = off('bytesPerId');
    const label = backend === 'embedded' ? 'embedded' : 'redis';
    rows.push([`${label}: relay, ids kept the whole window (baseline)`, off('eventsPerSec'), String(off('remembered')), bytes, (RATE * WINDOW_MS / 1000 * bytes) / 1e6]);
    rows.push([`${label}: relay settling each marked batch`, on('eventsPerSec'), String(on('remembered')), bytes, (RATE * 60 * bytes) / 1e6]);
    figures[`${label}BaselineEventsPerSec`] = Math.round(off('eventsPerSec'));
    figures[`${label}SettledEventsPerSec`] = Math.round(on('eventsPerSec'));
    figures[`${label}BaselineRemembered`] = off('remembered');
    figures[`${label}SettledRemembered`] = on('remembered');
    figures[`${label}BytesPerId`] = Math.round(bytes);
    figures[`${label}BaselineMBAt1000PerSec`] = Math.round((RATE * WINDOW_MS / 1000 * bytes) / 1e6);
    figures[`${label}SettledMBAt1000PerSec`] = Math.round((RATE * 60 * bytes) / 1e6 * 10) / 10;
  }
} finally {
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
}
printTable(['relay → bus', 'events/s', `ids remembered ${SETTLED_MS} ms after`, 'bytes per id', 'MB held at 1,000 events/s (24 h window / 60 s settled)'], rows);
printResult('dedupe', figures);
