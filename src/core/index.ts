export { ERROR_CODES, NOT_WANTED, UeeError, isUeeError, toUeeError } from './errors.js';
export type { ErrorCode, SerializedError, UeeErrorOptions } from './errors.js';
export { newId, idTimestamp, isId, eventSeed } from './ids.js';
export {
  TenantIdSchema,
  EntityIdSchema,
  EntityTypeIdSchema,
  EventTypeSchema,
  JsonObjectSchema,
  isJsonObject,
  PrincipalSchema,
  EntityVersionSchema,
  EntityWriteSchema,
  EventSourceSchema,
  ExperimentTagSchema,
  EventEnvelopeSchema,
  isEntityVersion,
  isEventEnvelope,
  EventDraftSchema,
  ReadModelOpSchema,
  SortSchema,
} from './schemas.js';
export type {
  TenantId,
  JsonObject,
  Principal,
  TenantContext,
  EntityVersion,
  EntityWrite,
  EventSource,
  EventEnvelope,
  EventDraft,
  Causation,
  ReadModelOp,
  Sort,
  Page,
} from './schemas.js';
export {
  RESERVED_PREFIX,
  PLATFORM_EVENT_TYPES,
  assertMayWriteReserved,
  isReservedEntityType,
  isReservedEventType,
  isInternalEvent,
  ENTITY_LIFECYCLE_TYPES,
  isInternalEventType,
  isReservedView,
  reservedName,
  WORKFLOW_DEFINITION_TYPE,
  WORKFLOW_NAME_PATTERN,
  workflowDefinitionId,
  workflowNamespaceOf,
} from './reserved.js';
export type { ReservedCheckBatch } from './reserved.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
export { parseOrThrow, jsonBytes } from './validate.js';
export {
  CAPABILITIES,
  HOST_NAMESPACE,
  HOST_FUNCTIONS,
  HOST_FUNCTION_CAPABILITY,
  grantedHostFunctions,
  isHostFunction,
  requiredCapabilities,
} from './capabilities.js';
export type { Capability, HostFunctionName } from './capabilities.js';
export { PrincipalPool, PrincipalRateLimiter, principalKey } from './principal-limits.js';
export type { NamedLimit, PoolHold, PrincipalPoolOptions, PrincipalRateOptions } from './principal-limits.js';
export { hash32 } from './hash.js';
export { Doorbell } from './doorbell.js';
export { envelopeText, isDecodedEnvelope, rememberEnvelopeText } from './envelope-text.js';
