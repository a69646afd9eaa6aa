/**
 * JS-CONTAIN-*: long-running native work inside a JS plugin — a catastrophic regex, string search,
 * generic array loops over huge array-likes — stops at the plugin's timeout through the real compile +
 * host path, inside the engine (its interrupt handler probes the runtime's deadline), so the worker is
 * not killed; and another tenant's events keep flowing meanwhile at about their usual latency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import type { InvocationResult } from '../../src/runtime/index.js';
import { FakeHost, load, sharedEngine } from '../compiler/plugin-host.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';

/** Hostile handler bodies: each runs for hours (or forever) in one native call without the fix. */
const HOSTILE: Record<string, string> = {
  'regex test': `return /(a+)+$/.test('a'.repeat(40) + 'b');`,
  'regex replace': `return ('a'.repeat(60) + 'b').replace(/(a|aa)+$/g, '');`,
  'regex split': `return ('x'.repeat(40) + '!').split(/(x+x+)+y/).length;`,
  'string indexOf': `const h = 'a'.repeat(2e6); return h.indexOf('a'.repeat(1e6) + 'b');`,
  'string includes': `const h = 'a'.repeat(2e6); return h.includes('a'.repeat(1e6) + 'b');`,
  'string split': `const h = 'a'.repeat(2e6); return h.split('a'.repeat(1e6) + 'b').length;`,
  'array-like indexOf': `return Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 1);`,
  'array-like lastIndexOf': `return Array.prototype.lastIndexOf.call({ length: 2 ** 53 - 1 }, 1);`,
  'sparse join': `return new Array(2 ** 32 - 1).join('').length;`,
  'bytecode loop': `let i = 0; for (;;) i++;`,
  // libbf polls inside its NTT stages and schoolbook rows, not only from its allocator: one
  // multiplication of multi-million-bit numbers ran past the deadline and the grace period (a worker kill)
  'BigInt toString': `return (2n ** 3000000n).toString().length;`,
  'BigInt multiply': `const a = (1n << 5000000n) - 1n; const b = a * a; return b > a;`,
  'BigInt schoolbook': `const a = (1n << 24000000n) - 1n; const b = a * ((1n << 3150n) - 1n); return b > a;`,
  // a global match/replace runs its whole exec loop in C (engine-patch-regex.ts): each match is a
  // short matcher run below its 256-step poll, so the loop itself is charged one unit per match
  'regex replace loop': `return 'a'.repeat(1e6).replace(/a/g, 'b').length;`,
  'regex match loop': `return 'a'.repeat(4e5).match(/a/g).length;`,
  'regex replace function loop': `return 'a'.repeat(4e5).replace(/a/g, () => 'b').length;`,
};

const wasmOf = async (body: string): Promise<Uint8Array> =>
  (await compileJs({ files: { 'main.js': `export function handle(input) { ${body} }` }, entry: 'main.js', engine: await sharedEngine() })).wasm;

let rt: RuntimeFixture;
const TIMEOUT_MS = 300;

beforeAll(async () => {
  rt = await openRuntime();
  await rt.host.load({ id: 'echo', name: 'echo', version: '1', kind: 'event', capabilities: [], wasm: await wasmOf(`return { n: input.event.payload.n };`) });
}, 600_000);
afterAll(async () => {
  await rt?.close();
});

function failure(r: InvocationResult): Extract<InvocationResult, { ok: false }> {
  if (r.ok) throw new Error(`expected the hostile call to fail, got ${JSON.stringify(r.output)}`);
  return r;
}

