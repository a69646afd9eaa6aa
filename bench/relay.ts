// Relays of several processes sharing one store: how many publishes each committed event costs, with
// the relay's lease (one relay at a time per store) against the baseline of every relay relaying (as
// before the lease), in one run. Each "process" is a store object, a bus instance and an OutboxRelay
// of its own in this process (as `uee start` / `uee worker` processes would have), committing its
// share of N events in commits of 100 while the others do; the bus drops the copies, so what a copy
// costs is the publish work done for nothing (on Redis the publish script's per-event work).
// Backends: a PostgreSQL store with a Redis bus (what several processes share in production), and
// one SQLite file with the embedded bus.
// Run: npm run bench -- relay   [BENCH_RELAY_N=12000] [UEE_BENCH_REDIS_URL] [UEE_BENCH_POSTGRES_URL]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { OutboxRelay, openBus, openStore } from '../src/app/index.js';
import type { EventBus } from '../src/bus/index.js';
import { silentLogger } from '../src/core/index.js';
import type { EntityStore } from '../src/store/port.js';
import { alternating, printResult, printTable } from './_table.js';

const N = Number(process.env.BENCH_RELAY_N ?? 12_000);
const ROUNDS = 3;
const REDIS_URL = process.env.UEE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.UEE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'uee-bench-relay-'));

interface Run {
  publishedPerEvent: number;
  eventsPerSec: number;
}

async function run(backend: 'postgres' | 'embedded', processes: number, leased: boolean): Promise<Run> {
  const tag = randomBytes(4).toString('hex');
  const path = join(dir, `${tag}.db`);
  const schema = `bench_relay_${tag}`;
  const prefix = `uee-bench:relay:${tag}:`;
  const parts: Array<{ store: EntityStore; bus: EventBus; relay: OutboxRelay }> = [];
  try {
    for (let p = 0; p < processes; p++) {
      const store = await openStore(
        backend === 'postgres' ? { kind: 'postgres', url: POSTGRES_URL, schema } : { kind: 'sqlite', path },
        { maxAttributeBytes: 1 << 20, logger: silentLogger },
      );
      if (p === 0) await store.tenants.create('acme');
      const bus = await openBus(backend === 'postgres' ? { kind: 'redis', url: REDIS_URL, prefix } : { kind: 'embedded', path: `${path}.bus` }, { logger: silentLogger });
      const relay = new OutboxRelay(store.outbox, bus, { logger: silentLogger, ...(leased ? { lease: { name: 'relay:bench', owner: `p${p}` } } : {}) });
      parts.push({ store, bus, relay });
    }
    const start = performance.now();
    const share = Math.ceil(N / processes / 100);
    await Promise.all(
      parts.map(async ({ store }, p) => {
        for (let c = 0; c < share; c++) {
          await store.commit({ tenantId: 'acme', actor: 'bench' }, { events: Array.from({ length: 100 }, (_, i) => ({ type: 'Tick', entityId: `p${p}-${c}-${i}` })) });
        }
      }),
    );
    const committed = share * 100 * processes;
    while ((await parts[0]!.bus.length()) < committed) await new Promise((r) => setTimeout(r, 2));
    const eventsPerSec = committed / ((performance.now() - start) / 1000);
    for (const { relay } of parts) await relay.stop();
    if ((await parts[0]!.bus.length()) !== committed) throw new Error('events doubled on the bus');
    const published = parts.reduce((sum, { relay }) => sum + relay.published, 0);
    return { publishedPerEvent: published / committed, eventsPerSec };
  } finally {
    for (const { relay, bus, store } of parts) {
      await relay.stop().catch(() => undefined);
      await bus.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    }
    if (backend === 'postgres') {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }
}

const rows: Array<Array<string | number>> = [];
const figures: Record<string, number> = { n: N };
try {
  for (const backend of ['postgres', 'embedded'] as const) {
    const label = backend === 'postgres' ? 'postgres + redis' : 'sqlite + embedded';
    for (const processes of [1, 2, 3]) {
      const { baseline: off, change: on } = await alternating(ROUNDS, () => run(backend, processes, false), () => run(backend, processes, true));
      rows.push([`${label}, ${processes} process${processes > 1 ? 'es' : ''}, every relay relays (baseline)`, off('publishedPerEvent'), off('eventsPerSec')]);
      rows.push([`${label}, ${processes} process${processes > 1 ? 'es' : ''}, one relay at a time (lease)`, on('publishedPerEvent'), on('eventsPerSec')]);
      const key = `${backend === 'postgres' ? 'postgres' : 'embedded'}${processes}`;
      figures[`${key}BaselinePublishedPerEvent`] = Math.round(off('publishedPerEvent') * 100) / 100;
      figures[`${key}LeasedPublishedPerEvent`] = Math.round(on('publishedPerEvent') * 100) / 100;
      figures[`${key}BaselineEventsPerSec`] = Math.round(off('eventsPerSec'));
      figures[`${key}LeasedEventsPerSec`] = Math.round(on('eventsPerSec'));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
printTable(['relays sharing one store', 'publishes per event', 'commit → bus events/s'], rows);
printResult('relay', figures);
