export {
  ActionSchema,
  DefinitionInputSchema,
  mermaid,
  normaliseDefinition,
  spawnsOf,
  transitionEventType,
  transitionEvents,
  validateDefinition,
} from './definition.js';
export type { DefinitionInput, WorkflowAction, WorkflowDefinition } from './definition.js';
export {
  MAX_INLINE_HISTORY,
  WORKFLOW_DEFINITION_TYPE,
  WORKFLOW_EVENT_TYPES,
  WORKFLOW_INSTANCE_TYPE,
  WORKFLOW_MODEL_CALL_EVENT,
  WORKFLOW_QUEUE,
  WORKFLOW_TIMER_EVENT,
  WORKFLOW_TIMER_OWNER,
  WORKFLOW_VIEW,
  WorkflowService,
} from './service.js';
export type { HistoryEntry, InstanceAttributes, TransitionCause, WorkflowInstance, WorkflowModelCaller, WorkflowServiceOptions } from './service.js';
