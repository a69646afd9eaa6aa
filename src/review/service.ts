import { createHash, randomBytes } from 'node:crypto';
import type { Logger, Principal, TenantContext } from '../core/index.js';
import { UeeError, isUeeError, parseOrThrow } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import type { ChangeReview, ProposalRef, ToolContext, ToolDefinition, ToolGate, ToolRegistry } from '../tools/index.js';
import { detachedToolContext } from './context.js';
import { DEFAULT_POLICY, ReviewPolicySchema, holdReason, type ReviewPolicy } from './policy.js';
import {
  AUDIT_VIEW,
  AuditEntrySchema,
  POLICY_DOC,
  POLICY_VIEW,
  PROPOSAL_TYPE,
  ProposalAttributesSchema,
  type AuditEntry,
  type Proposal,
  type ProposalAttributes,
  type ProposalStatus,
} from './schemas.js';

/** Fields of a dry-run result that differ between a plan and its application, left out of the base. */
const VOLATILE = new Set(['dryRun', 'applied', 'pluginId', 'proposal']);

/** SHA-256 of a dry-run result without its volatile fields: the state a proposal was reviewed on. */
export function baseOf(dryRun: Record<string, unknown>): string {
  const stable = Object.fromEntries(Object.entries(dryRun).filter(([k]) => !VOLATILE.has(k)));
  return createHash('sha256').update(JSON.stringify(stable)).digest('hex');
}

/** The id of a new proposal: it names its scope, so a lookup needs no search across tenants. */
function newProposalId(tenantId: string | null): string {
  return `pr:${tenantId ?? '-'}:${randomBytes(6).toString('hex')}`;
}

/** The scope a proposal id names; `NOT_FOUND` for anything else. */
function scopeOfId(id: string): string | null {
  const m = /^pr:([^:]+):[0-9a-f]{12}$/.exec(id);
  if (!m) throw notFound(id);
  return m[1] === '-' ? null : m[1]!;
}

function notFound(id: string): UeeError {
  return new UeeError('NOT_FOUND', `proposal ${id} not found`, { details: { proposalId: id }, hint: 'list proposals (proposal_list, uee proposals list) for their ids' });
}

/** Whether a principal may read a scope's proposals and audit log. */
function maySee(p: Principal, tenantId: string | null): boolean {
  return p.kind === 'admin' || p.tenantId === tenantId;
}

/**
 * Human review of agents' changes. As the tool registry's {@link ToolGate}, it holds an applying call
 * of a reviewable tool as a **proposal** when the scope's {@link ReviewPolicy} asks for approval: the
 * tool name, arguments and rationale, the dry-run plan, and the review bundle. Proposals are
 * `uee.proposal` entities written as a platform source (no API a tenant can call writes them); each
 * transition is a new version written with `expectedVersion`, so two reviewers racing cannot both
 * apply. Approval is for reviewer principals (human tokens) other than the proposer; the approved
 * change is re-planned first and applied only if the plan still hashes to the reviewed base —
 * otherwise the proposal turns `stale` and must be rebased. Every action lands in the scope's audit
 * log (`uee.review-audit`) with actor and time.
 */
export class ReviewService implements ToolGate {
  constructor(
    private readonly app: UeeApp,
    private readonly tools: ToolRegistry,
    private readonly logger: Logger,
  ) {}

  // ---------------------------------------------------------------- policies

  /** A scope's policy ({@link DEFAULT_POLICY} when none was set). */
  async policy(tenantId: string | null): Promise<ReviewPolicy> {
    try {
      const doc = await this.app.store.readModels.get(this.#sys(tenantId, 'review'), POLICY_VIEW, POLICY_DOC);
      return parseOrThrow(ReviewPolicySchema, doc.doc, 'stored review policy');
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) return DEFAULT_POLICY;
      throw err;
    }
  }

