export { PROJECTION_LIMITS, PROJECTION_FILTER_LIMITS, ProjectionDefinitionSchema, applyEvent, compileProjection, keyOf } from './definition.js';
export type { CompiledProjection, ProjectionDefinition } from './definition.js';
export { CHECKPOINTS_VIEW, PROJECTIONS_VIEW, ProjectionService, STEPS_PER_TENANT_ROUND, parseVersionView, versionView } from './service.js';
export type { ProjectionError, ProjectionServiceOptions, ProjectionState, RebuildProgress } from './service.js';
