import { z } from 'zod';
import { UeeError, newId, parseOrThrow } from '../../core/index.js';
import type { BudgetLedger, LeaseRef, LedgerLine } from './ledger.js';

/** Limits of one scope (a tenant, or a plugin within a tenant). Absent limits are unlimited. */
export const QuotaLimitsSchema = z
  .object({
    /** Length of the quota window for `calls`, `tokens` and `cost`. @default 60000 */
    windowMs: z.number().int().min(1000).max(31 * 24 * 3600_000).default(60_000),
    /** Calls per window. */
    calls: z.number().int().min(0).optional(),
    /** Input + output tokens per window. */
    tokens: z.number().int().min(0).optional(),
    /** Credits per window (the unit model costs are priced in). */
    cost: z.number().min(0).optional(),
    /** Rate limit: calls per second (fixed one-second windows). */
    callsPerSecond: z.number().int().min(0).optional(),
    /** Calls in flight at once. */
    concurrency: z.number().int().min(0).optional(),
  })
  .strict();
/** Validated limits. */
export type QuotaLimits = z.infer<typeof QuotaLimitsSchema>;

/** Quotas per tenant and per plugin (per plugin name, within each tenant). */
export const QuotaConfigSchema = z
  .object({
    /** Limits of tenants without their own entry. */
    tenantDefault: QuotaLimitsSchema.optional(),
    tenants: z.record(z.string(), QuotaLimitsSchema).default({}),
    /** Limits of plugins without their own entry. */
    pluginDefault: QuotaLimitsSchema.optional(),
    /** Plugin name → limits (applied per tenant the plugin serves). */
    plugins: z.record(z.string(), QuotaLimitsSchema).default({}),
    /**
     * Lifetime of a concurrency slot's lease without renewal. A running call renews its lease every
     * third of this; a gateway process that dies frees its slots after at most this long.
     * @default 30000
     */
    leaseMs: z.number().int().min(50).max(3_600_000).default(30_000),
  })
  .strict();
/** Input of {@link QuotaPolicy}. */
export type QuotaConfig = z.input<typeof QuotaConfigSchema>;

/** Credits are accounted in integer micro-credits so every ledger can use integer counters. */
export const MICRO = 1_000_000;

/** What one call is expected to consume at most. */
export interface Estimate {
  tokens: number;
  cost: number;
}

/** Budget held for one in-flight call; hand it back to {@link QuotaPolicy.settle}. */
export interface Reservation {
  readonly lines: Array<LedgerLine & { dim: Dimension }>;
  settled: boolean;
  /** Renews the concurrency leases while the call runs; cleared on settle. */
  renewal?: NodeJS.Timeout | undefined;
}

type Dimension = 'calls' | 'tokens' | 'cost' | 'rate' | 'concurrency';

/**
 * Turns quota configuration into ledger reservations: before a call, every applicable counter of
 * the tenant and the plugin is reserved in one atomic ledger operation (calls 1, tokens and cost at
 * their maximum estimate, a concurrency slot); after the call, {@link settle} refunds the unused
 * tokens and cost and frees the slot. A refused reservation throws `QUOTA_EXCEEDED` (calls, tokens,
 * cost) or `RATE_LIMITED` (rate, concurrency) with `details.retryAfterMs`, and changes nothing.
 * Concurrency slots are leases renewed every `leaseMs / 3` until the call settles, so a long call
 * keeps its slot and a dead process's slots free themselves after `leaseMs`.
 */
export class QuotaPolicy {
  readonly #config: z.infer<typeof QuotaConfigSchema>;

  constructor(
    config: QuotaConfig,
    private readonly ledger: BudgetLedger,
    private readonly clock: () => number = Date.now,
  ) {
    this.#config = parseOrThrow(QuotaConfigSchema, config, 'quota configuration', 'CONFIG_INVALID');
  }

