import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../core/index.js';
import { PrincipalPool, PrincipalRateLimiter, type UeeError } from '../../core/index.js';
import { FRONT_DOOR_ENV, type FrontDoorConfig, type UeeConfig } from '../../config/index.js';
import { sendJsonRpcError, sendUnauthorized, TokenAuthenticator, type AuthResult } from './auth.js';
import { OriginGuard } from './origin-guard.js';

/** The outcome of {@link FrontDoor.admit}. */
export type Admission =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'forbidden'; message: string }
  | { ok: false; reason: 'unauthorized'; auth: Extract<AuthResult, { ok: false }> }
  | { ok: false; reason: 'limited'; error: UeeError };

/**
 * Everything an HTTP request passes before it reaches a transport or an API: the DNS-rebinding
 * guard, bearer-token authentication, and the per-principal request rate; plus the per-principal
 * pools of MCP sessions and SSE streams the transports take from. One server has one front door,
 * shared by `/mcp`, `/sse`, `/v1` and `/status`, so a principal's limits hold across all of them.
 */
export class FrontDoor {
  readonly auth: TokenAuthenticator;
  readonly guard: OriginGuard;
  readonly rate: PrincipalRateLimiter;
  /** `/mcp` exchanges in flight (Streamable HTTP is stateless: one share per request while it runs). */
  readonly sessions: PrincipalPool;
  /** Open `/sse` streams. */
  readonly streams: PrincipalPool;

  constructor(
    config: Pick<UeeConfig, 'mcp' | 'http'>,
    readonly limits: FrontDoorConfig,
  ) {
    this.auth = new TokenAuthenticator(config.mcp.tokens, config.mcp.anonymous);
    this.guard = new OriginGuard({ bindHost: config.http.host, allowedHosts: config.mcp.allowedHosts, allowedOrigins: config.mcp.allowedOrigins });
    const named = (key: keyof FrontDoorConfig) => ({ limit: limits[key], setting: FRONT_DOOR_ENV[key] });
    this.rate = new PrincipalRateLimiter({ perSecond: named('requestsPerSecond'), burst: named('requestBurst') });
    this.sessions = new PrincipalPool({
      what: 'concurrent MCP requests',
      perPrincipal: named('sessionsPerPrincipal'),
      total: named('sessionsMax'),
      advice: 'wait for your calls in flight to finish (or cancel them) before sending more',
      retryAfterMs: 1000,
    });
    this.streams = new PrincipalPool({
      what: 'SSE streams',
      perPrincipal: named('streamsPerPrincipal'),
      total: named('streamsMax'),
      advice: 'close SSE streams you no longer use, or use Streamable HTTP at /mcp',
      retryAfterMs: 5000,
    });
  }

  /** Guard, authenticate and rate-limit one request. */
  admit(req: IncomingMessage): Admission {
    const refused = this.guard.check(req);
    if (refused) return { ok: false, reason: 'forbidden', message: refused };
    const auth = this.auth.authenticate(req);
    if (!auth.ok) return { ok: false, reason: 'unauthorized', auth };
    try {
      this.rate.take(auth.principal);
    } catch (err) {
      return { ok: false, reason: 'limited', error: err as UeeError };
    }
    return { ok: true, principal: auth.principal };
  }
}

/** Answers a refused admission the way MCP clients expect (JSON-RPC error body, HTTP status). */
export function sendRefusal(res: ServerResponse, refusal: Exclude<Admission, { ok: true }>): void {
  if (refusal.reason === 'forbidden') return sendJsonRpcError(res, 403, -32000, `Forbidden: ${refusal.message}`);
  if (refusal.reason === 'unauthorized') return sendUnauthorized(res, refusal.auth);
  sendLimited(res, refusal.error);
}

/** 429 with `retry-after` and the typed error (`code`, `hint`, `details`) as JSON-RPC error data. */
export function sendLimited(res: ServerResponse, error: UeeError): void {
  const retryAfterMs = typeof error.details.retryAfterMs === 'number' ? error.details.retryAfterMs : 1000;
  sendJsonRpcError(res, 429, -32000, `${error.code}: ${error.message}`, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }, error.toJSON());
}
