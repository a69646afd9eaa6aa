// Child process for the PostgreSQL concurrency test: increments a shared counter entity `rounds`
// times with read-modify-write guarded by expectedVersion (retrying on VERSION_CONFLICT), and does
// `rounds` unconditional writes of another entity; prints "DONE <conflicts>" at the end.
import { isUeeError } from '../../src/core/index.js';
import { openPostgresStore } from '../../src/store/index.js';

const [url, schema, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const store = await openPostgresStore({ url: url!, schema: schema!, poolSize: 2 });
const ctx = { tenantId: 'acme', actor: `user:${process.pid}` };
let conflicts = 0;
process.stdout.write('READY\n');
for (let i = 0; i < rounds; i++) {
  for (;;) {
    const current = await store.get(ctx, 'counter');
    try {
      await store.put(ctx, { entityId: 'counter', entityTypeId: 'Counter', attributes: { n: (current.attributes.n as number) + 1 }, expectedVersion: current.version });
      break;
    } catch (err) {
      if (!isUeeError(err, 'VERSION_CONFLICT')) throw err;
      conflicts++;
    }
  }
  await store.put(ctx, { entityId: 'log', entityTypeId: 'Log', attributes: { pid: process.pid, i } });
}
await store.close();
process.stdout.write(`DONE ${conflicts}\n`);
