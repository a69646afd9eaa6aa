import { z } from 'zod';
import { TenantIdSchema, UeeError, parseOrThrow } from '../../core/index.js';
import { DEFAULT_BUS_OPTIONS, type BusOptions, type ClaimOptions, type PruneOptions, type PublishOptions, type ReadOptions } from '../port.js';
import { isBusEventId } from './codec.js';

const BusOptionsSchema = z
  .object({
    maxLength: z.number().int().min(1),
    dedupeWindowMs: z.number().int().min(1),
    settledDedupeMs: z.number().int().min(2),
    maxDeadLetters: z.number().int().min(1),
    maxDeadLettersPerTenant: z.number().int().min(1),
    maxQueueLength: z.number().int().min(1),
  })
  .strict()
  .refine((o) => o.settledDedupeMs <= o.dedupeWindowMs, {
    message: 'settledDedupeMs must not exceed dedupeWindowMs (a settled id is remembered at most as long as an unsettled one)',
    path: ['settledDedupeMs'],
  });

/** Completes partial {@link BusOptions} with the defaults and rejects bad values (`CONFIG_INVALID`). */
export function resolveBusOptions(partial: Partial<BusOptions> | undefined): BusOptions {
  return parseOrThrow(BusOptionsSchema, { ...DEFAULT_BUS_OPTIONS, ...partial }, 'bus options', 'CONFIG_INVALID');
}

/**
 * The last moment (ms since the epoch, the bus's clock) a publish read at `readAt` may be applied
 * ({@link PublishOptions.readAt}): half of `settledDedupeMs` later. `undefined` when not fenced;
 * `VALIDATION_FAILED` for a `readAt` that is not a time.
 */
export function publishDeadline(options: PublishOptions | undefined, settledDedupeMs: number): number | undefined {
  const readAt = options?.readAt;
  if (readAt === undefined) return undefined;
  if (!Number.isFinite(readAt) || readAt < 0) {
    throw new UeeError('VALIDATION_FAILED', `readAt must be a time in ms since the epoch, got ${String(readAt)}`, { details: { readAt } });
  }
  return Math.floor(readAt + settledDedupeMs / 2);
}

/** The `FENCED` refusal of a publish read too long ago ({@link PublishOptions.readAt}): nothing was appended. */
export function stalePublish(deadline: number, now: number): UeeError {
  return new UeeError('FENCED', `these events were read ${String(now - deadline)} ms too long ago to publish: their ids may already be settled and forgotten, so a copy could not be recognised; nothing was published`, {
    details: { reason: 'stale', deadline, now },
    hint: 'read the events again from their source (the outbox) and publish what is still unpublished',
  });
}

/** Largest `count` a single read, claim or listing may ask for. */
export const MAX_BATCH = 10_000;
/** Default `count` of reads, claims and listings. */
export const DEFAULT_COUNT = 100;

/** A count option checked to be an integer in 1..{@link MAX_BATCH}. */
export function checkCount(count: number | undefined, what: string): number {
  const value = count ?? DEFAULT_COUNT;
  if (!Number.isInteger(value) || value < 1 || value > MAX_BATCH) {
    throw new UeeError('VALIDATION_FAILED', `${what} count must be an integer from 1 to ${MAX_BATCH}, got ${String(count)}`, {
      details: { count },
    });
  }
  return value;
}

/** Normalised {@link ReadOptions}. */
export function checkReadOptions(options: ReadOptions | undefined): { count: number; blockMs: number; lease: string | undefined } {
  const blockMs = options?.blockMs ?? 0;
  if (!Number.isFinite(blockMs) || blockMs < 0) {
    throw new UeeError('VALIDATION_FAILED', `blockMs must be a non-negative number, got ${String(blockMs)}`, { details: { blockMs } });
  }
  return { count: checkCount(options?.count, 'read'), blockMs: Math.floor(blockMs), lease: checkLeaseOption(options?.lease) };
}

function checkLeaseOption(lease: string | undefined): string | undefined {
  return lease === undefined ? undefined : checkName(lease, 'lease');
}

/**
 * The `FENCED` refusal of a read or claim made under a lease `consumer` does not hold on the bus
 * ({@link ReadOptions.lease}): nothing was taken.
 */
export function notHolder(lease: string, consumer: string): UeeError {
  return new UeeError('FENCED', `"${consumer}" does not hold the lease "${lease}": nothing was read`, {
    details: { lease, consumer },
    hint: `take the lease "${lease}" again (lease()) before reading; another process may hold it now`,
  });
}

