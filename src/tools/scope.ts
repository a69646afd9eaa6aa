import type { TenantContext } from '../core/index.js';
import { UeeError } from '../core/index.js';
import type { ToolContext } from './define-tool.js';

/** Label used in plans for the global scope. */
export const GLOBAL_LABEL = '(global)';

/**
 * Resolves the tenant scope of a call from the principal and the `tenantId` argument:
 * - a tenant principal acts on its own tenant; naming another (or `null`) is `TENANT_FORBIDDEN`, the same
 *   answer whether that tenant exists or not;
 * - an admin must name a registered tenant (`UNKNOWN_TENANT` otherwise) or pass `null` for the global scope.
 */
export async function resolveScope(ctx: ToolContext, tenantId: string | null | undefined): Promise<TenantContext> {
  const { principal } = ctx;
  if (principal.kind === 'tenant') {
    if (tenantId !== undefined && tenantId !== principal.tenantId) {
      throw new UeeError('TENANT_FORBIDDEN', `this token acts only on tenant "${principal.tenantId}"`, {
        hint: 'omit tenantId (your own tenant is used) or use a token of the other tenant',
      });
    }
    return { tenantId: principal.tenantId, actor: principal.id };
  }
  if (tenantId === undefined) {
    throw new UeeError('VALIDATION_FAILED', 'admin calls must name the tenant', {
      details: { issues: [{ path: 'tenantId', message: 'required for admin tokens' }] },
      hint: 'pass tenantId (see tenant_list), or tenantId: null for the global scope',
    });
  }
  if (tenantId === null) return { tenantId: null, actor: principal.id };
  await ctx.app.store.tenants.get(tenantId);
  return { tenantId, actor: principal.id };
}

/** A scope's tenant as shown in plans. */
export function scopeLabel(scope: TenantContext): string {
  return scope.tenantId ?? GLOBAL_LABEL;
}
