import { UeeError } from '../core/index.js';
import type { ReviewBundle, ReviewCost, ReviewSimulation, SimulatedRun } from '../tools/index.js';

/** A proposal as the review API answers it (the fields the CLI prints). */
interface ProposalView {
  id: string;
  tenantId: string | null;
  status: string;
  tool: string;
  target: string;
  reason: string;
  rationale: string;
  revision: number;
  proposedBy: { id: string };
  proposedAt: string;
  approvalsNeeded: number;
  approvals: Array<{ by: string; at: string; comment: string }>;
  capabilitiesAdded: string[];
  plan: { summary: string; changes: Array<{ action: string; target: string; detail?: string }> };
  bundle: Omit<ReviewBundle, 'files'>;
  comments: Array<{ by: string; at: string; action: string; text: string }>;
  outcome: { summary: string; ok: boolean } | null;
}
interface DiffView {
  path: string;
  rows: Array<{ kind: string; left: { n: number; text: string } | null; right: { n: number; text: string } | null }>;
}

const USAGE = 'uee proposals list [--status S] [--tenant T] | show ID | approve ID [--comment C] | reject ID --comment C | rebase ID';

async function request(baseUrl: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(`/review/api/${path}`, baseUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(120_000),
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new UeeError('BACKEND_UNAVAILABLE', `cannot reach the UEE server at ${url.origin}`, { hint: 'start it with "uee start", or point --url / UEE_URL at it', retryable: true });
  }
  const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } };
  if (!res.ok) {
    const e = json.error ?? {};
    throw new UeeError(res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'TENANT_FORBIDDEN' : res.status === 404 ? 'NOT_FOUND' : res.status === 409 ? 'VERSION_CONFLICT' : 'VALIDATION_FAILED', `${e.code ?? res.status}: ${e.message ?? 'request failed'}`, {
      hint: e.hint ?? 'pass a reviewer token with --token (or UEE_TOKEN)',
    });
  }
  return json;
}

/** One proposal as Markdown-like text: what, why, the plan, capabilities, manifest, diffs, comments. */
export function formatProposal(p: ProposalView, diffs: DiffView[]): string {
  const lines = [
    `# ${p.id} — ${p.tool} ${p.target}`,
    '',
    `- status: **${p.status}** (revision ${p.revision}); approvals ${p.approvals.length}/${p.approvalsNeeded}`,
    `- proposed by ${p.proposedBy.id} at ${p.proposedAt}${p.tenantId === null ? ' (global)' : ` in tenant ${p.tenantId}`}`,
    `- held because: ${p.reason}`,
    `- rationale: ${p.rationale}`,
    ...(p.outcome ? [`- outcome: ${p.outcome.summary}`] : []),
    '',
    '## Plan',
    p.plan.summary,
    ...p.plan.changes.map((c) => `- ${c.action} ${c.target}${c.detail ? ` — ${c.detail}` : ''}`),
    '',
    '## Capabilities',
    ...[...new Set([...p.bundle.capabilities.before, ...p.bundle.capabilities.after])].map((c) =>
      !p.bundle.capabilities.before.includes(c) ? `- **+ ${c}** (added)` : !p.bundle.capabilities.after.includes(c) ? `- − ${c} (removed)` : `-   ${c}`,
    ),
    ...(p.bundle.manifest.length === 0 ? [] : ['', '## Manifest', ...p.bundle.manifest.map((m) => `- ${m.field}: ${JSON.stringify(m.before)} → ${JSON.stringify(m.after)}`)]),
    ...(p.bundle.warnings.length === 0 ? [] : ['', '## Warnings', ...p.bundle.warnings.map((w) => `- ${w}`)]),
    ...(p.bundle.notes.length === 0 ? [] : ['', '## Notes', ...p.bundle.notes.map((n) => `- ${n}`)]),
    ...simulationLines(p.bundle.simulation),
    ...costLines(p.bundle.cost),
    ...(p.bundle.graph === undefined
      ? []
      : ['', '## Chain', `- triggers: ${p.bundle.graph.triggers.join(', ') || 'nothing'}`, `- triggered by: ${p.bundle.graph.triggeredBy.join(', ') || 'nothing'}`, ...p.bundle.graph.warnings.map((w) => `- **${w}**`)]),
  ];
  for (const d of diffs) {
    lines.push('', `## ${d.path}`, '```diff');
    for (const r of d.rows) {
      if (r.kind === 'same') lines.push(`  ${r.left?.text ?? ''}`);
      else {
        if (r.left) lines.push(`- ${r.left.text}`);
        if (r.right) lines.push(`+ ${r.right.text}`);
      }
    }
    lines.push('```');
  }
  lines.push('', '## Comments', ...p.comments.map((c) => `- ${c.at} ${c.by} ${c.action}${c.text ? `: ${c.text}` : ''}`));
  return lines.join('\n') + '\n';
}

