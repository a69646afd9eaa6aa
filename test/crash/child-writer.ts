// Child process for the crash-safety test: writes entities as fast as it can through the store and the
// outbox relay, printing "C <entityId> <version>" after each commit returns, until it is SIGKILLed.
import { silentLogger } from '../../src/core/index.js';
import { OutboxRelay, openBus, openStore } from '../../src/app/index.js';
import type { BusConfig, StoreConfig } from '../../src/config/index.js';

const [storeJson, busJson] = process.argv.slice(2);
const store = await openStore(JSON.parse(storeJson!) as StoreConfig, { maxAttributeBytes: 1 << 20, logger: silentLogger });
const bus = await openBus(JSON.parse(busJson!) as BusConfig, { logger: silentLogger });
const relay = new OutboxRelay(store.outbox, bus, { logger: silentLogger, idleMs: 1, batchSize: 50 });
const ctx = { tenantId: 'acme', actor: 'user:crash' };
process.stdout.write('READY\n');
for (let i = 0; ; i++) {
  if (i % 5 === 0) {
    const r = await store.commit(ctx, {
      idempotencyKey: `batch-${i}`,
      writes: [0, 1, 2].map((k) => ({ entityTypeId: 'Task', attributes: { i, k, title: `task ${i}.${k}` } })),
    });
    process.stdout.write(r.versions.map((v) => `C ${v.entityId} ${v.version}\n`).join(''));
  } else {
    const v = await store.put(ctx, { entityTypeId: 'Task', attributes: { i, title: `task ${i}` } });
    process.stdout.write(`C ${v.entityId} ${v.version}\n`);
  }
  relay.kick();
  // The embedded store answers synchronously; yield so the relay's network I/O (Redis) gets its turn.
  await new Promise((resolve) => setImmediate(resolve));
}
