import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PRIORITIZER_FEATURES, featurize, predictProbability, type PrioritizerWeights, type TaskFeaturesInput } from './prioritizer-model.js';

/**
 * Fits the task prioritizer on a synthetic task dataset the project generates itself, so the
 * built-in scorer is reproducible from source: same seed, same data, same weights.
 *
 * Run it with `node --import tsx src/model-gateway/builtin/train-prioritizer.ts` (wired as
 * `npm run train:prioritizer`); it rewrites `prioritizer-weights.json` beside this file.
 */

/** Everything stored in `prioritizer-weights.json`. */
export interface PrioritizerArtifact extends PrioritizerWeights {
  model: 'task.prioritizer.v2';
  algorithm: 'logistic-regression (IRLS, L2)';
  seed: number;
  samples: { train: number; test: number };
  /** Held-out metrics: accuracy at 0.5 and ROC AUC. */
  metrics: { accuracy: number; auc: number; trainAccuracy: number };
  generatedBy: string;
}

/** Defaults of {@link trainPrioritizer}. */
export const TRAINING_DEFAULTS = { seed: 20260, samples: 6000, testFraction: 0.2, l2: 1e-2 } as const;

/** A seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The synthetic tasks and their "should be worked on now" label. The hidden rule is non-linear
 * (exponential urgency, overdue ramp, log effort) with Gaussian noise, so the linear model learns an
 * approximation rather than the rule itself.
 */
export function generateTasks(seed: number, n: number): Array<{ task: TaskFeaturesInput; label: 0 | 1 }> {
  const rand = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pick = <T>(items: Array<[T, number]>): T => {
    let u = rand();
    for (const [item, p] of items) if ((u -= p) < 0) return item;
    return items[items.length - 1]![0];
  };
  const out: Array<{ task: TaskFeaturesInput; label: 0 | 1 }> = [];
  for (let i = 0; i < n; i++) {
    const dueInDays = rand() < 0.15 ? null : Math.floor(-10 + 55 * rand() ** 1.5);
    const estimateHours = Math.round(Math.min(40, Math.max(0.25, Math.exp(0.9 * normal() + 0.7))) * 4) / 4;
    const energy = pick<'low' | 'medium' | 'high'>([['low', 0.3], ['medium', 0.45], ['high', 0.25]]);
    const importance = pick([[1, 0.1], [2, 0.2], [3, 0.35], [4, 0.22], [5, 0.13]]);
    const status = pick<'todo' | 'in_progress' | 'blocked' | 'done'>([['todo', 0.55], ['in_progress', 0.2], ['blocked', 0.12], ['done', 0.13]]);
    let t = -1.2;
    t += dueInDays === null ? -0.8 : 3.2 * Math.exp(-Math.max(dueInDays, 0) / 5) + (dueInDays < 0 ? 1 + 0.1 * Math.min(-dueInDays, 10) : 0);
    t += 0.9 * (importance - 3) - 0.35 * Math.log1p(estimateHours);
    t += energy === 'low' ? 0.3 : energy === 'high' ? -0.4 : 0;
    t += status === 'in_progress' ? 0.9 : status === 'blocked' ? -1.8 : status === 'done' ? -4 : 0;
    t += 0.6 * normal();
    out.push({ task: { dueInDays, estimateHours, energy, importance, status }, label: t > 0 ? 1 : 0 });
  }
  return out;
}

/** Fits logistic regression by iteratively reweighted least squares with an L2 penalty (bias unpenalised). */
export function fitLogistic(xs: number[][], ys: number[], l2: number, iterations = 25): { weights: number[]; bias: number } {
  const d = (xs[0]?.length ?? 0) + 1;
  let beta = new Array<number>(d).fill(0);
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let n = 0; n < xs.length; n++) {
      const row = [1, ...xs[n]!];
      let z = 0;
      for (let j = 0; j < d; j++) z += beta[j]! * row[j]!;
      const p = 1 / (1 + Math.exp(-z));
      const w = Math.max(p * (1 - p), 1e-9);
      const r = ys[n]! - p;
      for (let j = 0; j < d; j++) {
        grad[j]! += r * row[j]!;
        for (let k = 0; k <= j; k++) hess[j]![k]! += w * row[j]! * row[k]!;
      }
    }
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < j; k++) hess[k]![j] = hess[j]![k]!;
      if (j > 0) {
        grad[j]! -= l2 * xs.length * beta[j]!;
        hess[j]![j]! += l2 * xs.length;
      }
    }
    const step = solve(hess, grad);
    beta = beta.map((b, j) => b + step[j]!);
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return { bias: beta[0]!, weights: beta.slice(1) };
}

/** ROC AUC by the rank-sum (Mann-Whitney) statistic, ties averaged. */
export function rocAuc(scores: number[], labels: number[]): number {
  const idx = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && idx[j]![0] === idx[i]![0]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (idx[k]![1] === 1) { rankSumPos += avgRank; pos++; }
    i = j;
  }
  const neg = idx.length - pos;
  return pos === 0 || neg === 0 ? NaN : (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Generates the dataset, fits on the training split and evaluates on the held-out split. */
export function trainPrioritizer(options: Partial<typeof TRAINING_DEFAULTS> = {}): PrioritizerArtifact {
  const o = { ...TRAINING_DEFAULTS, ...options };
  const data = generateTasks(o.seed, o.samples);
  const cut = Math.floor(data.length * (1 - o.testFraction));
  const train = data.slice(0, cut);
  const test = data.slice(cut);
  const fit = fitLogistic(train.map((r) => featurize(r.task)), train.map((r) => r.label), o.l2);
  const weights = fit.weights.map(round6);
  const model: PrioritizerWeights = { features: [...PRIORITIZER_FEATURES], weights, bias: round6(fit.bias) };
  const evaluate = (rows: typeof data): { accuracy: number; scores: number[] } => {
    const scores = rows.map((r) => predictProbability(model, featurize(r.task)));
    const correct = rows.filter((r, i) => (scores[i]! >= 0.5 ? 1 : 0) === r.label).length;
    return { accuracy: correct / rows.length, scores };
  };
  const held = evaluate(test);
  return {
    model: 'task.prioritizer.v2',
    algorithm: 'logistic-regression (IRLS, L2)',
    ...model,
    seed: o.seed,
    samples: { train: train.length, test: test.length },
    metrics: { accuracy: round6(held.accuracy), auc: round6(rocAuc(held.scores, test.map((r) => r.label))), trainAccuracy: round6(evaluate(train).accuracy) },
    generatedBy: 'npm run train:prioritizer (src/model-gateway/builtin/train-prioritizer.ts)',
  };
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const pivot = m[c]![c]!;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / pivot;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const artifact = trainPrioritizer();
  const path = fileURLToPath(new URL('./prioritizer-weights.json', import.meta.url));
  writeFileSync(path, JSON.stringify(artifact, null, 2) + '\n');
  process.stdout.write(`wrote ${path}: held-out accuracy ${artifact.metrics.accuracy}, AUC ${artifact.metrics.auc}\n`);
}