function run(r: SimulatedRun | null): string {
  if (r === null) return '—';
  if (!r.ok) return `FAILS ${r.error ?? ''}`;
  const parts = [`${r.writes} write(s)`, ...(r.emits.length > 0 ? [`emits ${r.emits.join(',')}`] : []), ...(r.modelCalls > 0 ? [`${r.modelCalls} model call(s)`] : [])];
  return `${parts.join(', ')} [${r.effects}]`;
}

function simulationLines(s: ReviewSimulation | undefined): string[] {
  if (s === undefined) return [];
  const head = s.before === null ? `v${s.after.version}: ${s.after.ok} ok, ${s.after.failed} failed` : `v${s.before.version} → v${s.after.version}: ok ${s.before.ok} → ${s.after.ok}, failed ${s.before.failed} → ${s.after.failed}; effects differ on ${s.changed} of ${s.rows.length}`;
  return [
    '',
    '## Simulation on recorded events',
    `${s.source}: ${head}${s.stubbedModels.length > 0 ? ` (stubbed models: ${s.stubbedModels.join(', ')})` : ''}`,
    '',
    '| event | type | running version | proposed version | |',
    '|---|---|---|---|---|',
    ...s.rows.map((r) => `| …${r.eventId.slice(-12)} | ${r.type} | ${run(r.before)} | ${run(r.after)} | ${r.before === null ? 'new' : r.same ? 'same' : '**differs**'} |`),
  ];
}

function costLines(c: ReviewCost | undefined): string[] {
  if (c === undefined) return [];
  const b = (x: number | null): string => (x === null ? '—' : String(Math.round(x * 100) / 100));
  return [
    '',
    '## Estimated model cost',
    `- model calls per event: ${b(c.modelCallsPerEvent.before)} → ${b(c.modelCallsPerEvent.after)}; cost per event ${b(c.costPerEvent.before)} → ${b(c.costPerEvent.after)}`,
    `- at ${c.eventsPerDay} events/day: ${c.callsPerDay} calls/day, cost ${c.costPerDay}/day (budget cap: ${c.maxCallsPerDay ?? '—'} calls/day)`,
    `- basis: ${c.basis}`,
  ];
}

/** `uee proposals …`: the review API from a terminal, with a reviewer token. */
export async function runProposals(baseUrl: string, token: string | undefined, args: string[], options: { status?: string | undefined; tenant?: string | undefined; comment?: string | undefined }): Promise<number> {
  const [action, id] = args;
  const out = (s: string): void => void process.stdout.write(s);
  const needId = (): string => {
    if (id === undefined) throw new UeeError('CONFIG_INVALID', `"uee proposals ${action ?? ''}" needs a proposal id`, { hint: USAGE });
    return encodeURIComponent(id);
  };
  switch (action ?? 'list') {
    case 'list': {
      const q = new URLSearchParams({ ...(options.status ? { status: options.status } : { status: 'pending' }), ...(options.tenant ? { tenantId: options.tenant } : {}) });
      if (options.status === 'all') q.delete('status');
      const { proposals } = (await request(baseUrl, token, 'GET', `proposals?${q.toString()}`)) as { proposals: ProposalView[] };
      if (proposals.length === 0) out('no proposals\n');
      else {
        out('| id | status | change | held because | by | approvals |\n|---|---|---|---|---|---|\n');
        for (const p of proposals) out(`| ${p.id} | ${p.status} | ${p.tool} ${p.target} | ${p.reason} | ${p.proposedBy.id} | ${p.approvals.length}/${p.approvalsNeeded} |\n`);
      }
      return 0;
    }
    case 'show': {
      const { proposal, diffs } = (await request(baseUrl, token, 'GET', `proposals/${needId()}`)) as { proposal: ProposalView; diffs: DiffView[] };
      out(formatProposal(proposal, diffs));
      return 0;
    }
    case 'approve':
    case 'reject':
    case 'rebase': {
      if (action === 'reject' && !options.comment) throw new UeeError('CONFIG_INVALID', 'a rejection needs --comment', { hint: 'say what the agent should change' });
      const { proposal } = (await request(baseUrl, token, 'POST', `proposals/${needId()}/${action}`, { comment: options.comment ?? '' })) as { proposal: ProposalView };
      out(`${proposal.id}: ${proposal.status}${proposal.outcome ? ` — ${proposal.outcome.summary}` : ''} (approvals ${proposal.approvals.length}/${proposal.approvalsNeeded})\n`);
      return 0;
    }
    default:
      throw new UeeError('CONFIG_INVALID', `unknown proposals action "${action ?? ''}"`, { hint: USAGE });
  }
}
