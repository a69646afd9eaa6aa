// Child process for the crash-safety test: consumes group "g1" as consumer "c1", printing "A <id>"
// for each entry it acks, before the ack (a SIGKILL between an ack and a line printed after it would
// hide an entry the group did receive; one printed and then not acked stays pending and is reclaimed);
// every third batch it leaves unacked (as if it crashed while handling) until SIGKILLed.
import { silentLogger } from '../../src/core/index.js';
import { openBus } from '../../src/app/index.js';
import type { BusConfig } from '../../src/config/index.js';

const [busJson] = process.argv.slice(2);
const bus = await openBus(JSON.parse(busJson!) as BusConfig, { logger: silentLogger });
await bus.ensureGroup('g1', 'earliest');
process.stdout.write('READY\n');
for (let round = 0; ; round++) {
  const batch = await bus.read('g1', 'c1', { count: 20, blockMs: 50 });
  if (batch.length === 0) continue;
  if (round % 3 === 2) {
    process.stdout.write(batch.map((d) => `U ${d.id}\n`).join(''));
    continue;
  }
  process.stdout.write(batch.map((d) => `A ${d.id}\n`).join(''));
  await bus.ack('g1', batch.map((d) => d.id));
}