/** Median latency of `n` sequential calls of the echo plugin for tenant globex (and at least until `until()`). */
async function echoLatency(n: number, until: () => boolean = () => true): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n || (!until() && i < 100_000); i++) {
    const t0 = performance.now();
    const r = await rt.host.invoke('echo', { event: makeEvent('globex', { payload: { n: i } }) });
    times.push(performance.now() - t0);
    if (!r.ok) throw new Error(`tenant B's event failed: ${r.error.code} ${r.error.message}`);
    expect(r.output).toEqual({ n: i });
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * The BigInt cases are sized to outlast the deadline on a loaded machine, but an idle one finishes
 * (or fills the 32 MiB heap) within it, so they prove nothing by time: JS-CONTAIN-3 proves libbf's
 * polls by fuel, which counts polls, not milliseconds. So do the regex loops (a few hundred ms of
 * short matches, not hours).
 */
const TIMED = Object.keys(HOSTILE).filter((name) => !name.startsWith('BigInt') && !name.endsWith(' loop'));

describe('JS plugins: long native work is stopped at the deadline, inside the engine', () => {
  it.each(TIMED)('JS-CONTAIN-1 %s: TIMEOUT at the deadline, the worker survives', async (name) => {
    const id = `hostile-${name.replace(/\W+/g, '-')}`;
    await rt.host.load({ id, name: id, version: '1', kind: 'event', capabilities: [], wasm: await wasmOf(HOSTILE[name]!), budget: { timeoutMs: TIMEOUT_MS } });
    const before = rt.host.stats().replacements;
    const r = failure(await rt.host.invoke(id, { event: makeEvent('acme') }));
    expect(r.error).toMatchObject({ code: 'TIMEOUT' });
    // Ended by the engine at its next interrupt poll, not by killing the worker (a kill replaces it).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(rt.host.stats().replacements).toBe(before);
    expect(rt.host.stats().workers).toBe(2);
  }, 120_000);

  it('JS-CONTAIN-2 tenant A attacking with a hostile regex: tenant B\'s events are processed at about their baseline latency', async () => {
    await rt.host.load({ id: 'redos', name: 'redos', version: '1', kind: 'event', capabilities: [], wasm: await wasmOf(HOSTILE['regex test']!), budget: { timeoutMs: TIMEOUT_MS } });
    await echoLatency(5); // warm
    const baseline = await echoLatency(300);
    const before = rt.host.stats().replacements;
    let attacking = true;
    let attacks = 0;
    const attacker = (async () => {
      while (attacking) {
        const r = failure(await rt.host.invoke('redos', { event: makeEvent('acme') }));
        expect(r.error.code).toBe('TIMEOUT');
        attacks++;
      }
    })();
    // Two attacks in flight at once: tenant A asks for both workers; fairness leaves B its share.
    const attacker2 = (async () => {
      while (attacking) failure(await rt.host.invoke('redos', { event: makeEvent('acme') }));
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // across several attacks: each one's deadline, cancel and unwind happen while B's events flow
    const underAttack = await echoLatency(30, () => attacks >= 3);
    attacking = false;
    await Promise.all([attacker, attacker2]);
    expect(attacks).toBeGreaterThanOrEqual(3);
    expect(rt.host.stats().replacements).toBe(before);
    // B waits at most for one of A's calls to end (its fair share of workers frees within a timeout),
    // never behind a queue of A's work: the median stays near the baseline.
    expect(underAttack).toBeLessThan(Math.max(baseline * 4, baseline + TIMEOUT_MS / 10));
  }, 120_000);
});

describe('JS engine without the runtime: the interrupt budget (fuel) stops native work too', () => {
  it.each(['regex test', 'string indexOf', 'array-like indexOf', 'sparse join', 'BigInt toString', 'BigInt multiply', 'BigInt schoolbook', 'regex replace loop', 'regex match loop', 'regex replace function loop'])('JS-CONTAIN-3 %s ends with FUEL_EXHAUSTED', async (name) => {
    const loaded = await load(await wasmOf(HOSTILE[name]!), new FakeHost());
    try {
      // with context.now (as the runtime sends it): without it something else polls per match and
      // the regex loops end by fuel even when the C loop does not poll
      const out = await loaded.call({ event: makeEvent('acme'), context: { now: '2026-11-26T12:00:00.000Z', budget: { fuel: 20 } } });
      expect(out).toMatchObject({ ok: false, error: { code: 'FUEL_EXHAUSTED' } });
    } finally {
      await loaded.close();
    }
  }, 120_000);
});
