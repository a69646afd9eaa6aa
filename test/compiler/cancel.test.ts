/**
 * Cancelling a compile stops the work itself within 1 s: the compiler thread running the TypeScript
 * check or asc is terminated, the Wizer process is killed. Issue 16 wires MCP task cancellation to
 * this `signal`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { compileAssemblyScript, compileJs, isUeeErrorLike } from './compile-helpers.js';
import { compilerThreadCount, stopCompilerThreads } from '../../src/compiler/worker-pool.js';
import { lateness } from '../timing.js';

/** Child processes of this process whose command line mentions `name`. */
function children(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(name)) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/**
 * Aborts after `afterMs`; resolves with the error, how long after the abort it came, and the
 * baseline it is compared with: the lateness of a plain 1 s timer started with the abort.
 */
async function cancelAfter(afterMs: number, start: (signal: AbortSignal) => Promise<unknown>): Promise<{ err: unknown; lagMs: number; boundMs: number }> {
  const controller = new AbortController();
  let abortedAt = 0;
  let timer: Promise<number> = Promise.resolve(0);
  const work = start(controller.signal);
  setTimeout(() => {
    abortedAt = performance.now();
    timer = lateness(1000, abortedAt);
    controller.abort();
  }, afterMs);
  const err = await work.then(() => undefined, (e: unknown) => e);
  const lagMs = performance.now() - abortedAt;
  return { err, lagMs, boundMs: 1000 + (await timer) };
}

// 930 KB of TypeScript: the check takes seconds, far longer than the cancel may.
const BIG_TS = Array.from({ length: 11_000 }, (_, i) => `export function f${i}(a: number, b: string): string { return b + String(a * ${i}); }`).join('\n');
const BIG_AS = `import { Value, on, dispatch } from "uee-plugin";
${Array.from({ length: 3_000 }, (_, i) => `function f${i}(a: i32): i32 { return a * ${i} + ${i % 7}; }`).join('\n')}
on("*", (input: Value): Value | null => null);
export function handle(): i32 { return dispatch() + ${Array.from({ length: 3_000 }, (_, i) => `f${i}(1)`).join(' + ')}; }`;

describe('cancelling a compile', () => {
  afterEach(async () => {
    await stopCompilerThreads();
  });

  it('CANCEL-1 an aborted TS compile rejects CANCELLED within 1 s and its type-checking thread is terminated', async () => {
    await stopCompilerThreads();
    const { err, lagMs, boundMs } = await cancelAfter(300, (signal) =>
      compileJs({ files: { 'main.ts': `import './big';\nexport function handle() { return 1; }`, 'big.ts': BIG_TS }, entry: 'main.ts', signal }),
    );
    expect(isUeeErrorLike(err, 'CANCELLED')).toBe(true);
    expect(lagMs).toBeLessThan(boundMs);
    expect(await until(() => compilerThreadCount().alive === 0, 1000)).toBe(true);
  });

  it('CANCEL-2 an aborted snapshot kills the Wizer process (top-level code that never ends)', async () => {
    const { err, lagMs, boundMs } = await cancelAfter(2500, (signal) =>
      compileJs({ files: { 'main.js': 'for (;;) {}\nexport function handle() { return 1; }' }, entry: 'main.js', signal }),
    );
    expect(isUeeErrorLike(err, 'CANCELLED')).toBe(true);
    expect(lagMs).toBeLessThan(boundMs);
    expect(await until(() => children('wizer').length === 0, 1000)).toBe(true);
  });

  it('CANCEL-3 an aborted AssemblyScript compile terminates the thread running asc', async () => {
    await stopCompilerThreads();
    const { err, lagMs, boundMs } = await cancelAfter(500, (signal) => compileAssemblyScript({ files: { 'main.ts': BIG_AS }, entry: 'main.ts', signal }));
    expect(isUeeErrorLike(err, 'CANCELLED')).toBe(true);
    expect(lagMs).toBeLessThan(boundMs);
    expect(await until(() => compilerThreadCount().alive === 0, 1000)).toBe(true);
  });

  it('CANCEL-4 a compile over its time limit is stopped the same way (TIMEOUT, Wizer killed)', async () => {
    const err = await compileJs({ files: { 'main.js': 'for (;;) {}\nexport function handle() { return 1; }' }, entry: 'main.js', timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'TIMEOUT')).toBe(true);
    expect(await until(() => children('wizer').length === 0, 1000)).toBe(true);
  });
});
