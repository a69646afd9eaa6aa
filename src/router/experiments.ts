import type { JsonObject, Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import { EXPERIMENTS_VIEW, VariantStats, diffEffects, type EffectDiff, type Experiment, type InvocationSample, type ShadowSide, type VariantSnapshot } from '../experiments/index.js';
import { PINS_VIEW, type VersionResolver } from './versions.js';

/** Differing events a shadow run keeps for its report (the first ones). */
export const SHADOW_DIFFS_KEPT = 100;
/** Shadow invocations in flight per process; more are skipped (counted), never queued behind live work. */
export const SHADOW_CONCURRENCY = 8;

/** The live comparison of a shadow run. */
export interface ShadowSnapshot {
  compared: number;
  same: number;
  different: number;
  liveFailed: number;
  candidateFailed: number;
  /** Events not compared because the process already ran {@link SHADOW_CONCURRENCY} shadows. */
  skipped: number;
  diffs: EffectDiff[];
}

/** What the router knows of one experiment: per-variant counters, or a shadow run's comparison. */
export interface ExperimentSnapshot {
  variants: Array<{ name: string; stats: VariantSnapshot }>;
  shadow?: ShadowSnapshot;
}

/** How an experiment ends: control restored (`stopped`) or one variant's versions made effective (`promoted`). */
export interface EndRequest {
  status: 'stopped' | 'promoted';
  reason: string;
  actor: string;
  /** The variant whose versions become effective; control when stopping a split experiment. */
  winner?: string;
  final?: ExperimentSnapshot;
}

/**
 * Ends an experiment in the store: first pins the versions that take over (control when stopped, the
 * winner when promoted; a stopped shadow run pins nothing — its live version never changed), then
 * marks the document ended. In that order, a router reloading in between never sees an ended
 * experiment without the pin that replaces it. Returns the pins written.
 */
export async function endExperiment(store: EntityStore, tenantId: string, exp: Experiment, end: EndRequest): Promise<Record<string, number>> {
  const ctx = { tenantId, actor: end.actor };
  const target = end.winner ?? (exp.kind === 'split' ? exp.variants[0]?.name : undefined);
  const variant = target === undefined ? undefined : exp.variants.find((v) => v.name === target);
  const pins: Record<string, number> = {};
  for (const [name, version] of Object.entries(variant?.versions ?? {})) {
    await store.readModels.upsert(ctx, PINS_VIEW, name, { version });
    pins[name] = version;
  }
  const { id: _id, ...doc } = exp;
  const ended = {
    ...doc,
    status: end.status,
    endedAt: new Date().toISOString(),
    reason: end.reason,
    ...(variant === undefined ? {} : { winner: variant.name }),
    ...(end.final === undefined ? {} : { final: end.final }),
  };
  await store.readModels.upsert(ctx, EXPERIMENTS_VIEW, exp.id, JSON.parse(JSON.stringify(ended)) as JsonObject);
  return pins;
}

interface ShadowState extends Omit<ShadowSnapshot, 'diffs'> {
  diffs: EffectDiff[];
}

/**
 * The router's live view of its experiments: per-variant counters of every invocation an experiment
 * chose (exposures, outcomes, latency, budget use, model cost, custom metrics), guardrails judged on
 * each candidate invocation, and shadow comparisons. A breach stops the experiment here at once —
 * later deliveries resolve to control before the store write lands — then persists the stop (control
 * pinned, document ended with the final figures). Counters are per process.
 */
export class ExperimentMonitor {
  readonly #variants = new Map<string, Map<string, VariantStats>>();
  readonly #shadows = new Map<string, ShadowState>();
  readonly #ending = new Map<string, Promise<void>>();
  readonly #shadowRuns = new Set<Promise<void>>();

  constructor(
    private readonly store: EntityStore,
    private readonly versions: VersionResolver,
    private readonly logger: Logger,
  ) {}

  /** Counts one invocation of `variant`; a candidate breaching a guardrail stops the experiment. */
  record(tenantId: string, exp: Experiment, variant: string, sample: InvocationSample): void {
    const key = `${tenantId}\u0000${exp.id}`;
    let byVariant = this.#variants.get(key);
    if (byVariant === undefined) this.#variants.set(key, (byVariant = new Map<string, VariantStats>()));
    let stats = byVariant.get(variant);
    if (stats === undefined) byVariant.set(variant, (stats = new VariantStats()));
    stats.add(sample);
    if (variant === exp.variants[0]?.name || this.#ending.has(key)) return;
    const why = breach(exp, stats);
    if (why !== undefined) this.#stop(tenantId, exp, `guardrail: variant ${variant} ${why}`);
  }

  /** The figures of one experiment in this process (empty variants when it saw none). */
  snapshot(tenantId: string, exp: Experiment): ExperimentSnapshot {
    const key = `${tenantId}\u0000${exp.id}`;
    const byVariant = this.#variants.get(key);
    const variants = exp.variants.map((v) => ({ name: v.name, stats: (byVariant?.get(v.name) ?? new VariantStats()).toJSON() }));
    const shadow = this.#shadows.get(key);
    return { variants, ...(shadow === undefined ? {} : { shadow: { ...shadow, diffs: [...shadow.diffs] } }) };
  }

  /** Settles once a guardrail stop of the experiment (if any) is stored. */
  async ended(tenantId: string, experimentId: string): Promise<void> {
    await this.#ending.get(`${tenantId}\u0000${experimentId}`);
  }

  /**
   * Runs a shadow comparison off the delivery's path: `run` executes the candidate on a copy of the
   * live input without committing. At most {@link SHADOW_CONCURRENCY} run at once; others are skipped.
   */
  shadow(tenantId: string, exp: Experiment, event: { eventId: string; type: string; entityId?: string | undefined }, live: ShadowSide, run: () => Promise<ShadowSide>): void {
    const key = `${tenantId}\u0000${exp.id}`;
    let state = this.#shadows.get(key);
    if (state === undefined) this.#shadows.set(key, (state = { compared: 0, same: 0, different: 0, liveFailed: 0, candidateFailed: 0, skipped: 0, diffs: [] }));
    const s = state;
    if (this.#shadowRuns.size >= SHADOW_CONCURRENCY) {
      s.skipped++;
      return;
    }
    const p: Promise<void> = run()
      .then((candidate) => {
        s.compared++;
        if (!live.ok) s.liveFailed++;
        if (!candidate.ok) s.candidateFailed++;
        const diff = diffEffects(event, live, candidate);
        if (diff === undefined) s.same++;
        else {
          s.different++;
          if (s.diffs.length < SHADOW_DIFFS_KEPT) s.diffs.push(diff);
        }
      })
      .catch((err: unknown) => this.logger.warn('shadow run failed', { experiment: exp.id, error: toUeeError(err).message }))
      .finally(() => this.#shadowRuns.delete(p));
    this.#shadowRuns.add(p);
  }

  /** Waits for the shadow runs and guardrail stops in flight. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#shadowRuns, ...this.#ending.values()]);
  }

  #stop(tenantId: string, exp: Experiment, reason: string): void {
    const key = `${tenantId}\u0000${exp.id}`;
    // Control takes over in this process now; the store write makes it so everywhere.
    this.versions.end(tenantId, exp.id);
    const control = exp.variants[0];
    for (const [name, version] of Object.entries(control?.versions ?? {})) this.versions.pin(tenantId, name, version);
    this.logger.warn('experiment stopped by a guardrail; control restored', { tenantId, experiment: exp.id, reason });
    const final = this.snapshot(tenantId, exp);
    const done = endExperiment(this.store, tenantId, exp, { status: 'stopped', reason, actor: 'system:experiments', final }).then(
      () => undefined,
      (err: unknown) => this.logger.error('storing a guardrail stop failed', { tenantId, experiment: exp.id, error: toUeeError(err).message }),
    );
    this.#ending.set(key, done);
  }
}

/** The guardrail a candidate's counters breach, judged once it has `minSamples` invocations. */
function breach(exp: Experiment, s: VariantStats): string | undefined {
  const g = exp.guardrails;
  if (s.exposures < g.minSamples) return undefined;
  const errorRate = s.failures / s.exposures;
  if (g.maxErrorRate !== undefined && errorRate > g.maxErrorRate) return `error rate ${errorRate.toFixed(3)} > ${g.maxErrorRate}`;
  const cost = s.cost.sum / s.cost.n;
  if (g.maxCostPerEvent !== undefined && cost > g.maxCostPerEvent) return `model cost per event ${cost.toFixed(4)} > ${g.maxCostPerEvent}`;
  // Percentiles sort a ring of latencies: judged every 16th invocation, not each one.
  if (g.maxLatencyMs !== undefined && s.exposures % 16 === 0) {
    const p95 = s.latencyQuantile(0.95);
    if (p95 > g.maxLatencyMs) return `p95 latency ${p95.toFixed(1)} ms > ${g.maxLatencyMs} ms`;
  }
  return undefined;
}
