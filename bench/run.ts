// `npm run bench` runs every bench program in turn; `npm run bench -- NAME [NAME…]` runs the named ones.
// Each program runs in its own process so one bench's heap and threads never skew another's figures,
// with the V8 flags a server runs with (SERVER_NODE_FLAGS): the benches build the server's parts in process.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.js';

const here = import.meta.dirname;
const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : all;
let failed = 0;
for (const name of names) {
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) {
    process.stderr.write(`unknown bench "${name}"; available: ${all.join(', ')}\n`);
    process.exitCode = 2;
    continue;
  }
  process.stdout.write(`\n=== bench ${name} ===\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', ...SERVER_NODE_FLAGS, '--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed > 0) process.exitCode = 1;
