/**
 * Where the JS engine spends its time, per `bench/js` workload:
 * `node --import tsx scripts/js-profile.ts [sort|json|regex|string|arith…] [--calls N] [--engine PATH]`.
 * Compiles the bench workloads into a plugin, warms each workload up (so V8 has tiered the engine's
 * hot functions up to TurboFan), then samples N calls with V8's CPU profiler and prints the C
 * functions with the most self time. A finished plugin has no `name` section (the post-processing
 * renumbers functions), so the profile's `$funcN` indices are mapped back to the engine's own names.
 */
import createPlugin from '@extism/extism';
import { readFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { compileJs, ensureEngine } from '../src/compiler/index.js';
import { parseWasm } from '../src/core/wasm/index.js';
import { KINDS, WORKLOADS, workloadInput } from '../bench/_js-workloads.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  }

function readU32(bytes: Uint8Array, at: { pos: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at.pos++] ?? 0;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result >>> 0;
    shift += 7;
  }
}

/** Function names from a module's `name` section (subsection 1), by function index. */
function functionNames(bytes: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  const at = { pos: 8 };
  const text = new TextDecoder();
  while (at.pos < bytes.length) {
    const id = bytes[at.pos++];
    const size = readU32(bytes, at);
    const end = at.pos + size;
    if (id === 0) {
      const nameLen = readU32(bytes, at);
      const name = text.decode(bytes.subarray(at.pos, at.pos + nameLen));
      at.pos += nameLen;
      while (name === 'name' && at.pos < end) {
        const sub = bytes[at.pos++];
        const subSize = readU32(bytes, at);
        const subEnd = at.pos + subSize;
        if (sub === 1) {
          const count = readU32(bytes, at);
          for (let i = 0; i < count; i++) {
            const index = readU32(bytes, at);
            const len = readU32(bytes, at);
            names.set(index, text.decode(bytes.subarray(at.pos, at.pos + len)));
            at.pos += len;
          }
        }
        at.pos = subEnd;
      }
    }
    at.pos = end;
  }
  return names;
}

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const calls = Number(option('--calls') ?? 5);
const enginePath = option('--engine') ?? (await ensureEngine()).wasmPath;
const top = Number(option('--top') ?? 25);
const kinds = args.length > 0 ? args : [...KINDS];

const engineBytes = new Uint8Array(await readFile(enginePath));
const names = functionNames(engineBytes);
const engineImports = parseWasm(engineBytes).imports.filter((i) => i.kind === 'function').length;
const { wasm } = await compileJs({
  engine: { hash: 'profile', wasmPath: enginePath, features: [], toolchain: 'profile', buildMs: 0 },
  entry: 'bench.js',
  files: { 'bench.js': WORKLOADS },
  typeCheck: false,
});
const pluginImports = parseWasm(wasm).imports.filter((i) => i.kind === 'function').length;
const nameOf = (frame: ProfileNode['callFrame']): string => {
  const m = /^\$?(?:func|wasm-function\[)(\d+)/.exec(frame.functionName);
  if (!m || !frame.url.startsWith('wasm://')) return `${frame.functionName === '' ? '(anonymous)' : frame.functionName} [${frame.url.replace(/^.*\//, '') || 'js'}]`;
  const index = Number(m[1]);
  return names.get(index - pluginImports + engineImports) ?? `$func${index}`;
};

const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
for (const kind of kinds) {
  const input = workloadInput(kind);
  for (let i = 0; i < 2; i++) await plugin.call('handle', input);
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await plugin.call('handle', input);
  const ms = (performance.now() - t0) / calls;
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  if (process.env.UEE_PROFILE_DUMP) (await import('node:fs')).writeFileSync(`${process.env.UEE_PROFILE_DUMP}-${kind}.json`, JSON.stringify(profile));
  const self = new Map<string, number>();
  let total = 0;
  // counted in samples, not time deltas: the sample that ends the profile carries the inspector's own gap
  for (const id of profile.samples) {
    const node = byId.get(id);
    const dt = 1;
    if (!node) continue;
    const name = nameOf(node.callFrame);
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)' || name.startsWith('dispatch [')) continue;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  }
  process.stdout.write(`\n${kind}: ${ms.toFixed(1)} ms/call, self time by function\n`);
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}\n`);
  }
}
session.disconnect();
await plugin.close();
