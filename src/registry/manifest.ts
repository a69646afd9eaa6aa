import { z } from 'zod';
import { CAPABILITIES, EntityTypeIdSchema, EventTypeSchema, JsonObjectSchema, PLATFORM_EVENT_TYPES, RESERVED_PREFIX, TenantIdSchema, UeeError, isInternalEventType, isUeeError, reservedName } from '../core/index.js';
import { validateFilter, type FilterLimits } from '../store/filter.js';

/** A plugin name such as `DivFlo.TaskPrioritizer`. */
export const PluginNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'plugin names are 1-128 chars of letters, digits, "_", "." or "-", starting with a letter');

/** Per-event resource budget (seed §13 `maximumResourceBudget`). */
export const ResourceBudgetSchema = z
  .object({
    /** Wall-clock limit of one invocation, enforced by the watchdog. @default 1000 */
    timeoutMs: z.number().int().min(1).max(60_000).default(1000),
    /** Max linear memory in 64 KiB pages. @default 256 (16 MiB) */
    memoryPages: z.number().int().min(1).max(16_384).default(256),
    /** Max host calls per event. @default 1000 */
    hostCalls: z.number().int().min(0).max(1_000_000).default(1000),
    /** Max call_model calls per event. @default 10 */
    modelCalls: z.number().int().min(0).max(10_000).default(10),
    /** Max emitted events (incl. workflow spawns) per event. @default 100 */
    emits: z.number().int().min(0).max(100_000).default(100),
    /** Max JSON bytes of output plus buffered effects per event. @default 1 MiB */
    outputBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();
export type ResourceBudget = z.infer<typeof ResourceBudgetSchema>;

/** Optional narrowing of which events reach a plugin, beyond its event types. */
export const SubscriptionFilterSchema = z
  .object({
    /** Only events about these entity types. */
    entityTypes: z.array(EntityTypeIdSchema).max(64).optional(),
    /** A MongoDB-style filter evaluated against the event envelope (e.g. `{"payload.attributes.status": "Open"}`). */
    where: JsonObjectSchema.optional(),
  })
  .strict();

/** What a deployer declares about a plugin. Everything else about the plugin is derived. */
const PluginManifestBaseSchema = z
  .object({
    name: PluginNameSchema,
    kind: z.enum(['event', 'workflow', 'model']).default('event'),
    description: z.string().max(4000).optional(),
    /** Event types this plugin handles (event and workflow plugins). */
    subscribeTo: z.array(EventTypeSchema).max(128).default([]),
    filter: SubscriptionFilterSchema.optional(),
    /**
     * Event types this plugin may emit (`emit_event`), declared for planning only: deploy plans build
     * the subscribe→emit graph from it to warn about chains and cycles. Not enforced at run time.
     * Optional and additive: manifests without it are planned from a static scan of their sources.
     */
    emits: z.array(EventTypeSchema).max(128).optional(),
    capabilities: z.array(z.enum(CAPABILITIES)).max(CAPABILITIES.length).default([]),
    /**
     * `global`: every tenant's events; `tenant`: one tenant's; `user`: one owner's entities in one tenant.
     * The registry's default is `global`; plugin_deploy first applies the caller's tenant (see
     * TENANT_SCOPE_DEFAULT in src/tools/plugin-tools/manifest-scope.ts), and the schema agents read says so.
     */
    tenantScope: z.enum(['global', 'tenant', 'user']).default('global'),
    /** Required for `tenant` and `user` scope. */
    tenantId: TenantIdSchema.optional(),
    /** Required for `user` scope. */
    ownerId: z.string().min(1).max(256).optional(),
    /** When set, the plugin may read and write only these entity types. */
    restrictedEntityTypes: z.array(EntityTypeIdSchema).max(128).optional(),
    maximumResourceBudget: ResourceBudgetSchema.default(ResourceBudgetSchema.parse({})),
    /** Default settings; tenants override them per plugin. */
    settings: JsonObjectSchema.default({}),
    /** Models the plugin may call through `call_model`; all when omitted. */
    models: z.array(z.string().min(1).max(256)).max(128).optional(),
  })
  .strict();

/** What a deployer declares about a plugin, with the cross-field rules of scopes and kinds. */
export const PluginManifestSchema = PluginManifestBaseSchema.superRefine((m, ctx) => {
    if (m.tenantScope !== 'global' && m.tenantId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tenantId'], message: `tenantScope "${m.tenantScope}" needs a tenantId` });
    }
    if (m.tenantScope === 'user' && m.ownerId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['ownerId'], message: 'tenantScope "user" needs an ownerId' });
    }
    if (m.tenantScope === 'global' && m.tenantId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['tenantId'], message: 'a global plugin has no tenantId' });
    }
    if (m.kind !== 'model' && m.subscribeTo.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['subscribeTo'], message: `a ${m.kind} plugin must subscribe to at least one event type` });
    }
  });