  /** Reserves budget for one call of `tenantId` (and `plugin`, when a plugin calls). */
  async reserve(tenantId: string | null, plugin: string | undefined, estimate: Estimate): Promise<Reservation> {
    const now = this.clock();
    const lines = this.#lines(tenantId, plugin, estimate, now);
    if (lines.length === 0) return { lines, settled: false };
    const outcome = await this.ledger.reserve(lines);
    if (!outcome.ok) throw this.#refusal(lines[outcome.index]!, outcome.used, tenantId, plugin, now);
    const reservation: Reservation = { lines, settled: false };
    const leases = leasesOf(reservation);
    if (leases.length > 0) {
      const every = Math.max(10, Math.floor(this.#config.leaseMs / 3));
      reservation.renewal = setInterval(() => void this.ledger.renew(leases).catch(() => undefined), every);
      reservation.renewal.unref();
    }
    return reservation;
  }

  /**
   * Reserves `extra` tokens and cost on top of an existing reservation (a hybrid chain learns its
   * inner model's input only after pre-processing). All-or-nothing like {@link reserve}.
   */
  async topUp(reservation: Reservation, extra: Estimate, tenantId: string | null, plugin: string | undefined): Promise<void> {
    const lines = reservation.lines
      .filter((l) => l.dim === 'tokens' || l.dim === 'cost')
      .map((l) => ({ ...l, amount: l.dim === 'tokens' ? Math.ceil(extra.tokens) : Math.ceil(extra.cost * MICRO) }))
      .filter((l) => l.amount > 0);
    if (lines.length === 0) return;
    const outcome = await this.ledger.reserve(lines);
    if (!outcome.ok) throw this.#refusal(lines[outcome.index]!, outcome.used, tenantId, plugin, this.clock());
    for (const l of lines) {
      const held = reservation.lines.find((r) => r.key === l.key);
      if (held) held.amount += l.amount;
    }
  }

  #refusal(line: LedgerLine & { dim: Dimension }, used: number, tenantId: string | null, plugin: string | undefined, now: number): UeeError {
    const outcome = { used };
    const windowMs = line.dim === 'rate' ? 1000 : line.dim === 'concurrency' ? 0 : line.ttlMs / 2;
    const retryAfterMs = windowMs === 0 ? 100 : windowMs - (now % windowMs);
    const scope = line.key.startsWith('t:') ? 'tenant' : 'plugin';
    const shown = line.dim === 'cost' ? { limit: line.limit / MICRO, used: outcome.used / MICRO, requested: line.amount / MICRO } : { limit: line.limit, used: outcome.used, requested: line.amount };
    const code = line.dim === 'rate' || line.dim === 'concurrency' ? 'RATE_LIMITED' : 'QUOTA_EXCEEDED';
    return new UeeError(code, `${scope} ${line.dim} ${code === 'RATE_LIMITED' ? 'limit' : 'quota'} reached (${shown.used} used of ${shown.limit}, ${shown.requested} requested)`, {
      retryable: true,
      details: { scope, dimension: line.dim, tenantId, ...(plugin === undefined ? {} : { plugin }), ...shown, retryAfterMs },
      hint: code === 'RATE_LIMITED' ? `retry after ${retryAfterMs} ms` : `retry after ${retryAfterMs} ms, or raise the ${scope}'s ${line.dim} quota`,
    });
  }

  /** Settles a reservation with what the call really consumed. Idempotent per reservation. */
  async settle(reservation: Reservation, actual: Estimate): Promise<void> {
    if (reservation.settled) return;
    reservation.settled = true;
    clearInterval(reservation.renewal);
    const leases = leasesOf(reservation);
    const deltas = reservation.lines.flatMap((l) => {
      if (l.dim === 'tokens') return [{ key: l.key, delta: Math.ceil(actual.tokens) - l.amount, ttlMs: l.ttlMs }];
      if (l.dim === 'cost') return [{ key: l.key, delta: Math.ceil(actual.cost * MICRO) - l.amount, ttlMs: l.ttlMs }];
      return [];
    });
    await Promise.all([this.ledger.adjust(deltas.filter((d) => d.delta !== 0)), this.ledger.release(leases)]);
  }

  /** Current-window consumption of a tenant (or a plugin in it) next to its limits. */
  async usage(tenantId: string | null, plugin?: string): Promise<Record<string, { used: number; limit: number }>> {
    const lines = this.#lines(tenantId, plugin, { tokens: 0, cost: 0 }, this.clock()).filter((l) => (plugin === undefined ? l.key.startsWith('t:') : l.key.startsWith('p:')));
    const values = await this.ledger.read(lines.map((l) => l.key));
    return Object.fromEntries(
      lines.map((l, i) => {
        const scale = l.dim === 'cost' ? MICRO : 1;
        return [l.dim, { used: (values[i] ?? 0) / scale, limit: l.limit / scale }];
      }),
    );
  }

  #lines(tenantId: string | null, plugin: string | undefined, est: Estimate, now: number): Array<LedgerLine & { dim: Dimension }> {
    const tenantKey = tenantId ?? '_global';
    const scopes: Array<[string, QuotaLimits | undefined]> = [[`t:${tenantKey}`, this.#config.tenants[tenantKey] ?? this.#config.tenantDefault]];
    if (plugin !== undefined) scopes.push([`p:${tenantKey}:${plugin}`, this.#config.plugins[plugin] ?? this.#config.pluginDefault]);
    const out: Array<LedgerLine & { dim: Dimension }> = [];
    for (const [scope, limits] of scopes) {
      if (!limits) continue;
      const w = Math.floor(now / limits.windowMs);
      const windowed = (dim: Dimension, limit: number | undefined, amount: number): void => {
        if (limit !== undefined) out.push({ dim, key: `${scope}:${dim}:${limits.windowMs}:${w}`, amount, limit, ttlMs: limits.windowMs * 2 });
      };
      windowed('calls', limits.calls, 1);
      windowed('tokens', limits.tokens, Math.ceil(est.tokens));
      windowed('cost', limits.cost === undefined ? undefined : Math.floor(limits.cost * MICRO), Math.ceil(est.cost * MICRO));
      if (limits.callsPerSecond !== undefined) out.push({ dim: 'rate', key: `${scope}:rate:${Math.floor(now / 1000)}`, amount: 1, limit: limits.callsPerSecond, ttlMs: 2000 });
      if (limits.concurrency !== undefined) out.push({ dim: 'concurrency', key: `${scope}:inflight`, amount: 1, limit: limits.concurrency, ttlMs: this.#config.leaseMs, lease: newId() });
    }
    return out;
  }
}

function leasesOf(reservation: Reservation): LeaseRef[] {
  return reservation.lines.flatMap((l) => (l.lease === undefined ? [] : [{ key: l.key, lease: l.lease, ttlMs: l.ttlMs }]));
}
