import { z } from 'zod';
import type { ChangeReview } from '../tools/index.js';

/**
 * A tenant's review policy (the global scope has one too, for global changes):
 * - `auto`: every change applies at once (the default when none is set);
 * - `all`: every change waits for approval;
 * - `risky`: only changes that add a capability, add an event subscription (when `newSubscriptions`)
 *   or leave a budget above `budgetOver` wait.
 * `approvals` human approvals are needed (N), from `approvers` when listed (M principal ids).
 */
export const ReviewPolicySchema = z.strictObject({
  mode: z.enum(['auto', 'all', 'risky']),
  capabilityIncrease: z.boolean().default(true).describe('risky: a change adding a capability waits'),
  newSubscriptions: z.boolean().default(false).describe('risky: a change adding an event subscription waits'),
  budgetOver: z.record(z.string().max(64), z.number().nonnegative()).default({}).describe('risky: e.g. {"modelCalls": 5, "timeoutMs": 2000}'),
  approvals: z.number().int().min(1).max(10).default(1),
  approvers: z.array(z.string().min(1).max(256)).max(100).default([]).describe('Principal ids allowed to approve (empty: any reviewer)'),
});
/** A {@link ReviewPolicySchema} value. */
export type ReviewPolicy = z.infer<typeof ReviewPolicySchema>;

/** The policy of a scope that never set one. */
export const DEFAULT_POLICY: ReviewPolicy = ReviewPolicySchema.parse({ mode: 'auto' });

/** Why a change must wait for approval under `policy`, or null when it applies at once. */
export function holdReason(policy: ReviewPolicy, change: Pick<ChangeReview, 'capabilitiesAdded' | 'subscriptionsAdded' | 'budget'>): string | null {
  if (policy.mode === 'auto') return null;
  if (policy.mode === 'all') return 'the review policy requires approval for every change';
  const reasons: string[] = [];
  if (policy.capabilityIncrease && change.capabilitiesAdded.length > 0) reasons.push(`adds capabilities ${change.capabilitiesAdded.join(', ')}`);
  if (policy.newSubscriptions && change.subscriptionsAdded.length > 0) reasons.push(`subscribes to new event types ${change.subscriptionsAdded.join(', ')}`);
  for (const [field, limit] of Object.entries(policy.budgetOver)) {
    const value = change.budget[field];
    if (value !== undefined && value > limit) reasons.push(`budget ${field} ${value} is over ${limit}`);
  }
  return reasons.length === 0 ? null : reasons.join('; ');
}
