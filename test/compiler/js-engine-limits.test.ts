/**
 * JS-ENGINE: the engine fixes of issue 15 that are not about an answer but about how far a plugin can
 * go: recursion as deep as Node 20 allows (QuickJS's default stack held ~1,900 frames), and a string
 * built with `+=` in time linear in its length (upstream copied the whole string on every append: a
 * 1 MB string took 2.1 s). The second is a ratio measured in one run, calls interleaved: building 16×
 * the length must cost far less than the 256× a quadratic build would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import { makeEvent, openRuntime, type RuntimeFixture } from '../runtime/setup.js';
import { sharedEngine } from './plugin-host.js';

let runtime: RuntimeFixture;
// the runtime's workers, as in production: their V8 stack holds the engine's frames (a main thread's does not)
beforeAll(async () => {
  const engine = await sharedEngine();
  runtime = await openRuntime({ workers: 1 });
  const { wasm } = await compileJs({ engine, entry: 'main.js', files: { 'main.js': SOURCE } });
  await runtime.host.load({ id: 'limits', name: 'limits', version: 1, kind: 'event', capabilities: [], budget: { timeoutMs: 10_000 }, wasm });
}, 20 * 60_000);
afterAll(async () => {
  await runtime?.close();
});

const call = async (payload: Record<string, unknown>): Promise<unknown> => {
  const r = await runtime.host.invoke('limits', { event: makeEvent('acme', { payload }) });
  return r.ok ? r.output : { error: r.error.code };
};

const SOURCE = `export function handle(input) {
  const { kind, n } = input.event.payload;
  if (kind === 'depth') {
    const f = (k) => (k === 0 ? 0 : 1 + f(k - 1));
    let overflow = '';
    try { f(1e7); } catch (e) { overflow = e instanceof RangeError ? 'RangeError' : String(e && e.name); }
    return { deep: f(n), overflow };
  }
  let s = '';
  for (let i = 0; i < n; i++) s += 'abcdefghij';
  return s.length;
}`;

describe('JS engine limits', () => {
  it('JS-ENGINE-1 recursion 10,000 frames deep returns (Node 20 allows ~11,000); running out of stack is a catchable RangeError', async () => {
    expect(await call({ kind: 'depth', n: 10_000 })).toEqual({ deep: 10_000, overflow: 'RangeError' });
  });

  it('JS-ENGINE-2 a string built with += grows in linear time: 2 MB costs far less than 256x 128 KB (same run, interleaved)', async () => {
    const time = async (n: number): Promise<number> => {
      const t0 = performance.now();
      const out = await call({ kind: 'string', n });
      const ms = performance.now() - t0;
      expect(out).toBe(n * 10);
      return ms;
    };
    const small: number[] = [];
    const large: number[] = [];
    for (let round = 0; round < 5; round++) {
      small.push(await time(12_800));
      large.push(await time(204_800));
    }
    // the fastest of each: a stall on a loaded machine only ever adds time
    const ratio = Math.min(...large) / Math.min(...small);
    process.stderr.write(`JS-ENGINE-2 ${JSON.stringify({ smallMs: small.map(Math.round), largeMs: large.map(Math.round), ratio: Math.round(ratio * 10) / 10 })}\n`);
    // linear: ~16x (less with the fixed cost of a call); quadratic: ~256x
    expect(ratio).toBeLessThan(64);
  }, 180_000);
});
