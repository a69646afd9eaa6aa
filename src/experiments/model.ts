import { z } from 'zod';
import { hash32, type EventEnvelope } from '../core/index.js';

/**
 * Experiments are platform data: one document per experiment in the tenant's read-model view
 * {@link EXPERIMENTS_VIEW}. `uee.*` views are written only by the platform (the experiment tools and
 * the router's guardrails), never by a tenant or a plugin, so no one can forge an assignment.
 */
export const EXPERIMENTS_VIEW = 'uee.experiments';

/** Which part of the chain's root event is hashed into a variant. */
export const AssignmentKeySchema = z.enum(['entity', 'tenant', 'correlation']);
/** An {@link AssignmentKeySchema} value. */
export type AssignmentKey = z.infer<typeof AssignmentKeySchema>;

/** One arm: a weight and the version each of the experiment's plugins runs in it. */
export const VariantSchema = z.object({
  name: z.string().min(1).max(64),
  weight: z.number().min(0),
  versions: z.record(z.string(), z.number().int().positive()),
});
/** A {@link VariantSchema} value. */
export type Variant = z.infer<typeof VariantSchema>;

/** Limits on the candidate variants; a breach stops the experiment and restores control. */
export const GuardrailsSchema = z.object({
  /** Highest failure rate of a candidate variant (0..1). */
  maxErrorRate: z.number().min(0).max(1).optional(),
  /** Highest p95 invocation latency of a candidate variant, in ms. */
  maxLatencyMs: z.number().positive().optional(),
  /** Highest mean model cost per invocation of a candidate variant (gateway cost units). */
  maxCostPerEvent: z.number().min(0).optional(),
  /** Invocations of a variant before its guardrails are judged. @default 20 */
  minSamples: z.number().int().min(1).default(20),
});
/** A {@link GuardrailsSchema} value. */
export type Guardrails = z.infer<typeof GuardrailsSchema>;

/** Lifecycle: `running` → `stopped` (control restored) or `promoted` (a variant's versions pinned). */
export const ExperimentStatusSchema = z.enum(['running', 'stopped', 'promoted']);

/**
 * A stored experiment. `split`: each chain runs one variant (variants[0] is control). `shadow`: the
 * live version keeps handling every event; variants[1]'s versions also run on copies, effects captured.
 */
export const ExperimentSchema = z.object({
  id: z.string(),
  kind: z.enum(['split', 'shadow']),
  plugins: z.array(z.string()).min(1),
  key: AssignmentKeySchema,
  variants: z.array(VariantSchema).min(2),
  guardrails: GuardrailsSchema,
  status: ExperimentStatusSchema,
  startedAt: z.string(),
  createdBy: z.string(),
  endedAt: z.string().optional(),
  /** Why it ended: `guardrail: …`, `stopped by …`, `promoted …`. */
  reason: z.string().optional(),
  winner: z.string().optional(),
  /** The statistics at the end (the live counters are gone once a process restarts). */
  final: z.record(z.string(), z.unknown()).optional(),
});
/** A stored experiment. */
export type Experiment = z.infer<typeof ExperimentSchema>;

/** Parses a stored document; undefined when it is not an experiment (never trusted blindly). */
export function parseExperiment(id: string, doc: unknown): Experiment | undefined {
  const r = ExperimentSchema.safeParse({ ...(doc as object), id });
  return r.success ? r.data : undefined;
}

/** The value hashed for an event: the root's entity (else its chain), its tenant, or its chain. */
export function assignmentValue(key: AssignmentKey, event: Pick<EventEnvelope, 'entityId' | 'tenantId' | 'correlationId'>): string {
  if (key === 'tenant') return event.tenantId ?? '';
  if (key === 'entity') return event.entityId ?? event.correlationId;
  return event.correlationId;
}

/**
 * The variant of a key: a 32-bit hash of (experiment id, key) read as a number in [0, 1) picks a
 * variant by cumulative weight. Deterministic (the same key always lands in the same variant, in
 * every process) and independent between experiments (the id is salted in). The hash is FNV-1a with
 * murmur3's finaliser — uniform enough for traffic splits and ~10× cheaper than sha256 on the routing
 * path; assignment is not a secret (a tenant choosing its own variant only chooses its own traffic).
 */
export function assignVariant(experiment: Pick<Experiment, 'id' | 'variants'>, value: string): Variant {
  const point = hash32(`${experiment.id}\u0000${value}`) / 0x1_0000_0000;
  const total = experiment.variants.reduce((s, v) => s + v.weight, 0);
  let acc = 0;
  for (const v of experiment.variants) {
    acc += v.weight / total;
    if (point < acc) return v;
  }
  return experiment.variants[experiment.variants.length - 1]!;
}
