import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/index.js';
import { OutboxRelay, openBus, openStore } from '../../src/app/index.js';
import type { BusConfig, StoreConfig } from '../../src/config/index.js';
import type { EventBus } from '../../src/bus/port.js';
import type { EntityStore } from '../../src/store/port.js';
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';

const HERE = import.meta.dirname;

/** Spawns a child script under tsx and collects its stdout lines. */
function spawnChild(script: string, args: string[]): { child: ChildProcess; lines: string[]; waitFor: (pred: (lines: string[]) => boolean) => Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (pred: (l: string[]) => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred(lines)) return resolve();
        if (child.exitCode !== null) return reject(new Error(`child ${script} exited ${child.exitCode}: ${stderr}`));
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

async function readAll(bus: EventBus, group: string, consumer: string): Promise<Array<{ id: string; eventId: string; entityId?: string | undefined; entityVersion?: number | undefined }>> {
  const out = [];
  for (;;) {
    const batch = await bus.read(group, consumer, { count: 500 });
    if (batch.length === 0) return out;
    await bus.ack(group, batch.map((d) => d.id));
    out.push(...batch.map((d) => ({ id: d.id, eventId: d.event.eventId, entityId: d.event.entityId, entityVersion: d.event.entityVersion })));
  }
}

async function allVersions(store: EntityStore): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  const ctx = { tenantId: 'acme', actor: 'test' };
  do {
    const page = await store.query(ctx, { entityTypeId: 'Task', limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const v of page.items) for (let n = 1; n <= v.version; n++) keys.push(`${v.entityId}@${n}`);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return keys;
}

const backends: Array<{ name: string; bus: (dir: string) => BusConfig; cleanup: (cfg: BusConfig) => Promise<void> }> = [
  { name: 'embedded', bus: (dir) => ({ kind: 'embedded', path: join(dir, 'uee.db') }), cleanup: () => Promise.resolve() },
  {
    name: 'redis',
    bus: () => ({ kind: 'redis', url: TEST_REDIS_URL, prefix: randomPrefix('crash') }),
    cleanup: async (cfg) => {
      if (cfg.kind !== 'redis') return;
      const redis = new Redis(cfg.url);
      const keys = await redis.keys(`${cfg.prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  },
];

describe.each(backends)('crash safety ($name bus)', ({ bus: busConfigFor, cleanup }) => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('CRASH-1: after SIGKILL mid-stream, every committed write is on the bus exactly once and reaches every group; a killed consumer’s pending entries are reclaimed', async () => {
    const dir = tempDir('uee-crash');
    disposers.push(() => dir[Symbol.dispose]());
    const storeConfig: StoreConfig = { kind: 'sqlite', path: join(dir.path, 'uee.db') };
    const busConfig = busConfigFor(dir.path);
    disposers.push(() => cleanup(busConfig));

    // Groups exist before any event, so each must see every event.
    const setupStore = await openStore(storeConfig, { maxAttributeBytes: 1 << 20, logger: silentLogger });
    await setupStore.tenants.create('acme');
    await setupStore.close();
    const setupBus = await openBus(busConfig, { logger: silentLogger });
    await setupBus.ensureGroup('g1', 'earliest');
    await setupBus.ensureGroup('g2', 'earliest');
    await setupBus.close();

    const consumer = spawnChild('child-consumer.ts', [JSON.stringify(busConfig)]);
    disposers.push(() => kill(consumer.child));
    const writer = spawnChild('child-writer.ts', [JSON.stringify(storeConfig), JSON.stringify(busConfig)]);
    disposers.push(() => kill(writer.child));
    await writer.waitFor((l) => l.filter((x) => x.startsWith('C ')).length >= 400);
    await consumer.waitFor((l) => l.some((x) => x.startsWith('U ')) && l.filter((x) => x.startsWith('A ')).length >= 40);
    await kill(writer.child);
    await kill(consumer.child);

    const committed = writer.lines.filter((x) => x.startsWith('C ')).map((x) => x.slice(2).replace(' ', '@'));
    const ackedByDeadConsumer = new Set(consumer.lines.filter((x) => x.startsWith('A ')).map((x) => x.slice(2)));

    // Restart: a fresh relay moves whatever the dead writer left in the outbox.
    const store = await openStore(storeConfig, { maxAttributeBytes: 1 << 20, logger: silentLogger });
    disposers.push(() => store.close());
    const bus = await openBus(busConfig, { logger: silentLogger });
    disposers.push(() => bus.close());
    const relay = new OutboxRelay(store.outbox, bus, { logger: silentLogger });
    await relay.flush();
    await relay.stop();
    expect(await store.outbox.size()).toBe(0);

    // Exactly once: every version in the store has exactly one event on the bus, and nothing else is there.
    const inStore = await allVersions(store);
    const onBus = await readAll(bus, 'g2', 'auditor');
    const busKeys = onBus.map((e) => `${e.entityId}@${e.entityVersion}`);
    expect(new Set(onBus.map((e) => e.eventId)).size).toBe(onBus.length);
    expect(busKeys.slice().sort()).toEqual(inStore.slice().sort());
    for (const key of committed) expect(busKeys).toContain(key);

    // At least once for g1: what the dead consumer acked + what another consumer reclaims + what is new.
    const pendingBefore = await bus.pending('g1', { count: 10_000 });
    expect(pendingBefore.length).toBeGreaterThan(0);
    expect(pendingBefore.every((p) => p.consumer === 'c1')).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    const reclaimed = await bus.claimStale('g1', 'c2', { minIdleMs: 50, count: 10_000 });
    expect(reclaimed.map((d) => d.id).sort()).toEqual(pendingBefore.map((p) => p.id).sort());
    expect(reclaimed.every((d) => d.deliveryCount >= 2)).toBe(true);
    await bus.ack('g1', reclaimed.map((d) => d.id));
    const rest = await readAll(bus, 'g1', 'c2');
    const seenByG1 = new Set([...ackedByDeadConsumer, ...reclaimed.map((d) => d.id), ...rest.map((d) => d.id)]);
    for (const e of onBus) expect(seenByG1.has(e.id)).toBe(true);
    expect((await bus.groupInfo('g1')).pending).toBe(0);
  }, 90_000);

  it('CRASH-2: a relay that dies after publishing but before marking publishes nothing twice on restart', async () => {
    const dir = tempDir('uee-relay');
    disposers.push(() => dir[Symbol.dispose]());
    const busConfig = busConfigFor(dir.path);
    disposers.push(() => cleanup(busConfig));
    const store = await openStore({ kind: 'sqlite', path: join(dir.path, 'uee.db') }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
    disposers.push(() => store.close());
    const bus = await openBus(busConfig, { logger: silentLogger });
    disposers.push(() => bus.close());
    await store.tenants.create('acme');
    await bus.ensureGroup('audit', 'earliest');
    const ctx = { tenantId: 'acme', actor: 'test' };
    for (let i = 0; i < 10; i++) await store.put(ctx, { entityTypeId: 'Task', attributes: { i } });

    // Simulate the crash window: publish what is in the outbox, "die" before markPublished.
    const entries = await store.outbox.peek(100);
    await bus.publish(entries.map((e) => e.event));
    expect(await store.outbox.size()).toBe(10);

    const relay = new OutboxRelay(store.outbox, bus, { logger: silentLogger });
    await relay.flush();
    await relay.stop();
    const seen = await readAll(bus, 'audit', 'a');
    expect(seen).toHaveLength(10);
    expect(new Set(seen.map((e) => e.eventId)).size).toBe(10);
  });
});
