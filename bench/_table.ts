/** Shared printing for bench programs: an aligned table and the closing JSON line. */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: Array<string | number>): string => '| ' + r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ') + ' |';
  process.stdout.write(line(headers) + '\n');
  process.stdout.write('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|\n');
  for (const r of cells.slice(1)) process.stdout.write(line(r) + '\n');
}

/** Rounds for display: integers above 100, three significant digits below. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

/** Prints the one machine-readable line every bench ends with. */
export function printResult(bench: string, figures: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ bench, ...figures }) + '\n');
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * `rounds` runs of a baseline and of a change, alternating (the baseline first, so both see the same
 * drift of the machine), and the median of each figure over each side's runs.
 */
export async function alternating<R extends { [K in keyof R]: number }>(rounds: number, baseline: () => Promise<R>, change: () => Promise<R>): Promise<{ baseline: (figure: keyof R) => number; change: (figure: keyof R) => number }> {
  const off: R[] = [];
  const on: R[] = [];
  for (let r = 0; r < rounds; r++) {
    off.push(await baseline());
    on.push(await change());
  }
  const of = (runs: R[]) => (figure: keyof R): number => median(runs.map((x) => x[figure]));
  return { baseline: of(off), change: of(on) };
}
