import { z } from 'zod';
import { PrincipalSchema } from '../core/index.js';
import { PlanSchema, type ReviewCost, type ReviewSimulation } from '../tools/index.js';

/** Entity type of change proposals (platform data: tenants cannot write it through any API). */
export const PROPOSAL_TYPE = 'uee.proposal';
/** Read-model view holding a scope's review policy (document id {@link POLICY_DOC}). */
export const POLICY_VIEW = 'uee.review-policy';
/** The policy document's id in {@link POLICY_VIEW}. */
export const POLICY_DOC = 'policy';
/** Read-model view of a scope's review audit log: one document per review action. */
export const AUDIT_VIEW = 'uee.review-audit';

/**
 * Lifecycle of a proposal: `pending` → (`applying` →) `applied` | `failed`; `pending` → `rejected` |
 * `withdrawn`; `pending` → `stale` when its base changed before it could apply (revise or rebase → `pending`).
 */
export const PROPOSAL_STATUSES = ['pending', 'applying', 'applied', 'failed', 'rejected', 'withdrawn', 'stale'] as const;
/** One of {@link PROPOSAL_STATUSES}. */
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

const Note = z.object({ by: z.string(), at: z.string(), action: z.string(), text: z.string() });

/** The stored attributes of a proposal, validated whenever read back from the store. */
export const ProposalAttributesSchema = z.object({
  tool: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  rationale: z.string(),
  status: z.enum(PROPOSAL_STATUSES),
  reason: z.string(),
  proposedBy: PrincipalSchema,
  proposedAt: z.string(),
  revision: z.number().int(),
  /** SHA-256 of the dry-run result the proposal was reviewed on; applying re-plans and compares. */
  base: z.string(),
  target: z.string(),
  plan: PlanSchema,
  capabilitiesAdded: z.array(z.string()),
  subscriptionsAdded: z.array(z.string()),
  bundle: z.object({
    files: z.array(z.object({ path: z.string(), before: z.string().nullable(), after: z.string().nullable() })),
    capabilities: z.object({ before: z.array(z.string()), after: z.array(z.string()) }),
    manifest: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })),
    warnings: z.array(z.string()),
    notes: z.array(z.string()),
    simulation: z.custom<ReviewSimulation>((v) => v !== null && typeof v === 'object').optional(),
    cost: z.custom<ReviewCost>((v) => v !== null && typeof v === 'object').optional(),
    graph: z.object({ triggers: z.array(z.string()), triggeredBy: z.array(z.string()), warnings: z.array(z.string()) }).optional(),
  }),
  approvalsNeeded: z.number().int(),
  approvers: z.array(z.string()),
  approvals: z.array(z.object({ by: z.string(), at: z.string(), comment: z.string() })),
  comments: z.array(Note),
  outcome: z.object({ at: z.string(), by: z.string(), ok: z.boolean(), summary: z.string() }).nullable(),
});
/** A {@link ProposalAttributesSchema} value. */
export type ProposalAttributes = z.infer<typeof ProposalAttributesSchema>;

/** A proposal as services and clients see it. */
export type Proposal = ProposalAttributes & { id: string; tenantId: string | null; version: number; updatedAt: string };

/** One review audit entry: who did what to which proposal, when, with what outcome. */
export const AuditEntrySchema = z.object({
  at: z.string(),
  actor: z.string(),
  action: z.enum(['proposed', 'approved', 'rejected', 'applied', 'apply-failed', 'stale', 'revised', 'rebased', 'withdrawn', 'auto-applied', 'policy-set', 'recovered']),
  proposalId: z.string().nullable(),
  tool: z.string().nullable(),
  target: z.string().nullable(),
  outcome: z.string(),
  comment: z.string().optional(),
});
/** An {@link AuditEntrySchema} value. */
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
