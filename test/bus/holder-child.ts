// A process that holds a lease and reads entries on an embedded bus file, then waits to be killed
// (test/bus/embedded.test.ts BUS-E-CRASH-1). argv[2] = JSON { file, group, lease }.
import { openEmbeddedBus } from '../../src/bus/index.js';

const { file, group, lease } = JSON.parse(process.argv[2]!) as { file: string; group: string; lease: string };
const bus = await openEmbeddedBus({ path: file });
if (!(await bus.lease(lease, 'child-owner', 600_000))) throw new Error('the child could not take the lease');
const got = await bus.read(group, 'child-consumer', { count: 10 });
process.stdout.write(`holding ${got.length}\n`);
setInterval(() => undefined, 60_000);
