import { z } from 'zod';
import { CAPABILITIES, UeeError } from '../../core/index.js';
import type { PluginRecord } from '../../registry/index.js';
import type { ToolContext } from '../define-tool.js';
import { EventTypeArg, PluginNameArg, TenantArg, isPathLike } from '../schemas.js';
import { GLOBAL_LABEL } from '../scope.js';
import { announceRoutingChange, type RoutingChange } from '../../router/index.js';

/** A content address of a compiled module (hex sha256), as `plugin_compile` returns it. */
export const ArtifactArg = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'an artifact is the 64-hex-digit sha256 plugin_compile returned')
  .describe('From plugin_compile');

/** A plugin version id (the id of its `uee.plugin` entity). */
export const PluginIdArg = z
  .string()
  .min(1)
  .max(128)
  .refine((v) => !isPathLike(v), 'pluginId must not look like a path')
  ;

/** A capability name. */
export const CapabilityArg = z.enum(CAPABILITIES);

/** Source languages the tools compile. `ts` covers JavaScript too. */
export const LanguageArg = z.enum(['ts', 'js', 'assemblyscript', 'rust', 'c', 'wat']);
/** A {@link LanguageArg} value. */
export type SourceLanguageArg = z.infer<typeof LanguageArg>;

const FileNameArg = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/, 'file names are relative paths of letters, digits, "_", "-", "." and "/"')
  .refine((v) => !v.includes('..') && !v.includes('//'), 'file names must not contain ".." or "//"');

/** Source files by relative path (at most 64 files, 1 MiB in all is checked by the compiler). */
export const SourceFilesArg = z
  .record(FileNameArg, z.string().max(1_048_576))
  .refine((files) => Object.keys(files).length >= 1 && Object.keys(files).length <= 64, '1 to 64 source files')
  .describe('Files by path, e.g. {"main.ts": "…"}');

/** Sources to compile: language, files and entry file. */
export const SourcesArg = z.strictObject({
  language: LanguageArg,
  files: SourceFilesArg,
  entry: FileNameArg.optional().describe('Default main.ts/main.wat or the only file'),
  dependencies: z
    .record(z.string().max(214), z.string().max(64))
    .optional()
    .describe('ts/js only: pure-JS npm packages the sources import, name → semver range, e.g. { "ms": "^2.1.3", "dayjs": "^1.11.0" }; resolved from the registry and bundled (no install scripts, native code or Node built-ins)'),
});
/** A {@link SourcesArg} value. */
export type Sources = z.infer<typeof SourcesArg>;

/** Which deployed version a tool acts on: an id, or a name with an optional version. */
export const PluginRefArgs = {
  pluginId: PluginIdArg.optional(),
  name: PluginNameArg.optional(),
  version: z.number().int().positive().max(1_000_000).optional(),
};

/** The wire shape of a deployed plugin version. */
export const PluginOut = z.object({
  pluginId: z.string(),
  name: z.string(),
  version: z.number().int(),
  status: z.enum(['enabled', 'disabled']),
  kind: z.enum(['event', 'workflow', 'model']),
  tenantId: z.string().nullable().describe('null for a global plugin'),
  tenantScope: z.enum(['global', 'tenant', 'user']),
  language: z.string(),
  description: z.string().optional(),
  subscribeTo: z.array(z.string()),
  emits: z.array(z.string()).optional(),
  capabilities: z.array(z.string()),
  binary: z.object({ sha256: z.string(), size: z.number().int() }),
  hasSource: z.boolean(),
  deployedAt: z.string(),
}).meta({ id: 'PluginVersion' });
/** A {@link PluginOut} value. */
export type PluginSummary = z.infer<typeof PluginOut>;

/** A plugin record as {@link PluginOut}. */
export function summarize(p: PluginRecord): PluginSummary {
  const a = p.attributes;
  return {
    pluginId: p.id,
    name: a.name,
    version: a.pluginVersion,
    status: a.status,
    kind: a.kind,
    tenantId: p.tenantId,
    tenantScope: a.tenantScope,
    language: a.language,
    ...(a.description === undefined ? {} : { description: a.description }),
    subscribeTo: a.subscribeTo,
    ...(a.emits === undefined ? {} : { emits: a.emits }),
    capabilities: a.capabilities,
    binary: a.binary,
    hasSource: a.source !== undefined,
    deployedAt: a.deployedAt,
  };
}

/** Every plugin version the principal may see: all for admins; its tenant's and global ones for a tenant. */
export async function visiblePlugins(ctx: ToolContext): Promise<PluginRecord[]> {
  const { principal, app } = ctx;
  if (principal.kind === 'admin') return app.registry.listAll();
  const all = await app.registry.list({ tenantId: principal.tenantId, actor: principal.id });
  return all.filter((p) => p.tenantId === null || p.tenantId === principal.tenantId);
}

/** Whether the principal may change (enable, disable, roll back) a plugin's versions. */
export function mayChange(ctx: ToolContext, plugin: PluginRecord): boolean {
  const p = ctx.principal;
  return p.kind === 'admin' || plugin.tenantId === p.tenantId;
}

/** Throws TENANT_FORBIDDEN unless {@link mayChange}. */
export function assertMayChange(ctx: ToolContext, plugin: PluginRecord): void {
  if (!mayChange(ctx, plugin)) {
    throw new UeeError('TENANT_FORBIDDEN', `plugin ${plugin.attributes.name} is global; only an administrator can change it`, {
      details: { plugin: plugin.attributes.name, pluginId: plugin.id },
      hint: 'pin a version for your tenant instead (plugin_configure action "pin"), or deploy your own tenant-scoped plugin',
    });
  }
}

