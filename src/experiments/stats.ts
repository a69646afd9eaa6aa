/** What one invocation under an experiment did, as the router saw it. */
export interface InvocationSample {
  ok: boolean;
  durationMs: number;
  /** The candidate failed and the event was handed to control instead. */
  fellBack?: boolean;
  hostCalls?: number;
  modelCalls?: number;
  emits?: number;
  outputBytes?: number;
  /** Model cost the invocation spent through the gateway. */
  modelCost?: number;
  /** Custom metrics the plugin recorded (`record_metric`). */
  metrics?: Readonly<Record<string, number>>;
}

/** Running sum, sum of squares and count of one quantity. */
interface Moments {
  n: number;
  sum: number;
  sumSq: number;
}

const RESERVOIR = 2048;

/** Running per-variant counters: bounded memory whatever the traffic. */
export class VariantStats {
  exposures = 0;
  successes = 0;
  failures = 0;
  fallbacks = 0;
  readonly latency: Moments = { n: 0, sum: 0, sumSq: 0 };
  readonly cost: Moments = { n: 0, sum: 0, sumSq: 0 };
  readonly budget = { hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 0 };
  readonly custom = new Map<string, Moments>();
  /** The latest latencies (a ring), for percentiles. */
  readonly #recent: number[] = [];
  #next = 0;