  /** Sets a scope's policy: admins for any scope, tenant reviewers for their own tenant. Audited. */
  async setPolicy(principal: Principal, tenantId: string | null, input: unknown): Promise<ReviewPolicy> {
    if (!(principal.kind === 'admin' || (principal.reviewer === true && principal.tenantId === tenantId))) {
      throw new UeeError('TENANT_FORBIDDEN', 'only an admin or a reviewer of this tenant sets its review policy', { hint: 'use an admin token, or a tenant:<id>:reviewer token of UEE_TOKENS' });
    }
    if (tenantId !== null) await this.app.store.tenants.get(tenantId);
    const policy = parseOrThrow(ReviewPolicySchema, input, 'review policy');
    await this.app.store.readModels.upsert(this.#sys(tenantId, principal.id), POLICY_VIEW, POLICY_DOC, policy);
    await this.#audit(tenantId, { actor: principal.id, action: 'policy-set', proposalId: null, tool: null, target: null, outcome: JSON.stringify(policy) });
    return policy;
  }

  // ---------------------------------------------------------------- the gate

  /** Holds the call as a proposal when the scope's policy asks for approval; `undefined` lets it run. */
  async intercept(def: ToolDefinition, args: Record<string, unknown>, rationale: string | undefined, ctx: ToolContext): Promise<Record<string, unknown> | undefined> {
    const hooks = def.review;
    if (!hooks) return undefined;
    const known = hooks.scope?.(ctx, args);
    // The common case costs one read: a scope whose policy applies everything at once needs no dry run.
    if (known !== undefined && (await this.policy(known)).mode === 'auto') return undefined;
    args = hooks.prepare?.(args) ?? args;
    const dry = await this.#dryRun(def, args, ctx);
    const change = await hooks.describe(ctx, args, dry);
    const policy = await this.policy(change.tenantId);
    const reason = holdReason(policy, change);
    if (reason === null) return undefined;
    const bundle = await this.#enrich(def, args, dry, change, ctx);
    if (rationale === undefined) {
      throw new UeeError('VALIDATION_FAILED', `this change needs human approval (${reason}) and a rationale`, {
        details: { issues: [{ path: 'rationale', message: 'required when the change is held for review' }], reason },
        hint: `call ${def.name} again with rationale: why you make this change (reviewers read it)`,
      });
    }
    const now = new Date().toISOString();
    const id = newProposalId(change.tenantId);
    const attributes: ProposalAttributes = {
      tool: def.name,
      arguments: { ...args, dryRun: false },
      rationale,
      status: 'pending',
      reason,
      proposedBy: ctx.principal,
      proposedAt: now,
      revision: 1,
      base: this.#base(def, dry),
      target: change.target,
      plan: (dry as { plan: ProposalAttributes['plan'] }).plan,
      capabilitiesAdded: change.capabilitiesAdded,
      subscriptionsAdded: change.subscriptionsAdded,
      bundle,
      approvalsNeeded: policy.approvals,
      approvers: policy.approvers,
      approvals: [],
      comments: [{ by: ctx.principal.id, at: now, action: 'proposed', text: rationale }],
      outcome: null,
    };
    await this.app.store.put(this.#sys(change.tenantId, ctx.principal.id), { entityId: id, entityTypeId: PROPOSAL_TYPE, expectedVersion: 0, attributes: attributes }, { source: { kind: 'system', id: ctx.principal.id } });
    await this.#audit(change.tenantId, { actor: ctx.principal.id, action: 'proposed', proposalId: id, tool: def.name, target: change.target, outcome: `held: ${reason}`, comment: rationale });
    this.logger.info('change held for review', { proposalId: id, tool: def.name, target: change.target, reason });
    const proposal: ProposalRef = { id, status: 'pending', reason, approvalsNeeded: policy.approvals };
    return { ...dry, dryRun: false, applied: false, proposal };
  }

  /** Audits a change the policy let through at once. */
  async applied(def: ToolDefinition, args: Record<string, unknown>, rationale: string | undefined, ctx: ToolContext, output: Record<string, unknown>): Promise<void> {
    const scope = def.review?.scope?.(ctx, args);
    const summary = (output.plan as { summary?: string } | undefined)?.summary ?? 'applied';
    try {
      await this.#audit(scope ?? null, { actor: ctx.principal.id, action: 'auto-applied', proposalId: null, tool: def.name, target: null, outcome: summary, ...(rationale === undefined ? {} : { comment: rationale }) });
    } catch (err) {
      // the change is made: a failed audit write must not turn it into an error the agent retries
      this.logger.error('audit write failed', { tool: def.name, error: err });
    }
  }

  // ---------------------------------------------------------------- reading

  /** Proposals a principal may see, newest first (admins: every scope unless `tenantId` is given). */
  async list(principal: Principal, options: { status?: ProposalStatus | undefined; tenantId?: string | null | undefined; limit?: number } = {}): Promise<Proposal[]> {
    const scopes: Array<string | null> =
      principal.kind === 'tenant' ? [principal.tenantId] : options.tenantId !== undefined ? [options.tenantId] : [null, ...(await this.app.store.tenants.list()).map((t) => t.tenantId)];
    const out: Proposal[] = [];
    for (const scope of scopes) {
      if (!maySee(principal, scope)) continue;
      const page = await this.app.store.query(this.#sys(scope, principal.id), {
        entityTypeId: PROPOSAL_TYPE,
        ...(options.status === undefined ? {} : { filter: { 'attributes.status': options.status } }),
        sort: { 'attributes.proposedAt': -1 },
        limit: options.limit ?? 200,
      });
      for (const v of page.items) if (v.tenantId === scope) out.push(this.#decode(v));
    }
    return out.sort((a, b) => b.proposedAt.localeCompare(a.proposedAt)).slice(0, options.limit ?? 200);
  }

  /** One proposal; another tenant's answers `NOT_FOUND` like a missing one. */
  async get(principal: Principal, id: string): Promise<Proposal> {
    const scope = scopeOfId(id);
    if (!maySee(principal, scope)) throw notFound(id);
    try {
      const v = await this.app.store.get(this.#sys(scope, principal.id), id);
      if (v.tenantId !== scope || v.entityTypeId !== PROPOSAL_TYPE) throw notFound(id);
      return this.#decode(v);
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) throw notFound(id);
      throw err;
    }
  }

  /** A scope's review audit log, newest first. */
  async audit(principal: Principal, tenantId: string | null, limit = 200): Promise<AuditEntry[]> {
    if (!maySee(principal, tenantId)) throw new UeeError('TENANT_FORBIDDEN', `this token acts only on tenant "${principal.kind === 'tenant' ? principal.tenantId : ''}"`, { hint: 'omit tenantId' });
    const page = await this.app.store.readModels.query(this.#sys(tenantId, principal.id), AUDIT_VIEW, { sort: { at: -1 }, limit });
    return page.items.map((d) => parseOrThrow(AuditEntrySchema, d.doc, 'stored audit entry'));
  }

  // ---------------------------------------------------------------- human review

  /**
   * Approves as a reviewer principal (never the proposer; one of the policy's approvers when it lists
   * them). When the approvals reach the policy's N the change is re-planned and applied.
   */
  async approve(principal: Principal, id: string, comment = ''): Promise<Proposal> {
    const p = await this.get(principal, id);
    this.#assertReviewer(principal, p);
    if (p.approvals.some((a) => a.by === principal.id)) {
      throw new UeeError('VALIDATION_FAILED', `you already approved ${id}`, { hint: `it needs ${p.approvalsNeeded} approvals from different reviewers; ${p.approvals.length} so far` });
    }
    // The policy in force now decides, not the one of proposal time: approvals from reviewers no
    // longer listed stop counting, and a raised N raises what this proposal needs.
    const policy = await this.policy(p.tenantId);
    if (policy.approvers.length > 0 && !policy.approvers.includes(principal.id)) {
      throw new UeeError('TENANT_FORBIDDEN', `the current review policy names the approvers, and ${principal.id} is not one of them`, { details: { approvers: policy.approvers }, hint: `ask one of: ${policy.approvers.join(', ')}` });
    }
    const at = new Date().toISOString();
    const approvals = [...p.approvals.filter((a) => policy.approvers.length === 0 || policy.approvers.includes(a.by)), { by: principal.id, at, comment }];
    const needed = Math.max(p.approvalsNeeded, policy.approvals);
    const approved = await this.#write(p, principal.id, { approvals, approvalsNeeded: needed, approvers: policy.approvers, comments: [...p.comments, { by: principal.id, at, action: 'approved', text: comment }] });
    await this.#audit(p.tenantId, { actor: principal.id, action: 'approved', proposalId: id, tool: p.tool, target: p.target, outcome: `${approvals.length}/${needed} approvals`, comment });
    if (approvals.length < needed) return approved;
    return this.#apply(approved, principal.id);
  }

  /** Rejects as a reviewer principal, with a comment the agent reads; production is left untouched. */
  async reject(principal: Principal, id: string, comment: string): Promise<Proposal> {
    const p = await this.get(principal, id);
    this.#assertReviewer(principal, p);
    if (comment.trim() === '') throw new UeeError('VALIDATION_FAILED', 'a rejection needs a comment', { hint: 'say what the agent should change; it reads the comment with proposal_list' });
    const at = new Date().toISOString();
    const rejected = await this.#write(p, principal.id, { status: 'rejected', comments: [...p.comments, { by: principal.id, at, action: 'rejected', text: comment }], outcome: { at, by: principal.id, ok: false, summary: 'rejected' } });
    await this.#audit(p.tenantId, { actor: principal.id, action: 'rejected', proposalId: id, tool: p.tool, target: p.target, outcome: 'rejected; nothing applied', comment });
    return rejected;
  }

  /** Re-plans a proposal on the current state (after `stale`): the proposer's tenant or a reviewer. */
  async rebase(principal: Principal, id: string): Promise<Proposal> {
    return this.revise(principal, id, {});
  }

  // ---------------------------------------------------------------- the agent's side

  /**
   * Revises an open proposal: new tool `arguments` and/or `rationale` (re-planned, approvals reset),
   * nothing (a rebase on the current state), or `withdraw`. The proposer's tenant (or an admin) only.
   */
  async revise(
    principal: Principal,
    id: string,
    change: { arguments?: Record<string, unknown> | undefined; rationale?: string | undefined; withdraw?: boolean | undefined; comment?: string | undefined; dryRun?: boolean | undefined },
  ): Promise<Proposal> {
    const p = await this.get(principal, id);
    if (principal.kind === 'tenant' && principal.readOnly) throw new UeeError('TENANT_FORBIDDEN', 'read-only tokens cannot revise proposals', { hint: 'use a read-write token' });
    if (!['pending', 'stale'].includes(p.status)) {
      throw new UeeError('VALIDATION_FAILED', `proposal ${id} is ${p.status}; only pending or stale proposals can be revised`, { details: { status: p.status }, hint: `call ${p.tool} again for a new proposal` });
    }
    const at = new Date().toISOString();
    if (change.withdraw === true) {
      if (change.dryRun === true) return { ...p, status: 'withdrawn' };
      const withdrawn = await this.#write(p, principal.id, { status: 'withdrawn', comments: [...p.comments, { by: principal.id, at, action: 'withdrawn', text: change.comment ?? '' }], outcome: { at, by: principal.id, ok: false, summary: 'withdrawn' } });
      await this.#audit(p.tenantId, { actor: principal.id, action: 'withdrawn', proposalId: id, tool: p.tool, target: p.target, outcome: 'withdrawn; nothing applied' });
      return withdrawn;
    }
    const def = this.#tool(p.tool);
    const args = change.arguments === undefined ? { ...p.arguments, dryRun: false } : { ...(def.review!.prepare?.(change.arguments) ?? change.arguments), dryRun: false };
    const parsed = parseOrThrow(def.input, { ...args, rationale: change.rationale ?? p.rationale }, `arguments of ${def.name}`);
    delete parsed.rationale;
    const ctx = detachedToolContext(this.app, this.#proposer(p), this.logger, def.name);
    const dry = await this.#dryRun(def, parsed, ctx);
    const review = await def.review!.describe(ctx, parsed, dry);
    if (review.tenantId !== p.tenantId) throw new UeeError('VALIDATION_FAILED', 'a revision cannot move a proposal to another scope', { hint: `call ${def.name} again for a change in another scope` });
    const policy = await this.policy(p.tenantId);
    const action = change.arguments === undefined && change.rationale === undefined ? 'rebased' : 'revised';
    const patch: Partial<ProposalAttributes> = {
      status: 'pending',
      arguments: { ...parsed, dryRun: false },
      rationale: change.rationale ?? p.rationale,
      revision: p.revision + 1,
      base: this.#base(def, dry),
      plan: (dry as { plan: ProposalAttributes['plan'] }).plan,
      reason: holdReason(policy, review) ?? p.reason,
      capabilitiesAdded: review.capabilitiesAdded,
      subscriptionsAdded: review.subscriptionsAdded,
      bundle: change.dryRun === true ? review.bundle : await this.#enrich(def, parsed, dry, review, ctx),
      approvalsNeeded: policy.approvals,
      approvers: policy.approvers,
      approvals: [],
      comments: [...p.comments, { by: principal.id, at, action, text: change.comment ?? change.rationale ?? '' }],
    };
    if (change.dryRun === true) return { ...p, ...patch };
    const revised = await this.#write(p, principal.id, patch);
    await this.#audit(p.tenantId, { actor: principal.id, action, proposalId: id, tool: p.tool, target: review.target, outcome: `revision ${revised.revision}: approvals reset`, ...(change.comment === undefined ? {} : { comment: change.comment }) });
    return revised;
  }

  // ---------------------------------------------------------------- crash recovery

  /**
   * Settles proposals left `applying` by a process that stopped mid-apply (claims older than
   * `olderThanMs`, so a live apply of another process is left alone). Re-planned on the current state:
   * - the plan still hashes to the reviewed base → nothing was applied: back to `pending`, approvals
   *   reset (reviewers approve again: the server stopped in between);
   * - else the tool's `finished` hook tells whether the change is in force (deploy: the newest version
   *   is this module, deployed since the claim; configure: re-planning it changes nothing; experiments:
   *   the experiment exists / ended so) → `applied`;
   * - else `failed` with the reason. Every settlement is audited (actor `uee`).
   */
  async recover(options: { olderThanMs?: number } = {}): Promise<Proposal[]> {
    const admin: Principal = { kind: 'admin', id: 'uee:review-recovery' };
    const cutoff = Date.now() - (options.olderThanMs ?? this.app.config.reviewRecoveryGraceMs);
    const settled: Proposal[] = [];
    for (const p of await this.list(admin, { status: 'applying', limit: 1000 })) {
      if (Date.parse(p.updatedAt) > cutoff) continue;
      try {
        settled.push(await this.#recoverOne(p));
      } catch (err) {
        this.logger.error('proposal recovery failed', { proposalId: p.id, error: err });
      }
    }
    return settled;
  }

  /** Runs {@link recover} now and every `everyMs` (timer unref'd); returns a stop function. */
  startRecovery(everyMs = 60_000): () => void {
    const run = (): void => void this.recover().catch((err: unknown) => this.logger.error('proposal recovery failed', { error: err }));
    run();
    const timer = setInterval(run, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  async #recoverOne(p: Proposal): Promise<Proposal> {
    const def = this.#tool(p.tool);
    const ctx = detachedToolContext(this.app, this.#proposer(p), this.logger, def.name);
    const at = new Date().toISOString();
    let dry: Record<string, unknown> | undefined;
    try {
      dry = await this.#dryRun(def, p.arguments, ctx);
    } catch {
      dry = undefined;
    }
    let patch: Partial<ProposalAttributes>;
    let outcome: string;
    if (dry !== undefined && this.#base(def, dry) === p.base) {
      outcome = 'interrupted before applying (the state is still the reviewed base): back to pending, approve again';
      patch = { status: 'pending', approvals: [], comments: [...p.comments, { by: 'uee', at, action: 'recovered', text: outcome }] };
    } else if ((await def.review!.finished?.(ctx, p.arguments, dry, p.updatedAt).catch(() => undefined)) === true) {
      outcome = 'applied (confirmed after a restart: the change is in force)';
      patch = { status: 'applied', outcome: { at, by: 'uee', ok: true, summary: outcome } };
    } else {
      outcome = 'interrupted while applying (the server stopped) and the state changed since review: it could not be confirmed the change is in force; check the current state and propose again';
      patch = { status: 'failed', outcome: { at, by: 'uee', ok: false, summary: outcome } };
    }
    const done = await this.#write(p, 'uee', patch);
    await this.#audit(p.tenantId, { actor: 'uee', action: 'recovered', proposalId: p.id, tool: p.tool, target: p.target, outcome: `${done.status}: ${outcome}` });
    this.logger.warn('proposal left applying was settled', { proposalId: p.id, status: done.status });
    return done;
  }

  // ---------------------------------------------------------------- internals

  async #apply(p: Proposal, approver: string): Promise<Proposal> {
    // Claiming the proposal (pending → applying, with expectedVersion) makes one approver the applier.
    const claimed = await this.#write(p, approver, { status: 'applying' });
    const def = this.#tool(p.tool);
    // The change runs with the proposer's authority as configured NOW, never the principal stored at
    // proposal time: a token revoked (or turned read-only, or moved to another tenant) meanwhile
    // voids its proposals, however many humans approved them.
    const current = this.#currentPrincipal(p.proposedBy.id);
    const voided =
      current === undefined
        ? `the proposer's token (${p.proposedBy.id}) is no longer configured (revoked)`
        : current.kind !== p.proposedBy.kind || (current.kind === 'tenant' && (current.readOnly || p.proposedBy.kind !== 'tenant' || current.tenantId !== p.proposedBy.tenantId))
          ? `the proposer's token (${p.proposedBy.id}) no longer has the authority it proposed with (now ${current.kind === 'tenant' ? `tenant ${current.tenantId}${current.readOnly ? ', read-only' : ''}` : current.kind})`
          : undefined;
    if (voided !== undefined) return this.#failed(claimed, approver, new UeeError('TENANT_FORBIDDEN', `${voided}; nothing was applied`, { hint: 'an agent with a valid token proposes the change again' }));
    const ctx = detachedToolContext(this.app, current!, this.logger, def.name);
    const at = (): string => new Date().toISOString();
    let dry: Record<string, unknown>;
    try {
      dry = await this.#dryRun(def, p.arguments, ctx);
    } catch (err) {
      return this.#failed(claimed, approver, err);
    }
    if (this.#base(def, dry) !== p.base) {
      const stale = await this.#write(claimed, approver, {
        status: 'stale',
        approvals: [],
        comments: [...p.comments, { by: 'uee', at: at(), action: 'stale', text: `the state changed since review; the plan is now: ${(dry as { plan?: { summary?: string } }).plan?.summary ?? '?'}` }],
      });
      await this.#audit(p.tenantId, { actor: approver, action: 'stale', proposalId: p.id, tool: p.tool, target: p.target, outcome: 'not applied: the base changed since review; rebase or revise it' });
      throw new UeeError('VERSION_CONFLICT', `proposal ${p.id} was reviewed on a state that changed meanwhile; it was not applied`, {
        details: { proposalId: p.id, status: stale.status },
        hint: 'rebase it (uee proposals rebase, the review page, or the agent with proposal_revise) and review the new plan',
      });
    }
    let output: Record<string, unknown>;
    try {
      output = await this.#run(def, { ...p.arguments, dryRun: false }, ctx);
    } catch (err) {
      return this.#failed(claimed, approver, err);
    }
    const summary = (output.plan as { summary?: string } | undefined)?.summary ?? 'applied';
    const done = await this.#write(claimed, approver, { status: 'applied', outcome: { at: at(), by: approver, ok: true, summary } });
    await this.#audit(p.tenantId, { actor: approver, action: 'applied', proposalId: p.id, tool: p.tool, target: p.target, outcome: summary });
    this.logger.info('proposal applied', { proposalId: p.id, tool: p.tool, approver });
    return done;
  }

  async #failed(p: Proposal, approver: string, err: unknown): Promise<Proposal> {
    const e = isUeeError(err) ? err : new UeeError('INTERNAL', 'internal error', { cause: err });
    if (e.code === 'INTERNAL') this.logger.error('proposal failed to apply', { proposalId: p.id, error: err });
    const summary = `${e.code}: ${e.code === 'INTERNAL' ? 'internal error' : e.message}`;
    const failed = await this.#write(p, approver, { status: 'failed', outcome: { at: new Date().toISOString(), by: approver, ok: false, summary } });
    await this.#audit(p.tenantId, { actor: approver, action: 'apply-failed', proposalId: p.id, tool: p.tool, target: p.target, outcome: summary });
    return failed;
  }

  #assertReviewer(principal: Principal, p: Proposal): void {
    if (principal.reviewer !== true) {
      throw new UeeError('TENANT_FORBIDDEN', 'only human reviewer tokens approve or reject proposals', {
        hint: 'use a reviewer token (UEE_TOKENS: admin:reviewer or tenant:<id>:reviewer; the local admin token of uee start is one)',
      });
    }
    if (principal.id === p.proposedBy.id) {
      throw new UeeError('TENANT_FORBIDDEN', 'a proposal cannot be approved or rejected by the principal that proposed it', {
        details: { proposalId: p.id, proposedBy: p.proposedBy.id },
        hint: 'another reviewer must decide; the proposer may revise or withdraw it (proposal_revise)',
      });
    }
    if (principal.kind === 'tenant' && (principal.readOnly || principal.tenantId !== p.tenantId)) throw notFound(p.id);
    if (p.approvers.length > 0 && !p.approvers.includes(principal.id)) {
      throw new UeeError('TENANT_FORBIDDEN', `the review policy names the approvers of ${p.id}, and ${principal.id} is not one of them`, { details: { approvers: p.approvers }, hint: `ask one of: ${p.approvers.join(', ')}` });
    }
    if (p.status !== 'pending') {
      throw new UeeError('VALIDATION_FAILED', `proposal ${p.id} is ${p.status}`, { details: { status: p.status }, hint: p.status === 'stale' ? 'rebase it first, then review the new plan' : 'only pending proposals are decided' });
    }
  }

  /** The principal a principal id stands for in the current configuration (tokens, anonymous, stdio). */
  #currentPrincipal(id: string): Principal | undefined {
    const mcp = this.app.config.mcp;
    for (const t of mcp.tokens) if (t.principal.id === id) return t.principal;
    if (mcp.anonymous?.id === id) return mcp.anonymous;
    if (mcp.stdioPrincipal.id === id) return mcp.stdioPrincipal;
    return undefined;
  }

  /** The proposer as configured now, else as stored (for re-planning only; applying re-checks). */
  #proposer(p: Proposal): Principal {
    return this.#currentPrincipal(p.proposedBy.id) ?? p.proposedBy;
  }

