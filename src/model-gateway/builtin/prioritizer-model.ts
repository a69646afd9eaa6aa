/**
 * The task prioritizer's scoring function: a logistic regression over engineered task features.
 *
 * This module is deliberately dependency-free (no imports, no I/O, no globals beyond `Math`) so the
 * exact same code can be bundled into a `kind: model` wasm plugin's `infer` export together with
 * `prioritizer-weights.json`, and score identically inside the sandbox and in the gateway.
 */

/** Task facts the prioritizer understands. Every field is optional; missing ones take neutral values. */
export interface TaskFeaturesInput {
  /** Days until the due date (negative: overdue); `null`/absent: no due date. */
  dueInDays?: number | null;
  /** Estimated effort in hours. @default 1 */
  estimateHours?: number;
  /** Energy the task demands. @default "medium" */
  energy?: 'low' | 'medium' | 'high';
  /** 1 (trivial) … 5 (critical). @default 3 */
  importance?: number;
  /** @default "todo" */
  status?: 'todo' | 'in_progress' | 'blocked' | 'done';
}

/** A fitted model: feature names in vector order, their weights, and the intercept. */
export interface PrioritizerWeights {
  features: string[];
  weights: number[];
  bias: number;
}

/** What the prioritizer answers. */
export interface PrioritizerScore {
  /** Probability that the task should be worked on now, 0..1. */
  score: number;
  /** `round(score * 100)`: a sortable integer priority. */
  priority: number;
  label: 'high' | 'medium' | 'low';
}

/** Names of the engineered features, in vector order. */
export const PRIORITIZER_FEATURES: readonly string[] = [
  'urgency',
  'overdue',
  'noDueDate',
  'importance',
  'effort',
  'energyLow',
  'energyHigh',
  'inProgress',
  'blocked',
  'done',
];

/** Turns task facts into the feature vector the weights expect (order of {@link PRIORITIZER_FEATURES}). */
export function featurize(task: TaskFeaturesInput): number[] {
  const due = typeof task.dueInDays === 'number' && Number.isFinite(task.dueInDays) ? task.dueInDays : null;
  const hours = clamp(typeof task.estimateHours === 'number' && Number.isFinite(task.estimateHours) ? task.estimateHours : 1, 0, 100);
  const importance = clamp(typeof task.importance === 'number' && Number.isFinite(task.importance) ? task.importance : 3, 1, 5);
  const energy = task.energy ?? 'medium';
  const status = task.status ?? 'todo';
  return [
    due === null ? 0 : Math.exp(-Math.max(due, 0) / 7),
    due !== null && due < 0 ? Math.min(-due, 14) / 14 : 0,
    due === null ? 1 : 0,
    (importance - 1) / 4,
    Math.log1p(hours) / Math.log(101),
    energy === 'low' ? 1 : 0,
    energy === 'high' ? 1 : 0,
    status === 'in_progress' ? 1 : 0,
    status === 'blocked' ? 1 : 0,
    status === 'done' ? 1 : 0,
  ];
}

/** The logistic function. */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** P(label = 1) for a feature vector. */
export function predictProbability(model: PrioritizerWeights, x: readonly number[]): number {
  let z = model.bias;
  for (let i = 0; i < model.weights.length; i++) z += (model.weights[i] ?? 0) * (x[i] ?? 0);
  return sigmoid(z);
}

/** Scores one task: pure and deterministic. */
export function scoreTask(model: PrioritizerWeights, task: TaskFeaturesInput): PrioritizerScore {
  const score = predictProbability(model, featurize(task));
  const rounded = Math.round(score * 1e6) / 1e6;
  return { score: rounded, priority: Math.round(score * 100), label: score >= 0.66 ? 'high' : score >= 0.33 ? 'medium' : 'low' };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
