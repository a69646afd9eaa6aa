import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, Principal } from '../core/index.js';
import { UeeError } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import { PROPOSAL_STATUSES, detachedToolContext, sideBySide, type ProposalStatus, type ReviewService } from '../review/index.js';
import type { ToolRegistry } from '../tools/index.js';
import type { HttpServer } from './http.js';
import { sendJson } from './http.js';
import { readJsonBody } from './mcp/body.js';
import type { FrontDoor } from './mcp/front-door.js';
import { admitOrThrow } from './routes.js';

/** What the review page needs from the server. */
export interface ReviewPageDeps {
  app: UeeApp;
  door: FrontDoor;
  review: ReviewService;
  tools: ToolRegistry;
  logger: Logger;
}

interface Asset {
  type: string;
  body: Buffer;
}

/** The page's static files: no data in them, so they are served without a token (the API needs one). */
function loadAssets(): Map<string, Asset> {
  const here = (name: string): Buffer => readFileSync(new URL(`./review-page/${name}`, import.meta.url));
  const require = createRequire(import.meta.url);
  const dep = (path: string): Buffer => readFileSync(require.resolve(path));
  return new Map<string, Asset>([
    ['', { type: 'text/html; charset=utf-8', body: here('index.html') }],
    ['assets/app.mjs', { type: 'text/javascript; charset=utf-8', body: here('app.mjs') }],
    ['assets/app.css', { type: 'text/css; charset=utf-8', body: here('app.css') }],
    // uPlot (npm "uplot"): a small, fast time-series charting library
    ['assets/uplot.js', { type: 'text/javascript; charset=utf-8', body: dep('uplot/dist/uPlot.iife.min.js') }],
    ['assets/uplot.css', { type: 'text/css; charset=utf-8', body: dep('uplot/dist/uPlot.min.css') }],
  ]);
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function query(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

/** `tenantId` of a query: absent → undefined (all visible), `-` → the global scope. */
function scopeParam(req: IncomingMessage): string | null | undefined {
  const t = query(req).get('tenantId');
  if (t === null || t === '') return undefined;
  return t === '-' ? null : t;
}

/** The scope an action on one scope applies to: a tenant principal's own tenant, else the parameter. */
function oneScope(principal: Principal, req: IncomingMessage): string | null {
  if (principal.kind === 'tenant') return principal.tenantId;
  const t = scopeParam(req);
  if (t === undefined) throw new UeeError('VALIDATION_FAILED', 'admin calls name the scope: ?tenantId=<id> (or - for global)', { hint: 'add ?tenantId=acme' });
  return t;
}

async function comment(req: IncomingMessage): Promise<string> {
  if (req.headers['content-length'] === '0') return '';
  const body = await readJsonBody(req, 64 * 1024).catch(() => ({}));
  const c = (body as { comment?: unknown }).comment;
  if (c !== undefined && (typeof c !== 'string' || c.length > 4000)) throw new UeeError('VALIDATION_FAILED', 'comment must be a string of at most 4000 characters', { hint: 'send {"comment": "..."}' });
  return c ?? '';
}

/**
 * Mounts the review page at `/review` and its JSON API at `/review/api/*`, behind the same front door
 * as MCP (Host guard, bearer tokens, per-principal rate). The page holds the token in the tab's
 * session storage (taken from `#token=` once, then removed from the address bar) and sends it as a
 * bearer header: no cookie, so no cross-site request can act with it.
 */
export function mountReviewPage(http: HttpServer, deps: ReviewPageDeps): void {
  const assets = loadAssets();
  const { app, door, review, tools } = deps;

  const readTool = async (principal: Principal, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const ctx = detachedToolContext(app, principal, deps.logger, name);
    const result = await tools.call(name, args, ctx);
    const body = (result.structuredContent ?? {}) as Record<string, unknown>;
    if (result.isError) throw new UeeError('VALIDATION_FAILED', `${String(body.code)}: ${String(body.message)}`, { hint: String(body.hint) });
    return body;
  };

  const api = async (principal: Principal, req: IncomingMessage, parts: string[]): Promise<unknown> => {
    const method = req.method ?? 'GET';
    const [head, id, action] = parts;
    if (method === 'GET' && head === 'me') return { id: principal.id, kind: principal.kind, tenantId: principal.kind === 'tenant' ? principal.tenantId : null, reviewer: principal.reviewer === true };
    if (head === 'proposals' && id === undefined && method === 'GET') {
      const status = query(req).get('status');
      if (status !== null && status !== '' && !(PROPOSAL_STATUSES as readonly string[]).includes(status)) throw new UeeError('VALIDATION_FAILED', `unknown status ${status}`, { hint: PROPOSAL_STATUSES.join(', ') });
      return { proposals: await review.list(principal, { status: status ? (status as ProposalStatus) : undefined, tenantId: scopeParam(req) }) };
    }
    if (head === 'proposals' && id !== undefined && action === undefined && method === 'GET') {
      const p = await review.get(principal, id);
      return { proposal: p, diffs: p.bundle.files.map((f) => ({ path: f.path, rows: sideBySide(f.before, f.after) })) };
    }
    if (head === 'proposals' && id !== undefined && method === 'POST') {
      if (action === 'approve') return { proposal: await review.approve(principal, id, await comment(req)) };
      if (action === 'reject') return { proposal: await review.reject(principal, id, await comment(req)) };
      if (action === 'rebase') return { proposal: await review.rebase(principal, id) };
    }
    if (head === 'audit' && method === 'GET') return { entries: await review.audit(principal, oneScope(principal, req)) };
    if (head === 'policy' && method === 'GET') return { policy: await review.policy(oneScope(principal, req)) };
    if (head === 'policy' && method === 'PUT') return { policy: await review.setPolicy(principal, oneScope(principal, req), await readJsonBody(req, 64 * 1024)) };
    if (head === 'plugins' && method === 'GET') return readTool(principal, 'plugin_list', {});
    if (head === 'dead-letters' && method === 'GET') return readTool(principal, 'dead_letter_list', { limit: 100 });
    if (head === 'experiments' && method === 'GET') {
      // a tenant sees its own; an admin one tenant (?tenantId=) or every tenant's
      const scope = scopeParam(req);
      const tenants = principal.kind === 'tenant' ? [principal.tenantId] : scope != null ? [scope] : (await app.store.tenants.list()).map((t) => t.tenantId);
      const experiments: unknown[] = [];
      for (const tenantId of tenants) {
        const args = principal.kind === 'tenant' ? {} : { tenantId };
        const listed = (await readTool(principal, 'experiment_report', args)).experiments as Array<{ id: string; startedAt: string }>;
        for (const e of listed.sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, 20)) {
          const r = await readTool(principal, 'experiment_report', { ...args, id: e.id });
          experiments.push({ tenantId, experiment: (r.experiments as unknown[])[0], variants: r.variants ?? [], shadow: r.shadow ?? null, recommendation: r.recommendation ?? '' });
        }
      }
      return { experiments };
    }
    if (head === 'metrics' && method === 'GET') {
      const visible = new Set(((await readTool(principal, 'plugin_list', {})).plugins as Array<{ pluginId: string }>).map((p) => p.pluginId));
      const all = app.runtime?.router.metrics.snapshot() ?? [];
      return { at: new Date().toISOString(), runtime: app.runtime !== undefined, plugins: all.filter((m) => visible.has(m.pluginId)) };
    }
    throw new UeeError('NOT_FOUND', `no review API ${method} /review/api/${parts.join('/')}`, { hint: 'see the review section of the README' });
  };

  http.mount('/review', async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rest = path.replace(/^\/review\/?/, '');
    if (!rest.startsWith('api/')) {
      const refused = door.guard.check(req);
      if (refused) throw new UeeError('TENANT_FORBIDDEN', `Forbidden: ${refused}`, { hint: 'open the page by an allowed host name' });
      const asset = assets.get(rest);
      if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) throw new UeeError('NOT_FOUND', `no page ${path}`, { hint: 'open /review' });
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const { principal } = admitOrThrow(door, req, res);
    const parts = rest.slice('api/'.length).split('/').filter((s) => s.length > 0).map(decodeURIComponent);
    sendJson(res, 200, await api(principal, req, parts));
  });
}
