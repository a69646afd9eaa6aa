// Child process for STORE-GC-5: commits groups of 32 commits (3 writes each) started in one turn, so they
// share one group transaction, and prints "G <group>" once all 32 are acknowledged, until it is SIGKILLed.
// Group numbers continue from argv[3], so several children can write the same file one after another.
import { openSqliteStore } from '../../src/store/index.js';

const store = await openSqliteStore({ path: process.argv[2]! });
await store.tenants.create('acme');
const ctx = { tenantId: 'acme', actor: 'user:crash' };
for (let g = Number(process.argv[3]); ; g++) {
  await Promise.all(
    Array.from({ length: 32 }, (_, m) =>
      store.commit(ctx, { idempotencyKey: `g${g}-${m}`, writes: [0, 1, 2].map((k) => ({ entityId: `g${g}-${m}-${k}`, entityTypeId: 'Task', attributes: { g, m, k } })) }),
    ),
  );
  process.stdout.write(`G ${g}\n`);
}
