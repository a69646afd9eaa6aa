export { UeeApp } from './app.js';
export type { AppState, AppStatus, UeeAppOptions } from './app.js';
export { OutboxRelay } from './outbox-relay.js';
export type { OutboxRelayOptions, RelayState } from './outbox-relay.js';
export { openStore, openBus } from './backends.js';
export { TimerService } from './timer-service.js';
export type { TimerRound, TimerServiceOptions, TimerServiceState } from './timer-service.js';
export { InvocationRecords, RECORDS_FLUSH_SPACING_MS, RECORDS_TENANT_FLUSH_MS } from './invocation-records.js';
export type { InvocationRecordsOptions } from './invocation-records.js';
