/** Invocation records as the router writes them for a no-op plugin's delivery, for `bench/records` and `bench/records-write`. */
import { newId } from '../src/core/ids.js';
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

/**
 * Records of no-op deliveries as a router writes them, `tenants` tenants in turn, about 20,000
 * entities drawn so each entity's records land mid-index (a real tenant's events name existing
 * entities): `next(tenants)` gives the next one.
 */
export function noopRecords(): { next: (tenants: number) => InvocationRecord } {
  const entities = Array.from({ length: 20_000 }, () => newId());
  let drawn = 0;
  return {
    next: (tenants) => {
      const i = drawn++;
      const now = Date.now();
      return noopRecord({ recordId: newId(now), eventId: newId(now), tenantId: `tenant-${i % tenants}`, at: new Date(now).toISOString(), entityId: entities[(i * 7919) % entities.length]! });
    },
  };
}
