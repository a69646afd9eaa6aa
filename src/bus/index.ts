export { DEFAULT_BUS_OPTIONS, queueLeaseName } from './port.js';
export type {
  BusOptions,
  ClaimOptions,
  DeadLetter,
  DeadLetterQuery,
  Delivery,
  EventBus,
  GroupInfo,
  GroupOptions,
  GroupStart,
  LeaseOptions,
  PendingEntry,
  PruneOptions,
  PublishOptions,
  PublishResult,
  QueueBacklog,
  ReadOptions,
  RouteItem,
  SignalHandlers,
  StreamEntry,
} from './port.js';
export { openEmbeddedBus } from './embedded/index.js';
export type { EmbeddedBusOptions } from './embedded/index.js';
export { openRedisBus } from './redis/index.js';
export type { RedisBusOptions } from './redis/index.js';
export { CORRUPT_EVENT_TYPE } from './shared/codec.js';
