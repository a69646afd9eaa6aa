export { ReviewService, baseOf } from './service.js';
export { ReviewPolicySchema, DEFAULT_POLICY, holdReason } from './policy.js';
export type { ReviewPolicy } from './policy.js';
export { sideBySide } from './diff.js';
export type { DiffRow } from './diff.js';
export { detachedToolContext } from './context.js';
export { PROPOSAL_TYPE, POLICY_VIEW, AUDIT_VIEW, PROPOSAL_STATUSES, ProposalAttributesSchema, AuditEntrySchema } from './schemas.js';
export type { Proposal, ProposalAttributes, ProposalStatus, AuditEntry } from './schemas.js';
export { reviewTools } from './tools.js';
