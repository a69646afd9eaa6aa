import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/index.js';
import { UeeError } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import { createOpenAiHandler, type EndpointCaller } from '../model-gateway/index.js';
import type { HttpServer } from './http.js';
import type { FrontDoor } from './mcp/front-door.js';

/** The front door's verdict as a thrown `UeeError` (for JSON routes, the review API and the `/v1` endpoint). */
export function admitOrThrow(door: FrontDoor, req: IncomingMessage, res: ServerResponse | undefined): ReturnType<FrontDoor['admit']> & { ok: true } {
  const a = door.admit(req);
  if (a.ok) return a;
  if (a.reason === 'forbidden') throw new UeeError('TENANT_FORBIDDEN', `Forbidden: ${a.message}`, { details: { reason: 'HOST_NOT_ALLOWED' }, hint: 'call the server by an allowed host name (UEE_MCP_ALLOWED_HOSTS)' });
  if (a.reason === 'unauthorized') {
    res?.setHeader('www-authenticate', 'Bearer realm="uee"');
    throw new UeeError('UNAUTHORIZED', a.auth.description, { hint: 'send Authorization: Bearer <token> (a token of UEE_TOKENS)' });
  }
  const retryAfterMs = typeof a.error.details.retryAfterMs === 'number' ? a.error.details.retryAfterMs : 1000;
  res?.setHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  throw a.error;
}

/**
 * `GET /healthz`: a bare liveness answer (`{ ok }`), the only thing served without a token.
 * `GET /status`: the operator snapshot (store and bus locations, bus length, tenant count, runtime),
 * for admin tokens only, behind the same Host guard, authentication and request rate as MCP; `extra`
 * adds fields (e.g. the compiler's warm-up state).
 */
export function mountStatus(http: HttpServer, app: UeeApp, door: FrontDoor, extra: () => Record<string, unknown> = () => ({})): void {
  http.route('GET', '/healthz', () => Promise.resolve({ ok: app.state === 'running' }));
  http.route('GET', '/status', async (req, res) => {
    const { principal } = admitOrThrow(door, req, res);
    if (principal.kind !== 'admin') {
      throw new UeeError('TENANT_FORBIDDEN', '/status is for admin tokens: it describes every tenant and the backends', { hint: 'use an admin token, or GET /healthz for liveness' });
    }
    return { ...(await app.status()), ...extra() };
  });
}

/**
 * Mounts the OpenAI-compatible model endpoint at `/v1` behind the front door: the same tokens as MCP
 * (admin → global scope, tenant → its tenant), the same per-principal request rate, and read-only
 * tokens may list models but not call them.
 */
export function mountModelEndpoint(http: HttpServer, app: UeeApp, door: FrontDoor, logger: Logger): void {
  const admit = (req: IncomingMessage): EndpointCaller => {
    const { principal } = admitOrThrow(door, req, undefined);
    return principal.kind === 'tenant'
      ? { tenantId: principal.tenantId, readOnly: principal.readOnly, actor: principal.id }
      : { tenantId: null, readOnly: false, actor: principal.id };
  };
  http.mount('/v1', createOpenAiHandler({ gateway: app.gateway, admit, logger }));
}
