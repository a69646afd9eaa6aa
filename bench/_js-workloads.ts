/**
 * The workloads of `bench/js` (sort, JSON round trip, regex over 100 KB, a 1 MB string built with +=,
 * a 1e6-step arithmetic loop) as one ES module's source, shared by `bench/js.ts` and
 * `scripts/js-profile.ts` and `scripts/js-engines.ts`, and the plugin input that selects one of them.
 */
export const WORKLOADS = String.raw`
const lcg = (seed) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const TEXT = (() => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'mail', 'user', 'example'];
  const r = lcg(7);
  let s = '';
  while (s.length < 100000) s += r() < 0.05 ? ' u' + Math.floor(r() * 1000) + '@example.com' : ' ' + words[Math.floor(r() * words.length)];
  return s;
})();
const RECORDS = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: 'task ' + i, tags: ['a', 'b'], done: i % 2 === 0, score: i / 7 }));
export const work = {
  sort() {
    const r = lcg(1);
    const xs = Array.from({ length: 10000 }, () => r());
    xs.sort((a, b) => a - b);
    return xs[5000];
  },
  json() {
    const text = JSON.stringify(RECORDS);
    return JSON.parse(text).length + text.length;
  },
  regex() {
    const mails = TEXT.match(/\b\w+@\w+\.com\b/g).length;
    return mails + TEXT.replace(/a(l|m)/g, 'A$1').length;
  },
  string() {
    let s = '';
    for (let i = 0; i < 100000; i++) s += 'abcdefghij';
    return s.length;
  },
  arith() {
    let acc = 0;
    for (let i = 0; i < 1000000; i++) acc = (acc + ((i * i) % 7)) | 0;
    return acc;
  },
};
export function handle(input) {
  return work[input.event.payload.kind]();
}
`;

/** The workload names, in bench order. */
export const KINDS = ['sort', 'json', 'regex', 'string', 'arith'] as const;

/** The plugin input that runs workload `kind`. */
export const workloadInput = (kind: string): string =>
  JSON.stringify({ event: { eventId: 'e', type: 'Bench', tenantId: 't', payload: { kind } }, settings: {}, context: { now: '2026-11-26T12:00:00.000Z', randomSeed: '00', budget: { fuel: 1e9 } } });

/**
 * How long every workload runs in turn before any is timed (`UEE_BENCH_WARMUP_MS`, default 3,000):
 * V8 tiers a function up once it has run enough, so a fixed count of warm-up calls measured the first
 * workload (sort) on Liftoff code (2026-12-04: sort 4.1 ms/call first in the run, 2.5 ms run after
 * another workload; on two engines compared, 1.74× on identical builds).
 */
export const WARMUP_MS = Number(process.env.UEE_BENCH_WARMUP_MS ?? 3000);

/** Runs every workload in turn on each of `runners` (one after the other) for {@link WARMUP_MS}. */
export async function warmUp(runners: ReadonlyArray<(kind: (typeof KINDS)[number]) => unknown>): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < WARMUP_MS) for (const kind of KINDS) for (const run of runners) await run(kind);
}
