import { z } from 'zod';
import { UeeError } from '../core/index.js';
import { defineTool, DryRunArg, JsonObjectArg, PlanSchema, resolveScope, TenantArg, text, type ToolDefinition } from '../tools/index.js';
import { PROPOSAL_STATUSES, type Proposal } from './schemas.js';
import type { ReviewService } from './service.js';

const ProposalIdArg = z.string().max(80).regex(/^pr:[^:]+:[0-9a-f]{12}$/, 'a proposal id, e.g. pr:acme:0123456789ab');

const ProposalOut = z.object({
  id: z.string(),
  tenantId: z.string().nullable(),
  status: z.enum(PROPOSAL_STATUSES),
  tool: z.string(),
  target: z.string(),
  reason: z.string(),
  rationale: z.string(),
  revision: z.number().int(),
  proposedBy: z.string(),
  proposedAt: z.string(),
  updatedAt: z.string(),
  approvals: z.object({ given: z.number().int(), needed: z.number().int() }),
  capabilitiesAdded: z.array(z.string()),
  comments: z.array(z.object({ by: z.string(), at: z.string(), action: z.string(), text: z.string() })).describe('Review comments, oldest first'),
  outcome: z.object({ at: z.string(), by: z.string(), ok: z.boolean(), summary: z.string() }).nullable(),
  plan: PlanSchema.optional(),
  arguments: z.record(z.string(), z.unknown()).optional(),
  bundle: z.record(z.string(), z.unknown()).optional(),
});

function out(p: Proposal, full: boolean): z.input<typeof ProposalOut> {
  return {
    id: p.id,
    tenantId: p.tenantId,
    status: p.status,
    tool: p.tool,
    target: p.target,
    reason: p.reason,
    rationale: p.rationale,
    revision: p.revision,
    proposedBy: p.proposedBy.id,
    proposedAt: p.proposedAt,
    updatedAt: p.updatedAt,
    approvals: { given: p.approvals.length, needed: p.approvalsNeeded },
    capabilitiesAdded: p.capabilitiesAdded,
    comments: p.comments,
    outcome: p.outcome,
    ...(full ? { plan: p.plan, arguments: p.arguments, bundle: p.bundle } : {}),
  };
}

/** The agents' side of review: list proposals with their comments, and revise, rebase or withdraw them. */
export function reviewTools(review: ReviewService): ToolDefinition[] {
  const list = defineTool({
    name: 'proposal_list',
    title: 'List change proposals',
    description: 'Changes held for human review (applied: false with `proposal`).',
    input: z.strictObject({ id: ProposalIdArg.optional(), status: z.enum(PROPOSAL_STATUSES).optional(), tenantId: TenantArg }),
    output: z.object({ proposals: z.array(ProposalOut) }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    async run(ctx, args) {
      if (args.id !== undefined) return { proposals: [out(await review.get(ctx.principal, args.id), true)] };
      const found = await review.list(ctx.principal, { status: args.status, tenantId: args.tenantId, limit: 100 });
      return { proposals: found.map((p) => out(p, false)) };
    },
    summarize: (o) => o.proposals.map((p) => `${p.id} ${p.status} ${p.tool} ${p.target} (${p.approvals.given}/${p.approvals.needed})`).join('\n') || 'no proposals',
  });
  const revise = defineTool({
    name: 'proposal_revise',
    title: 'Revise a change proposal',
    description: 'Revises (arguments, rationale; approvals reset) or withdraws a pending proposal.',
    input: z.strictObject({
      tenantId: TenantArg,
      id: ProposalIdArg,
      arguments: JsonObjectArg.optional(),
      rationale: text(4000).optional(),
      comment: text(4000).optional(),
      withdraw: z.boolean().optional(),
      dryRun: DryRunArg,
    }),
    output: z.object({ dryRun: z.boolean(), proposal: ProposalOut }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    async run(ctx, args) {
      const { tenantId, ...change } = args;
      if (tenantId !== undefined) {
        // The one way every tool takes a tenant: a proposal of another scope is as absent as a missing one.
        if (ctx.principal.kind === 'tenant') await resolveScope(ctx, tenantId);
        const current = await review.get(ctx.principal, args.id);
        if (current.tenantId !== tenantId) throw new UeeError('NOT_FOUND', `proposal ${args.id} not found in ${tenantId ?? 'the global scope'}`, { hint: 'call proposal_list with the same tenantId' });
      }
      const p = await review.revise(ctx.principal, args.id, change);
      return { dryRun: args.dryRun, proposal: out(p, true) };
    },
    summarize: (o) => `${o.dryRun ? 'dry run: ' : ''}${o.proposal.id} is ${o.proposal.status} (revision ${o.proposal.revision}): ${o.proposal.plan?.summary ?? ''}`,
  });
  return [list, revise];
}