/** Normalised {@link ClaimOptions}. */
export function checkClaimOptions(options: ClaimOptions): { minIdleMs: number; count: number; lease: string | undefined } {
  const minIdleMs = options.minIdleMs;
  if (!Number.isFinite(minIdleMs) || minIdleMs < 0) {
    throw new UeeError('VALIDATION_FAILED', `minIdleMs must be a non-negative number, got ${String(minIdleMs)}`, { details: { minIdleMs } });
  }
  return { minIdleMs: Math.floor(minIdleMs), count: checkCount(options.count, 'claim'), lease: checkLeaseOption(options.lease) };
}

/** Normalised {@link PruneOptions}. */
export function checkPruneOptions(options: PruneOptions): { idleMs: number; consumer: string | undefined } {
  const idleMs = options.idleMs;
  if (!Number.isFinite(idleMs) || idleMs < 0) {
    throw new UeeError('VALIDATION_FAILED', `idleMs must be a non-negative number, got ${String(idleMs)}`, { details: { idleMs } });
  }
  return { idleMs: Math.floor(idleMs), consumer: options.consumer === undefined ? undefined : checkName(options.consumer, 'consumer') };
}

const NAME_RE = /^[^\s]{1,200}$/;

/** Checks a group or consumer name: 1-200 characters, no whitespace. */
export function checkName(value: string, what: 'group' | 'consumer' | 'lease' | 'owner' | 'counter' | 'roster' | 'channel'): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw new UeeError('VALIDATION_FAILED', `${what} names are 1-200 characters without whitespace, got ${JSON.stringify(value)}`, {
      details: { [what]: value },
    });
  }
  return value;
}

/**
 * The key a tenant's dead letters are kept under ('' for the platform's own, `null`); `undefined`
 * (every tenant) stays so. `VALIDATION_FAILED` for anything but a tenant id, `null` or `undefined`.
 */
export function deadLetterTenant(tenantId: string | null | undefined): string | undefined {
  if (tenantId === undefined) return undefined;
  if (tenantId === null) return '';
  if (typeof tenantId !== 'string' || !TenantIdSchema.safeParse(tenantId).success) {
    throw new UeeError('VALIDATION_FAILED', `tenantId must be a tenant id or null, got ${JSON.stringify(tenantId)}`, {
      details: { tenantId },
      hint: 'pass a registered tenant id, or null for the platform\'s own dead letters',
    });
  }
  return tenantId;
}

const ENTRY_ID_RE = /^(\d{1,19})-(\d{1,19})$/;

/** Checks stream entry ids (`ms-seq`); `VALIDATION_FAILED` names the first bad one. */
export function checkEntryIds(ids: readonly string[]): void {
  for (const id of ids) {
    if (typeof id !== 'string' || !ENTRY_ID_RE.test(id)) {
      throw new UeeError('VALIDATION_FAILED', `invalid stream entry id ${JSON.stringify(id)}: expected "ms-seq"`, { details: { id } });
    }
  }
}

/** Checks the event ids given to `EventBus.settle`: strings of 1-128 characters, as publish accepts. */
export function checkEventIds(ids: readonly string[]): void {
  if (!Array.isArray(ids)) {
    throw new UeeError('VALIDATION_FAILED', 'settle takes an array of event ids', { details: { ids: typeof ids } });
  }
  for (const id of ids) {
    if (!isBusEventId(id)) {
      throw new UeeError('VALIDATION_FAILED', `invalid event id ${JSON.stringify(id)}: expected 1-128 characters`, { details: { id } });
    }
  }
}

/** The sequence part of an `ms-seq` entry id (already checked by {@link checkEntryIds}). */
export function entrySeq(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** Orders two `ms-seq` entry ids (already checked by {@link checkEntryIds}) as the stream does: negative when `a` comes first. */
export function compareIds(a: string, b: string): number {
  const ams = Number(a.slice(0, a.indexOf('-')));
  const bms = Number(b.slice(0, b.indexOf('-')));
  return ams !== bms ? ams - bms : entrySeq(a) - entrySeq(b);
}

/** Checks a counter increment: a safe integer (`VALIDATION_FAILED` otherwise). */
export function checkCounterAdd(add: number): number {
  if (!Number.isSafeInteger(add)) {
    throw new UeeError('VALIDATION_FAILED', `a counter increment is an integer, got ${String(add)}`, { details: { add }, hint: 'pass 0 to read the counter, or a whole number to add' });
  }
  return add;
}
