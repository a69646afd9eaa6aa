import type { AuditQuery, AuditRecord, UsageGroup, UsageSummary } from './audit/port.js';
import type { DefaultModelGateway } from './gateway.js';
import type { GatewayCallResult, ModelInfo } from './port.js';
import type { CircuitState } from './resilience.js';

/**
 * Operator functions over a gateway, shaped for MCP tools (list models, a test call, usage): plain
 * JSON in and out, tenant-scoped, and free of provider secrets by construction.
 */

/** A model as listed to an operator: the public info plus its circuit state. */
export interface ModelListing extends ModelInfo {
  circuit: CircuitState;
}

/** The models `tenantId` can call, with the state of each provider circuit. */
export function listGatewayModels(gateway: DefaultModelGateway, tenantId: string | null): ModelListing[] {
  return gateway.listModels(tenantId).map((m) => ({ ...m, circuit: gateway.circuitState(m.name, tenantId) }));
}

/** Calls a model once as a test, under the tenant's quotas; recorded with `source: "admin"`. */
export function testModelCall(
  gateway: DefaultModelGateway,
  request: { tenantId: string | null; model: string; input: unknown; actor?: string },
): Promise<GatewayCallResult> {
  return gateway.call({ tenantId: request.tenantId, actor: request.actor ?? 'admin:test-call' }, { model: request.model, input: request.input, source: 'admin' });
}

/** Usage of a tenant (and optionally one plugin): totals from the audit log and the current quota windows. */
export async function gatewayUsage(
  gateway: DefaultModelGateway,
  query: { tenantId: string | null; pluginName?: string; since?: string; until?: string; by?: UsageGroup },
): Promise<{ summaries: UsageSummary[]; quota: Record<string, { used: number; limit: number }> }> {
  const filter: Omit<AuditQuery, 'limit'> = {
    tenantId: query.tenantId,
    ...(query.pluginName === undefined ? {} : { pluginName: query.pluginName }),
    ...(query.since === undefined ? {} : { since: query.since }),
    ...(query.until === undefined ? {} : { until: query.until }),
  };
  return {
    summaries: gateway.audit.summarize(query.by ?? (query.pluginName === undefined ? 'plugin' : 'model'), filter),
    quota: await gateway.policy.usage(query.tenantId, query.pluginName),
  };
}

/** Recent audit records of a tenant, newest first. */
export function recentCalls(gateway: DefaultModelGateway, query: AuditQuery): AuditRecord[] {
  return gateway.audit.query(query);
}
