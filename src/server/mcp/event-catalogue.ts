import type { EventEnvelope, Logger, Principal, TenantContext } from '../../core/index.js';
import { ENTITY_LIFECYCLE_TYPES, isUeeError, toUeeError } from '../../core/index.js';
import type { UeeApp } from '../../app/index.js';

/** Consumer group through which the catalogue sees every event on the bus. */
export const CATALOGUE_GROUP = 'uee.mcp.event-catalogue';
/** Read-model view (per tenant, and global) holding one document per event type seen. */
export const CATALOGUE_VIEW = 'uee.mcp.eventTypes';

/** One event type as seen on the bus, within one tenant (or the global scope). */
export interface EventTypeEntry {
  type: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  entityTypes: string[];
  payloadKeys: string[];
  sources: string[];
}

const BUILT_IN = [...ENTITY_LIFECYCLE_TYPES];
const MAX_LIST = 32;
const MAX_PER_REFRESH = 5000;

/**
 * The event-type catalogue: reads the bus through its own consumer group and keeps, per tenant, one
 * read-model document per event type (count, first/last seen, entity types, payload keys). Stored in
 * the tenant's own scope, so a tenant principal sees only what happened in its tenant, and several
 * processes sharing a store build one catalogue.
 */
export class EventCatalogue {
  #refreshing: Promise<void> | undefined;
  readonly #consumer = `mcp-${process.pid}`;

  constructor(
    private readonly app: UeeApp,
    private readonly logger: Logger,
  ) {}

  /** Folds new bus entries into the catalogue (bounded per call; concurrent callers share one refresh). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const { bus } = this.app;
    // Read on demand only: best-effort, so it never holds the stream's retention back.
    await bus.ensureGroup(CATALOGUE_GROUP, 'earliest', { retention: 'advisory' });
    for (let seen = 0; seen < MAX_PER_REFRESH; ) {
      const deliveries = await bus.read(CATALOGUE_GROUP, this.#consumer, { count: 500 });
      if (deliveries.length === 0) return;
      seen += deliveries.length;
      const byScope = new Map<string | null, EventEnvelope[]>();
      for (const d of deliveries) {
        const list = byScope.get(d.event.tenantId) ?? [];
        list.push(d.event);
        byScope.set(d.event.tenantId, list);
      }
      for (const [tenantId, events] of byScope) {
        try {
          await this.#fold({ tenantId, actor: 'system:mcp-catalogue' }, events);
        } catch (err) {
          // A tenant deleted meanwhile, or a store hiccup: the catalogue is advisory, keep going.
          this.logger.warn('event catalogue could not record events', { tenantId, error: toUeeError(err).message });
        }
      }
      await bus.ack(CATALOGUE_GROUP, deliveries.map((d) => d.id));
    }
  }

  async #fold(scope: TenantContext, events: EventEnvelope[]): Promise<void> {
    const byType = new Map<string, EventEnvelope[]>();
    for (const e of events) byType.set(e.type, [...(byType.get(e.type) ?? []), e]);
    for (const [type, list] of byType) {
      let entry: EventTypeEntry | undefined;
      try {
        entry = (await this.app.store.readModels.get(scope, CATALOGUE_VIEW, type)).doc as unknown as EventTypeEntry;
      } catch (err) {
        if (!isUeeError(err, 'NOT_FOUND')) throw err;
      }
      const next: EventTypeEntry = entry ?? { type, count: 0, firstSeen: list[0]!.occurredAt, lastSeen: list[0]!.occurredAt, entityTypes: [], payloadKeys: [], sources: [] };
      for (const e of list) {
        next.count++;
        if (e.occurredAt > next.lastSeen) next.lastSeen = e.occurredAt;
        if (e.occurredAt < next.firstSeen) next.firstSeen = e.occurredAt;
        addCapped(next.entityTypes, e.entityTypeId);
        for (const key of Object.keys(e.payload)) addCapped(next.payloadKeys, key);
        addCapped(next.sources, e.source.kind);
      }
      await this.app.store.readModels.upsert(scope, CATALOGUE_VIEW, type, next as unknown as Record<string, unknown>);
    }
  }

  /** The catalogue as a principal may see it: its tenant's types, or (admin) every tenant's. */
  async list(principal: Principal): Promise<{
    builtIn: string[];
    tenants: Array<{ tenantId: string | null; eventTypes: EventTypeEntry[]; workflowEvents: Array<{ workflow: string; version: number; eventTypes: string[] }> }>;
  }> {
    try {
      await this.refresh();
    } catch (err) {
      this.logger.warn('event catalogue refresh failed; serving what is stored', { error: toUeeError(err).message });
    }
    const scopes: Array<string | null> =
      principal.kind === 'tenant' ? [principal.tenantId] : [null, ...(await this.app.store.tenants.list()).slice(0, 200).map((t) => t.tenantId)];
    const tenants = [];
    for (const tenantId of scopes) {
      const page = await this.app.store.readModels.query({ tenantId, actor: principal.id }, CATALOGUE_VIEW, { limit: 1000 });
      const eventTypes = page.items.map((d) => d.doc as unknown as EventTypeEntry);
      // Declared workflows' transition events, subscribable before any instance has taken them.
      const workflowEvents = (await this.app.workflows.listDefinitions({ tenantId, actor: principal.id })).map((d) => ({ workflow: d.name, version: d.version, eventTypes: d.transitionEvents }));
      if (eventTypes.length > 0 || workflowEvents.length > 0 || principal.kind === 'tenant') tenants.push({ tenantId, eventTypes, workflowEvents });
    }
    return { builtIn: BUILT_IN, tenants };
  }
}

function addCapped(list: string[], value: string | undefined): void {
  if (value !== undefined && list.length < MAX_LIST && !list.includes(value)) list.push(value);
}