  add(s: InvocationSample): void {
    this.exposures++;
    if (s.ok) this.successes++;
    else this.failures++;
    if (s.fellBack) this.fallbacks++;
    push(this.latency, s.durationMs);
    push(this.cost, s.modelCost ?? 0);
    this.budget.hostCalls += s.hostCalls ?? 0;
    this.budget.modelCalls += s.modelCalls ?? 0;
    this.budget.emits += s.emits ?? 0;
    this.budget.outputBytes += s.outputBytes ?? 0;
    for (const [k, v] of Object.entries(s.metrics ?? {})) {
      let m = this.custom.get(k);
      if (m === undefined) this.custom.set(k, (m = { n: 0, sum: 0, sumSq: 0 }));
      push(m, v);
    }
    if (this.#recent.length < RESERVOIR) this.#recent.push(s.durationMs);
    else this.#recent[this.#next] = s.durationMs;
    this.#next = (this.#next + 1) % RESERVOIR;
  }

  /** The `p` quantile (0..1) of the latest latencies. */
  latencyQuantile(p: number): number {
    if (this.#recent.length === 0) return 0;
    const sorted = [...this.#recent].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  }

  /** A JSON snapshot (what ends up in the stored experiment when it ends). */
  toJSON(): VariantSnapshot {
    return {
      exposures: this.exposures,
      successes: this.successes,
      failures: this.failures,
      fallbacks: this.fallbacks,
      latency: { ...this.latency, p50: this.latencyQuantile(0.5), p95: this.latencyQuantile(0.95) },
      cost: { ...this.cost },
      budget: { ...this.budget },
      custom: Object.fromEntries(this.custom),
    };
  }
}

/** A {@link VariantStats} frozen as JSON. */
export interface VariantSnapshot {
  exposures: number;
  successes: number;
  failures: number;
  fallbacks: number;
  latency: Moments & { p50: number; p95: number };
  cost: Moments;
  budget: { hostCalls: number; modelCalls: number; emits: number; outputBytes: number };
  custom: Record<string, Moments>;
}

function push(m: Moments, v: number): void {
  m.n++;
  m.sum += v;
  m.sumSq += v * v;
}

/** A mean with its 95% confidence interval. */
export interface Estimate {
  n: number;
  mean: number;
  low: number;
  high: number;
}

/** A comparison against control: the difference, its 95% interval and the two-sided p-value. */
export interface Comparison {
  diff: number;
  low: number;
  high: number;
  pValue: number;
  significant: boolean;
}

/** One variant of an experiment report. */
export interface VariantReport {
  variant: string;
  exposures: number;
  fallbacks: number;
  successRate: Estimate;
  latencyMs: Estimate & { p50: number; p95: number };
  modelCost: Estimate;
  budgetPerEvent: { hostCalls: number; modelCalls: number; emits: number; outputBytes: number };
  metrics: Record<string, Estimate>;
  /** Against control (absent on control): success-rate and latency differences. */
  vsControl?: { successRate: Comparison; latencyMs: Comparison; metrics: Record<string, Comparison> };
}

const Z95 = 1.959964;

/**
 * The report of an experiment: per variant, success rate (Wilson 95% interval), latency, model cost
 * and custom metrics (normal 95% intervals), budget use per event; each candidate compared with
 * control by a two-proportion z-test (success) and a Welch z-test (means), significant at p < 0.05.
 */
export function report(variants: ReadonlyArray<{ name: string; stats: VariantSnapshot }>): VariantReport[] {
  const control = variants[0]?.stats;
  return variants.map(({ name, stats: s }, i) => {
    const n = s.exposures;
    const per = (x: number): number => (n === 0 ? 0 : round(x / n));
    const out: VariantReport = {
      variant: name,
      exposures: n,
      fallbacks: s.fallbacks,
      successRate: wilson(s.successes, n),
      latencyMs: { ...meanEstimate(s.latency), p50: round(s.latency.p50), p95: round(s.latency.p95) },
      modelCost: meanEstimate(s.cost),
      budgetPerEvent: { hostCalls: per(s.budget.hostCalls), modelCalls: per(s.budget.modelCalls), emits: per(s.budget.emits), outputBytes: per(s.budget.outputBytes) },
      metrics: Object.fromEntries(Object.entries(s.custom).map(([k, m]) => [k, meanEstimate(m)])),
    };
    if (i > 0 && control !== undefined) {
      out.vsControl = {
        successRate: proportions(control.successes, control.exposures, s.successes, n),
        latencyMs: means(control.latency, s.latency),
        metrics: Object.fromEntries(Object.entries(s.custom).flatMap(([k, m]) => (control.custom[k] === undefined ? [] : [[k, means(control.custom[k], m)]]))),
      };
    }
    return out;
  });
}

/** Wilson score interval of a proportion. */
export function wilson(successes: number, n: number): Estimate {
  if (n === 0) return { n, mean: 0, low: 0, high: 1 };
  const p = successes / n;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { n, mean: round(p), low: round(Math.max(0, centre - half)), high: round(Math.min(1, centre + half)) };
}

function meanEstimate(m: Moments): Estimate {
  if (m.n === 0) return { n: 0, mean: 0, low: 0, high: 0 };
  const mean = m.sum / m.n;
  const half = Z95 * Math.sqrt(variance(m) / m.n);
  return { n: m.n, mean: round(mean), low: round(mean - half), high: round(mean + half) };
}

function variance(m: Moments): number {
  if (m.n < 2) return 0;
  return Math.max(0, (m.sumSq - (m.sum * m.sum) / m.n) / (m.n - 1));
}

/** Two-proportion z-test (pooled) of b against a, with an unpooled 95% interval of the difference. */
export function proportions(sa: number, na: number, sb: number, nb: number): Comparison {
  if (na === 0 || nb === 0) return { diff: 0, low: 0, high: 0, pValue: 1, significant: false };
  const pa = sa / na;
  const pb = sb / nb;
  const pooled = (sa + sb) / (na + nb);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
  const pValue = se0 === 0 ? (pa === pb ? 1 : 0) : 2 * (1 - normalCdf(Math.abs(pb - pa) / se0));
  const se = Math.sqrt((pa * (1 - pa)) / na + (pb * (1 - pb)) / nb);
  return { diff: round(pb - pa), low: round(pb - pa - Z95 * se), high: round(pb - pa + Z95 * se), pValue: round(pValue), significant: pValue < 0.05 };
}

/** Welch's test of b's mean against a's (normal approximation: fine for the sample sizes of live traffic). */
export function means(a: Moments, b: Moments): Comparison {
  if (a.n < 2 || b.n < 2) return { diff: 0, low: 0, high: 0, pValue: 1, significant: false };
  const diff = b.sum / b.n - a.sum / a.n;
  const se = Math.sqrt(variance(a) / a.n + variance(b) / b.n);
  const pValue = se === 0 ? (diff === 0 ? 1 : 0) : 2 * (1 - normalCdf(Math.abs(diff) / se));
  return { diff: round(diff), low: round(diff - Z95 * se), high: round(diff + Z95 * se), pValue: round(pValue), significant: pValue < 0.05 };
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
