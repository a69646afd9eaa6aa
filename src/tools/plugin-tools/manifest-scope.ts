import { UeeError } from '../../core/index.js';
import type { ToolContext } from '../define-tool.js';

/**
 * What `tenantScope` defaults to, in one sentence: the manifest schema served as
 * `uee://schemas/plugin-manifest` and plugin_deploy say the same thing.
 */
export const TENANT_SCOPE_DEFAULT =
  '"tenant" when the deploy names a tenant (a tenant token\'s own tenant, plugin_deploy\'s tenantId or manifest.tenantId), else "global" (admin tokens only)';

/**
 * The manifest as plugin_deploy deploys it: the tenant of the call applied the one way every tool
 * takes it (`tenantId`: tenant tokens omit it or name their own tenant; admins name one, or null for a
 * global plugin), and `tenantScope` defaulted as {@link TENANT_SCOPE_DEFAULT} says. A manifest that
 * contradicts the call's tenant is refused rather than silently rewritten.
 */
export function scopeManifest(ctx: Pick<ToolContext, 'principal'>, manifest: Record<string, unknown>, tenantId: string | null | undefined): Record<string, unknown> {
  const p = ctx.principal;
  const declared = manifest.tenantId;
  if (p.kind === 'tenant') {
    if (tenantId !== undefined && tenantId !== p.tenantId) {
      throw new UeeError('TENANT_FORBIDDEN', `this token acts only on tenant "${p.tenantId}"`, { hint: 'omit tenantId (your own tenant is used)' });
    }
    const scope = manifest.tenantScope ?? 'tenant';
    if (scope === 'global') {
      throw new UeeError('TENANT_FORBIDDEN', 'a tenant token cannot deploy global plugins', {
        hint: `set "tenantScope": "tenant" (your tenant ${p.tenantId} is used) or ask an administrator`,
      });
    }
    if (declared !== undefined && declared !== p.tenantId) {
      throw new UeeError('TENANT_FORBIDDEN', `this token acts only on tenant "${p.tenantId}"`, { hint: 'omit manifest.tenantId (your tenant is used)' });
    }
    return { ...manifest, tenantScope: scope, tenantId: p.tenantId };
  }
  if (tenantId === undefined) {
    return declared === undefined || manifest.tenantScope !== undefined ? manifest : { ...manifest, tenantScope: 'tenant' };
  }
  if (declared !== undefined && declared !== tenantId) {
    throw new UeeError('VALIDATION_FAILED', `manifest.tenantId ${JSON.stringify(declared)} contradicts tenantId ${JSON.stringify(tenantId)}`, {
      details: { issues: [{ path: 'manifest.tenantId', message: 'differs from the tenantId argument' }] },
      hint: 'pass the tenant once: as the tenantId argument (null for a global plugin), and drop manifest.tenantId',
    });
  }
  if (tenantId === null) {
    if (manifest.tenantScope !== undefined && manifest.tenantScope !== 'global') {
      throw new UeeError('VALIDATION_FAILED', `tenantScope ${JSON.stringify(manifest.tenantScope)} needs a tenant, and tenantId is null (global)`, {
        details: { issues: [{ path: 'manifest.tenantScope', message: 'must be "global" with tenantId null' }] },
        hint: 'pass tenantId: "<tenant>" for a tenant plugin, or drop manifest.tenantScope for a global one',
      });
    }
    return { ...manifest, tenantScope: 'global' };
  }
  if (manifest.tenantScope === 'global') {
    throw new UeeError('VALIDATION_FAILED', `a global plugin cannot belong to tenant "${tenantId}"`, {
      details: { issues: [{ path: 'manifest.tenantScope', message: 'global with a tenantId' }] },
      hint: 'drop "tenantScope": "global" to deploy into the tenant, or pass tenantId: null for a global plugin',
    });
  }
  return { ...manifest, tenantScope: manifest.tenantScope ?? 'tenant', tenantId };
}