export type PluginManifest = z.infer<typeof PluginManifestSchema>;
export type PluginManifestInput = z.input<typeof PluginManifestSchema>;

/** The attributes of a `uee.plugin` entity: the manifest plus what deploy derived. */
export const PluginAttributesSchema = PluginManifestBaseSchema.extend({
  /** 1, 2, 3… per plugin name within its scope. */
  pluginVersion: z.number().int().positive(),
  status: z.enum(['enabled', 'disabled']),
  language: z.string().max(64),
  source: z.object({ language: z.string(), files: z.record(z.string(), z.string()) }).optional(),
  binary: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().positive() }),
  exports: z.array(z.string()),
  imports: z.array(z.string()),
  deployedAt: z.string(),
});
export type PluginAttributes = z.infer<typeof PluginAttributesSchema>;

/** Entity type of plugin entities. */
export const PLUGIN_ENTITY_TYPE = 'uee.plugin';

/**
 * Throws `RESERVED_NAME` for a subscription to a platform-internal event type (the `uee.` namespace):
 * the router hands such events to no plugin (see `isInternalEventType`), so the subscription could
 * never fire — refused at deploy instead of accepted and silently dead.
 */
export function checkManifestSubscriptions(manifest: Pick<PluginManifest, 'subscribeTo'>): void {
  const internal = manifest.subscribeTo.find((type) => isInternalEventType(type));
  if (internal === undefined) return;
  throw reservedName(
    'event type',
    internal,
    `${RESERVED_PREFIX}* events are the platform's own bookkeeping and reach no plugin; subscribe to your own event types or to the platform's facts (${[...PLATFORM_EVENT_TYPES].slice(0, 6).join(', ')}, …)`,
  );
}

/**
 * Throws `INVALID_FILTER` (details.path `filter.where…`) unless the manifest's subscription filter
 * passes the one filter validator every query path uses — so a filter that could not be evaluated
 * in bounded time is refused before it is stored, not discovered per event by the router.
 */
export function checkManifestFilter(manifest: Pick<PluginManifest, 'filter'>, limits?: Partial<FilterLimits>): void {
  const where = manifest.filter?.where;
  if (where === undefined) return;
  try {
    validateFilter(where, limits);
  } catch (err) {
    if (!isUeeError(err)) throw err;
    const path = typeof err.details.path === 'string' ? err.details.path.replace('(filter)', 'filter.where') : 'filter.where';
    throw new UeeError(err.code, `manifest filter.where: ${err.message}`, {
      details: { ...err.details, path, setting: 'filter.where' },
      ...(err.hint === undefined ? {} : { hint: err.hint }),
      cause: err,
    });
  }
}

/** The `maximumResourceBudget` fields a manifest can set. */
export const RESOURCE_BUDGET_FIELDS: readonly string[] = Object.keys(ResourceBudgetSchema.shape);

/**
 * The hint for a `BUDGET_EXCEEDED` on `limit`: raise `maximumResourceBudget.<limit>` when the
 * manifest can set it; otherwise say the limit is fixed by the platform (never a setting that does
 * not exist).
 */
export function budgetHint(limit: unknown, pluginName?: string): string {
  const of = pluginName === undefined ? '' : ` of ${pluginName}`;
  if (typeof limit === 'string' && RESOURCE_BUDGET_FIELDS.includes(limit)) {
    return `raise maximumResourceBudget.${limit} in the manifest${of}, or do less per event`;
  }
  const name = typeof limit === 'string' ? limit : 'this limit';
  return `${name} is fixed by the platform, not a manifest setting: do less per event (fewer or smaller allocations, host calls or outputs)`;
}