  /** The bundle with the hooks' costly part (simulation, cost); a failure there becomes a note. */
  async #enrich(def: ToolDefinition, args: Record<string, unknown>, dry: Record<string, unknown>, change: ChangeReview, ctx: ToolContext): Promise<ProposalAttributes['bundle']> {
    if (!def.review?.enrich) return change.bundle;
    try {
      const { notes, ...extra } = await def.review.enrich(ctx, args, dry, change);
      return { ...change.bundle, ...extra, notes: [...change.bundle.notes, ...(notes ?? [])] };
    } catch (err) {
      this.logger.warn('review bundle enrichment failed', { tool: def.name, error: err });
      return { ...change.bundle, notes: [...change.bundle.notes, `simulation failed: ${isUeeError(err) ? err.message : 'internal error'}`] };
    }
  }

  #base(def: ToolDefinition, dry: Record<string, unknown>): string {
    return baseOf(def.review?.base?.(dry) ?? dry);
  }

  #tool(name: string): ToolDefinition {
    const def = this.tools.definition(name);
    if (!def?.review) throw new UeeError('NOT_FOUND', `tool ${name} is not registered as reviewable on this server`, { hint: 'apply it on a server that registers the tool' });
    return def;
  }

  async #run(def: ToolDefinition, args: Record<string, unknown>, ctx: ToolContext): Promise<Record<string, unknown>> {
    const raw = await def.run(ctx, args);
    const parsed = def.output.safeParse(raw);
    if (!parsed.success) throw new UeeError('INTERNAL', `${def.name} produced an invalid result`);
    return parsed.data;
  }

  #dryRun(def: ToolDefinition, args: Record<string, unknown>, ctx: ToolContext): Promise<Record<string, unknown>> {
    return this.#run(def, { ...args, dryRun: true }, ctx);
  }

  async #write(p: Proposal, actor: string, patch: Partial<ProposalAttributes>): Promise<Proposal> {
    const { id, tenantId, version, updatedAt: _u, ...attributes } = p;
    const next = { ...attributes, ...patch };
    try {
      const v = await this.app.store.put(
        this.#sys(tenantId, actor),
        { entityId: id, entityTypeId: PROPOSAL_TYPE, expectedVersion: version, attributes: next },
        { source: { kind: 'system', id: actor } },
      );
      return this.#decode(v);
    } catch (err) {
      if (isUeeError(err, 'VERSION_CONFLICT')) {
        throw new UeeError('VERSION_CONFLICT', `proposal ${id} changed meanwhile (someone else acted on it)`, { details: { proposalId: id }, hint: 'read it again and decide on its current state' });
      }
      throw err;
    }
  }

  #decode(v: { entityId: string; tenantId: string | null; version: number; attributes: unknown; createdAt: string }): Proposal {
    const a = parseOrThrow(ProposalAttributesSchema, v.attributes, `proposal ${v.entityId}`);
    return { ...a, id: v.entityId, tenantId: v.tenantId, version: v.version, updatedAt: v.createdAt };
  }

  async #audit(tenantId: string | null, entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const at = new Date().toISOString();
    const doc: AuditEntry = { at, ...entry };
    await this.app.store.readModels.upsert(this.#sys(tenantId, entry.actor), AUDIT_VIEW, `${at}-${randomBytes(4).toString('hex')}`, doc);
  }

  #sys(tenantId: string | null, actor: string): TenantContext {
    return { tenantId, actor };
  }
}
