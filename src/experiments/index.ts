export { EXPERIMENTS_VIEW, AssignmentKeySchema, VariantSchema, GuardrailsSchema, ExperimentSchema, ExperimentStatusSchema, assignVariant, assignmentValue, parseExperiment } from './model.js';
export type { AssignmentKey, Variant, Guardrails, Experiment } from './model.js';
export { VariantStats, report, wilson, proportions, means, normalCdf } from './stats.js';
export type { InvocationSample, VariantSnapshot, VariantReport, Estimate, Comparison } from './stats.js';
export { diffEffects, lines } from './diff.js';
export type { EffectDiff, EffectLists, ShadowSide } from './diff.js';