/**
 * Resolves `{ pluginId }` or `{ name, version? }` to one visible version. A foreign or unknown id
 * answers NOT_FOUND; a name present in several scopes needs `scope` (admins) to pick one.
 */
export async function resolvePlugin(
  ctx: ToolContext,
  ref: { pluginId?: string | undefined; name?: string | undefined; version?: number | undefined },
  scope?: string | null,
): Promise<PluginRecord> {
  const visible = await visiblePlugins(ctx);
  if (ref.pluginId !== undefined) {
    const found = visible.find((p) => p.id === ref.pluginId);
    if (!found) throw notFound(`plugin version ${ref.pluginId} not found`);
    return found;
  }
  if (ref.name === undefined) {
    throw new UeeError('VALIDATION_FAILED', 'name a plugin: pass pluginId, or name (and optionally version)', {
      details: { issues: [{ path: 'pluginId', message: 'pluginId or name is required' }] },
      hint: 'call plugin_list to see the deployed plugins',
    });
  }
  const versions = candidates(ctx, visible, ref.name, scope);
  const chosen = ref.version === undefined ? versions[0] : versions.find((p) => p.attributes.pluginVersion === ref.version);
  if (!chosen) throw notFound(`plugin ${ref.name}${ref.version === undefined ? '' : ` version ${ref.version}`} not found`);
  return chosen;
}

/**
 * Every visible version of a name in one scope, newest first. A tenant's (its own, else the global
 * one) and an admin's in a given scope are read by name ({@link PluginRegistry.versions}: by id), so
 * a call costs that plugin's versions, not every version of every plugin the scope holds (all read
 * with their sources, on an embedded store's main thread); an admin naming no scope is answered from
 * every scope's plugins (the name may be in several).
 */
export async function versionsOf(ctx: ToolContext, name: string, scope?: string | null): Promise<PluginRecord[]> {
  const { principal, app } = ctx;
  const inScope = (tenantId: string | null): Promise<PluginRecord[]> => app.registry.versions({ tenantId, actor: principal.id }, name);
  if (principal.kind === 'tenant') {
    const own = await inScope(principal.tenantId);
    return own.length > 0 ? own : inScope(null);
  }
  if (scope !== undefined) {
    // An admin acting on a tenant still sees the global plugin of that name.
    const found = await inScope(scope);
    return found.length > 0 || scope === null ? found : inScope(null);
  }
  return candidates(ctx, await visiblePlugins(ctx), name, scope);
}

function candidates(ctx: ToolContext, visible: PluginRecord[], name: string, scope: string | null | undefined): PluginRecord[] {
  let list = visible.filter((p) => p.attributes.name === name);
  if (scope !== undefined && ctx.principal.kind === 'admin') {
    const inScope = list.filter((p) => p.tenantId === scope);
    // An admin acting on a tenant still sees the global plugin of that name.
    list = inScope.length > 0 || scope === null ? inScope : list.filter((p) => p.tenantId === null);
  } else if (ctx.principal.kind === 'tenant') {
    const tenantId = ctx.principal.tenantId;
    const own = list.filter((p) => p.tenantId === tenantId);
    if (own.length > 0) list = own;
  }
  const scopes = new Set(list.map((p) => p.tenantId));
  if (scopes.size > 1) {
    throw new UeeError('VALIDATION_FAILED', `plugin name ${name} exists in several scopes: ${[...scopes].map((s) => s ?? GLOBAL_LABEL).join(', ')}`, {
      details: { issues: [{ path: 'tenantId', message: 'ambiguous plugin name' }] },
      hint: 'pass pluginId, or tenantId (null for the global plugin) to pick the scope',
    });
  }
  return list.sort((a, b) => b.attributes.pluginVersion - a.attributes.pluginVersion);
}

/** NOT_FOUND with the standard hint for plugins. */
export function notFound(message: string): UeeError {
  return new UeeError('NOT_FOUND', message, { hint: 'call plugin_list to see the plugins and versions visible to this token' });
}

/** The tenant argument of plugin tools that may also run in the global scope. */
export { TenantArg, EventTypeArg };

/** Throws CANCELLED when the client cancelled the call. */
export function checkCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new UeeError('CANCELLED', 'the call was cancelled', { hint: 'call again if the result is still needed' });
}

/** Runs `work`, rejecting with CANCELLED as soon as `signal` aborts (the work itself is abandoned). */
export async function cancellable<T>(signal: AbortSignal, work: Promise<T>, onCancel?: () => void): Promise<T> {
  checkCancelled(signal);
  let off: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      onCancel?.();
      reject(new UeeError('CANCELLED', 'the call was cancelled', { hint: 'call again if the result is still needed' }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    off = () => signal.removeEventListener('abort', onAbort);
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    off?.();
    work.catch(() => undefined);
  }
}

/**
 * After a change routing depends on (deploy, status, pin, experiment) of the plugins `names` in
 * `tenantId`'s scope: this process's router reads just those again ({@link Router.applyChange}) and
 * announces the change, so every other process applies just it too (a process that misses the
 * announcement reloads its table at its next checks); a front end with the runtime off only
 * announces it.
 */
export async function routingChanged(ctx: ToolContext, change: RoutingChange): Promise<void> {
  const router = ctx.app.runtime?.router;
  if (router === undefined) await announceRoutingChange(ctx.app.bus, FRONT_END, [change]);
  else await router.applyChange(change);
}

/** Who a front end's announcements come from (no router takes them for its own). */
const FRONT_END = 'front-end';
