import { join } from 'node:path';
import type { EventEnvelope } from '../../src/core/index.js';
import { newId } from '../../src/core/index.js';
import { ExecutionHost, createLocalModelGateway, createStoreHostServices, type ExecutionHostOptions } from '../../src/runtime/index.js';
import type { ModelGateway } from '../../src/runtime/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { EntityStore } from '../../src/store/port.js';
import { tempDir } from '../helpers.js';

/** A real SQLite store with tenants `acme` and `globex`, and an execution host over it. */
export interface RuntimeFixture {
  store: EntityStore;
  host: ExecutionHost;
  close(): Promise<void>;
}

/** A gateway whose `slow` model answers after `slowMs` (to overrun deadlines inside a host call). */
export function testGateway(slowMs = 2000): ModelGateway {
  const local = createLocalModelGateway();
  return {
    call: (ctx, req) => (req.model === 'slow' ? new Promise((resolve) => setTimeout(() => resolve({ slow: true }), slowMs)) : local.call(ctx, req)),
  };
}

/** Opens the fixture; close it in `afterAll`. */
export async function openRuntime(options: Partial<ExecutionHostOptions> = {}, { models = testGateway(), tenants = ['acme', 'globex'] }: { models?: ModelGateway; tenants?: string[] } = {}): Promise<RuntimeFixture> {
  const dir = tempDir('uee-runtime');
  const store = await openSqliteStore({ path: join(dir.path, 'store.db') });
  for (const t of tenants) await store.tenants.create(t);
  const host = await ExecutionHost.create({
    workers: 2,
    services: createStoreHostServices({ store, models }),
    ...options,
  });
  return {
    store,
    host,
    async close() {
      await host.close();
      await store.close();
      dir[Symbol.dispose]();
    },
  };
}

/** A `TaskCreated`-style event for `tenantId`. */
export function makeEvent(tenantId: string | null, overrides: Partial<EventEnvelope> = {}): EventEnvelope {
  const eventId = newId();
  return {
    eventId,
    type: 'TaskCreated',
    tenantId,
    payload: {},
    occurredAt: '2026-11-26T12:00:00.000Z',
    correlationId: eventId,
    causationId: null,
    hop: 0,
    source: { kind: 'api', id: 'user:test' },
    ...overrides,
  };
}

/**
 * A model gateway that counts calls per tenant (`calls`) and answers `{ tenant }` after
 * `delayOf(tenant)` ms (0: at once).
 */
export function countingGateway(delayOf: (tenant: string) => number): { gateway: ModelGateway; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const gateway: ModelGateway = {
    call: async (ctx) => {
      const tenant = ctx.tenantId ?? '';
      calls.set(tenant, (calls.get(tenant) ?? 0) + 1);
      const ms = delayOf(tenant);
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      return { tenant };
    },
  };
  return { gateway, calls };
}
