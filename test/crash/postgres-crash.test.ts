import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { OutboxRelay, openBus, openStore } from '../../src/app/index.js';
import type { BusConfig, StoreConfig } from '../../src/config/index.js';
import type { EventBus } from '../../src/bus/port.js';
import type { EntityStore } from '../../src/store/port.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { TEST_POSTGRES_URL, dropSchemas, randomSchema } from '../store/postgres-helpers.js';

// The crash-safety guarantees on the distributed pair: PostgreSQL store + Redis bus, with two writer
// processes (each with its own outbox relay) sharing one schema and one prefix, both SIGKILLed.

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

function spawnWriter(storeConfig: StoreConfig, busConfig: BusConfig): { child: ChildProcess; lines: string[]; waitFor: (n: number) => Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'child-writer.ts'), JSON.stringify(storeConfig), JSON.stringify(busConfig)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (lines.filter((l) => l.startsWith('C ')).length >= n) return resolve();
        if (child.exitCode !== null) return reject(new Error(`writer exited ${child.exitCode}: ${stderr}`));
        waiters.push(check);
      };
      child.once('exit', () => check());
      check();
    });
  return { child, lines, waitFor };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function readAll(bus: EventBus, group: string): Promise<Array<{ eventId: string; key: string }>> {
  const out = [];
  for (;;) {
    const batch = await bus.read(group, 'auditor', { count: 500 });
    if (batch.length === 0) return out;
    await bus.ack(group, batch.map((d) => d.id));
    out.push(...batch.map((d) => ({ eventId: d.event.eventId, key: `${d.event.entityId}@${d.event.entityVersion}` })));
  }
}

async function allVersions(store: EntityStore): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query({ tenantId: 'acme', actor: 'test' }, { entityTypeId: 'Task', limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const v of page.items) for (let n = 1; n <= v.version; n++) keys.push(`${v.entityId}@${n}`);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return keys;
}

describe('crash safety (PostgreSQL store, Redis bus, two writer processes)', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('CRASH-PG1: after SIGKILL of two writers sharing the store, every committed write is on the bus exactly once', async () => {
    const schema = randomSchema('crash');
    schemas.push(schema);
    const storeConfig: StoreConfig = { kind: 'postgres', url: TEST_POSTGRES_URL, schema };
    const busConfig: BusConfig = { kind: 'redis', url: TEST_REDIS_URL, prefix: randomPrefix('pgcrash') };
    disposers.push(async () => {
      const redis = new Redis(TEST_REDIS_URL);
      const keys = await redis.keys(`${busConfig.prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });
    const setupStore = await openStore(storeConfig, { maxAttributeBytes: 1 << 20, logger: silentLogger });
    await setupStore.tenants.create('acme');
    await setupStore.close();
    const setupBus = await openBus(busConfig, { logger: silentLogger });
    await setupBus.ensureGroup('audit', 'earliest');
    await setupBus.close();

    const writers = [spawnWriter(storeConfig, busConfig), spawnWriter(storeConfig, busConfig)];
    for (const w of writers) disposers.push(() => kill(w.child));
    await Promise.all(writers.map((w) => w.waitFor(200)));
    await Promise.all(writers.map((w) => kill(w.child)));
    const committed = writers.flatMap((w) => w.lines.filter((x) => x.startsWith('C ')).map((x) => x.slice(2).replace(' ', '@')));

    const store = await openStore(storeConfig, { maxAttributeBytes: 1 << 20, logger: silentLogger });
    disposers.push(() => store.close());
    const bus = await openBus(busConfig, { logger: silentLogger });
    disposers.push(() => bus.close());
    const relay = new OutboxRelay(store.outbox, bus, { logger: silentLogger });
    await relay.flush();
    await relay.stop();
    expect(await store.outbox.size()).toBe(0);

    const inStore = await allVersions(store);
    const onBus = await readAll(bus, 'audit');
    expect(new Set(onBus.map((e) => e.eventId)).size).toBe(onBus.length);
    expect(onBus.map((e) => e.key).sort()).toEqual(inStore.slice().sort());
    const onBusKeys = new Set(onBus.map((e) => e.key));
    for (const key of committed) expect(onBusKeys.has(key), key).toBe(true);
  }, 90_000);
});
