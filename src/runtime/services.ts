import { createHash } from 'node:crypto';
import type { EntityVersion, JsonObject, Sort, TenantContext } from '../core/index.js';
import type { EntityStore } from '../store/port.js';

/** One `call_model` request as the gateway sees it. */
export interface ModelCallRequest {
  model: string;
  input: unknown;
  plugin: { id: string; name: string; version: string };
  eventId: string;
  /** The plugin's manifest `models` allow-list (absent: every model); the gateway checks it again. */
  allowedModels?: readonly string[];
  /** Told the call's cost once served (summed per invocation for experiment reports). */
  onCost?: (cost: number) => void;
}

/**
 * The model-gateway port: the only way out of the sandbox. It holds provider keys (plugins never
 * see them), and answers JSON. The full gateway is its own component; the runtime needs only this.
 */
export interface ModelGateway {
  call(ctx: TenantContext, request: ModelCallRequest): Promise<unknown>;
}

/**
 * A deterministic local model provider for tests and offline use: the same (model, input) always
 * answers the same output. `responders` override the default answer per model name.
 */
export function createLocalModelGateway(
  responders: Record<string, (input: unknown, request: ModelCallRequest) => unknown> = {},
): ModelGateway {
  return {
    call(_ctx, request) {
      const custom = responders[request.model];
      if (custom !== undefined) return Promise.resolve(custom(request.input, request));
      const digest = createHash('sha256').update(`${request.model}\n${JSON.stringify(request.input) ?? ''}`).digest();
      return Promise.resolve({ model: request.model, digest: digest.subarray(0, 8).toString('hex'), score: digest.readUInt32BE(0) / 2 ** 32 });
    },
  };
}

/** A read-model query as `query_read_model` asks it. */
export interface ReadModelQuery {
  filter?: JsonObject;
  sort?: Sort;
  limit?: number;
}

/**
 * What the host functions need from the rest of the system, answered in the main thread. Every
 * method runs in the plugin's tenant context; tenant isolation is the services' job (the store
 * enforces it), capability, type restrictions and budgets are the host's.
 */
export interface HostServices {
  /** The entity version, or `null` when absent or not visible to the context. */
  readEntity(ctx: TenantContext, entityId: string, version?: number): Promise<EntityVersion | null>;
  queryReadModel(ctx: TenantContext, view: string, query: ReadModelQuery): Promise<Array<{ id: string; doc: JsonObject }>>;
  getTenantConfig(ctx: TenantContext, pluginName: string): Promise<{ tenant: JsonObject; plugin: JsonObject }>;
  /** Whether `view` names a declarative projection (maintained by the platform only: plugins may not write it). */
  isProjection?(ctx: TenantContext, view: string): Promise<boolean>;
  callModel(ctx: TenantContext, request: ModelCallRequest): Promise<unknown>;
}

/** {@link HostServices} backed by an {@link EntityStore} and a {@link ModelGateway}. */
export function createStoreHostServices(options: {
  store: EntityStore;
  models: ModelGateway;
  /** Sends a view name to the view holding its documents (a projection's active version); null: nothing to read yet. */
  resolveView?: (ctx: TenantContext, view: string) => Promise<string | null>;
}): HostServices {
  const { store, models, resolveView } = options;
  return {
    // A miss is a common answer (a plugin checking whether it wrote something yet): no error built for it.
    readEntity: (ctx, entityId, version) => store.find(ctx, entityId, version === undefined ? undefined : { version }),
    async queryReadModel(ctx, name, query) {
      const view = resolveView === undefined ? name : await resolveView(ctx, name);
      if (view === null) return [];
      const page = await store.readModels.query(ctx, view, {
        ...(query.filter === undefined ? {} : { filter: query.filter }),
        ...(query.sort === undefined ? {} : { sort: query.sort }),
        ...(query.limit === undefined ? {} : { limit: query.limit }),
      });
      return page.items.map((d) => ({ id: d.id, doc: d.doc }));
    },
    async getTenantConfig(ctx, pluginName) {
      const [tenant, plugin] = await Promise.all([
        ctx.tenantId === null ? Promise.resolve({}) : store.config.getTenant(ctx),
        store.config.getPlugin(ctx, pluginName),
      ]);
      return { tenant, plugin };
    },
    callModel: (ctx, request) => models.call(ctx, request),
    isProjection: async (ctx, view) => resolveView !== undefined && (await resolveView(ctx, view)) !== view,
  };
}
