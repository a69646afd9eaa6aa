import { z } from 'zod';
import { UeeError } from '../core/index.js';
import { QuotaConfigSchema, type QuotaConfig } from '../model-gateway/policy/quotas.js';

/**
 * Limits of the front door, each per principal (one bearer token, or the stdio identity) and, where
 * it matters, in total. One principal reaching its limit is refused with `RATE_LIMITED` or
 * `LIMIT_EXCEEDED`; every other principal is unaffected. Admin principals have per-principal limits
 * too but are exempt from the totals, so an operator can always get in.
 */
export interface FrontDoorConfig {
  /** `/mcp` requests of one principal in flight at once (`/mcp` is stateless: there are no sessions to keep). @default 16 */
  sessionsPerPrincipal: number;
  /** `/mcp` requests in flight in total (non-admin principals). @default 1000 */
  sessionsMax: number;
  /** Open legacy SSE streams (`/sse`) of one principal. @default 4 */
  streamsPerPrincipal: number;
  /** Open `/sse` streams in total (non-admin principals). @default 256 */
  streamsMax: number;
  /** An `/sse` stream that posts no message this long is closed. @default 300000 (5 min) */
  streamIdleMs: number;
  /** Requests per second one principal may send (token bucket refill) on `/mcp`, `/sse`, `/v1`, `/status`. @default 20 */
  requestsPerSecond: number;
  /** Requests one principal may send in a burst (token bucket size). @default 60 */
  requestBurst: number;
  /** Sandboxes (`plugin_test`, `dead_letter_replay`) one principal may run at once. @default 2 */
  sandboxesPerPrincipal: number;
  /** Sandboxes running at once in total (non-admin principals). @default 4 */
  sandboxesMax: number;
  /** Memory one principal's running sandboxes may reserve (wasm memory cap + worker heap), MiB. @default 512 */
  sandboxMemoryMbPerPrincipal: number;
  /** Memory all running sandboxes may reserve, MiB. @default 1024 */
  sandboxMemoryMbMax: number;
  /** Compiles (`plugin_compile`, `plugin_deploy` from source, `plugin_scaffold`) one principal may run at once; WAT is not counted. @default 2 */
  compilesPerPrincipal: number;
  /** Compiles running at once in total (non-admin principals): each is a CPU-bound thread or process. @default 4 */
  compilesMax: number;
}

/** Environment variable behind each front-door limit. */
export const FRONT_DOOR_ENV: Record<keyof FrontDoorConfig, string> = {
  sessionsPerPrincipal: 'UEE_MCP_SESSIONS_PER_PRINCIPAL',
  sessionsMax: 'UEE_MCP_SESSIONS_MAX',
  streamsPerPrincipal: 'UEE_SSE_STREAMS_PER_PRINCIPAL',
  streamsMax: 'UEE_SSE_STREAMS_MAX',
  streamIdleMs: 'UEE_SSE_IDLE_MS',
  requestsPerSecond: 'UEE_REQUESTS_PER_SECOND',
  requestBurst: 'UEE_REQUEST_BURST',
  sandboxesPerPrincipal: 'UEE_SANDBOXES_PER_PRINCIPAL',
  sandboxesMax: 'UEE_SANDBOXES_MAX',
  sandboxMemoryMbPerPrincipal: 'UEE_SANDBOX_MEMORY_MB_PER_PRINCIPAL',
  sandboxMemoryMbMax: 'UEE_SANDBOX_MEMORY_MB_MAX',
  compilesPerPrincipal: 'UEE_COMPILES_PER_PRINCIPAL',
  compilesMax: 'UEE_COMPILES_MAX',
};

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const FrontDoorSchema = z.object({
  sessionsPerPrincipal: int(1, 100_000, 16),
  sessionsMax: int(1, 1_000_000, 1000),
  streamsPerPrincipal: int(1, 100_000, 4),
  streamsMax: int(1, 1_000_000, 256),
  streamIdleMs: int(1000, 86_400_000, 5 * 60_000),
  requestsPerSecond: int(1, 1_000_000, 20),
  requestBurst: int(1, 1_000_000, 60),
  sandboxesPerPrincipal: int(1, 1024, 2),
  sandboxesMax: int(1, 4096, 4),
  sandboxMemoryMbPerPrincipal: int(16, 1_048_576, 512),
  sandboxMemoryMbMax: int(16, 1_048_576, 1024),
  compilesPerPrincipal: int(1, 1024, 2),
  compilesMax: int(1, 4096, 4),
});

/** Reads and validates the front-door limits from the environment; a bad value is `CONFIG_INVALID` naming its variable. */
export function parseFrontDoorSettings(env: NodeJS.ProcessEnv): FrontDoorConfig {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(FRONT_DOOR_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const result = FrontDoorSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? '') as keyof FrontDoorConfig;
    const name = FRONT_DOOR_ENV[key] ?? 'a front-door limit';
    throw new UeeError('CONFIG_INVALID', `setting ${name}: ${issue?.message ?? 'invalid'} (got "${raw[key] ?? ''}")`, {
      details: { setting: key, env: name },
      hint: `set ${name} to a whole number in range, or unset it for the default`,
    });
  }
  const c = result.data;
  if (c.sessionsPerPrincipal > c.sessionsMax) {
    throw new UeeError('CONFIG_INVALID', `setting ${FRONT_DOOR_ENV.sessionsPerPrincipal} (${c.sessionsPerPrincipal}) exceeds ${FRONT_DOOR_ENV.sessionsMax} (${c.sessionsMax})`, {
      details: { setting: 'sessionsPerPrincipal', env: FRONT_DOOR_ENV.sessionsPerPrincipal },
      hint: `lower ${FRONT_DOOR_ENV.sessionsPerPrincipal} or raise ${FRONT_DOOR_ENV.sessionsMax}`,
    });
  }
  return c;
}

/** Environment variable of the model gateway's quotas. */
export const MODEL_QUOTAS_ENV = 'UEE_MODEL_QUOTAS';

/**
 * Parses `UEE_MODEL_QUOTAS`: JSON of the gateway's quota configuration (`tenantDefault`, `tenants`,
 * `pluginDefault`, `plugins`, `leaseMs`), e.g. `{"tenantDefault":{"tokens":100000,"concurrency":4}}`.
 * Unset: no quotas. A bad value is `CONFIG_INVALID` naming the variable.
 */
export function parseModelQuotas(env: NodeJS.ProcessEnv): QuotaConfig | undefined {
  const raw = env[MODEL_QUOTAS_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new UeeError('CONFIG_INVALID', `setting ${MODEL_QUOTAS_ENV}: not valid JSON`, { details: { env: MODEL_QUOTAS_ENV }, hint: 'use e.g. {"tenantDefault":{"tokens":100000,"concurrency":4}}' });
  }
  const result = QuotaConfigSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UeeError('CONFIG_INVALID', `setting ${MODEL_QUOTAS_ENV}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`, {
      details: { env: MODEL_QUOTAS_ENV },
      hint: 'keys: tenantDefault, tenants, pluginDefault, plugins (each {windowMs, calls, tokens, cost, callsPerSecond, concurrency}) and leaseMs',
    });
  }
  return json as QuotaConfig;
}
