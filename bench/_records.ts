/** Invocation records as the router writes them for a no-op plugin's delivery, for `bench/records` and `bench/records-write`. */
import type { InvocationRecord } from '../src/store/invocations.js';

/** One no-op delivery's record with the given ids, tenant and time (prepared: record id set, within the caps). */
export function noopRecord(ids: { recordId: string; eventId: string; tenantId: string; at: string; entityId: string; correlationId?: string }): InvocationRecord {
  return {
    recordId: ids.recordId,
    tenantId: ids.tenantId,
    at: ids.at,
    event: { eventId: ids.eventId, type: 'TaskCreated', correlationId: ids.correlationId ?? ids.eventId, causationId: null, hop: 0, entityId: ids.entityId, entityTypeId: 'Task' },
    plugin: { id: '0195f3d0-aaaa-7000-8000-000000000000', name: 'Bench.Noop', version: 1 },
    attempt: 1,
    trigger: 'router',
    outcome: 'ok',
    durationMs: 0.12,
    usage: { hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 2 },
    effects: { committed: false, writes: [], events: [], readModelOps: 0, timers: 0, omitted: 0 },
    models: [],
  };
}
