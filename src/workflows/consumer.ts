import { Doorbell, toUeeError, type EventEnvelope, type Logger } from '../core/index.js';
import type { Delivery, EventBus } from '../bus/index.js';

/** Tuning of the workflow queue's consumer (see {@link WorkflowConsumer}). */
export interface WorkflowConsumerOptions {
  /** First wait on an empty queue, doubling up to `maxIntervalMs`. @default 50 */
  intervalMs?: number;
  /** Longest wait on an empty queue. @default 1000 */
  maxIntervalMs?: number;
  /** Entries another consumer read and left unacked this long are claimed (a crashed process's). @default 10000 */
  claimIdleMs?: number;
  /** Events handled at once, all tenants together. @default 32 */
  concurrency?: number;
  /** Events of one tenant handled at once: a tenant's slow model calls never take more. @default 4 */
  perTenant?: number;
  /** Events read and not done yet, at most: reading goes on past a tenant at its cap up to this. @default 1000 */
  maxHeld?: number;
  /**
   * Events of one tenant in hand (waiting or running), at most: what the consumer reads of a tenant
   * beyond this is parked — left pending and not renewed, so it is claimed again after `claimIdleMs`
   * (here or in another process) — and reading goes on to the other tenants' events behind it.
   * @default maxHeld / 10 (at least `perTenant`)
   */
  maxHeldPerTenant?: number;
}

/** The key under which a tenant's events take turns (the platform's own events: the empty string). */
type TenantKey = string;

/**
 * Reads the workflow service's queue and hands each event to `handle`, several at once: up to
 * `concurrency` in all and `perTenant` per tenant, the tenants taking turns — so one tenant's slow
 * model calls, or a burst of its timers, delay another tenant's events by a turn, not by the whole
 * backlog (handled one by one, 100 spawns calling a 10 s model held every tenant's timers for 17
 * minutes). The queue is one for all tenants and is read in order: what is read of a tenant past
 * `maxHeldPerTenant` in hand is parked (left pending, claimed again after `claimIdleMs`), so a
 * tenant's flood does not fill the consumer's hands and keep the others' events unread. Events of
 * one instance in hand run one after another, in queue order; a parked one may come back after a
 * later one of its instance, as it may when several processes read this queue side by side — every
 * workflow event applies only at the instance version it names, so a late one changes nothing.
 *
 * Each event is acked once handled; one that fails stays pending and is claimed again after
 * `claimIdleMs` (here or by another process). Everything read and not done is renewed, so another
 * process never claims an event that is only waiting for its tenant's turn or a long model call.
 */
export class WorkflowConsumer {
  readonly #bell = new Doorbell();
  #running = true;
  readonly #loop: Promise<void>;
  /** Read, not started, per tenant in queue order; a tenant with none is not listed. The map's order is the tenants' turns. */
  readonly #waiting = new Map<TenantKey, Delivery[]>();
  readonly #runningPerTenant = new Map<TenantKey, number>();
  /** The last event started per instance (else per event): the next one of its instance runs after it. */
  readonly #chains = new Map<string, Promise<void>>();
  /** Ids read and not done: renewed. */
  readonly #held = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #concurrency: number;
  readonly #perTenant: number;
  readonly #maxHeld: number;
  readonly #maxHeldPerTenant: number;
  /** Events in hand per tenant (waiting or running). */
  readonly #heldPerTenant = new Map<TenantKey, number>();
  /** Events parked since start: read past a tenant's share, left to be claimed again (tests read it). */
  parked = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly group: string,
    private readonly consumer: string,
    private readonly handle: (event: EventEnvelope) => Promise<void>,
    private readonly options: WorkflowConsumerOptions,
    private readonly log: Logger,
  ) {
    this.#concurrency = Math.max(1, options.concurrency ?? 32);
    this.#perTenant = Math.max(1, Math.min(this.#concurrency, options.perTenant ?? 4));
    this.#maxHeld = Math.max(this.#concurrency, options.maxHeld ?? 1000);
    this.#maxHeldPerTenant = Math.max(this.#perTenant, options.maxHeldPerTenant ?? Math.floor(this.#maxHeld / 10));
    this.#loop = this.#run();
  }

  /** Reads the queue now (something was queued in this process). */
  wake(): void {
    this.#bell.ring();
  }

  /** Stops reading and waits for the events in hand; those not started stay pending (claimed again later). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#bell.ring();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { bus, group, consumer, options } = this;
    const claimIdleMs = options.claimIdleMs ?? 10_000;
    const first = options.intervalMs ?? 50;
    const longest = Math.max(first, options.maxIntervalMs ?? 1_000);
    let interval = first;
    let lastClaim = 0;
    const renewer = setInterval(() => {
      if (this.#held.size === 0) return;
      bus.renew(group, consumer, [...this.#held]).catch((err: unknown) => this.log.warn('renewing workflow events in hand failed', { error: toUeeError(err).message }));
    }, Math.max(20, Math.floor(claimIdleMs / 3)));
    try {
      await bus.ensureQueue(group);
      while (this.#running) {
        let n = 0;
        this.#bell.clear();
        try {
          const room = Math.min(100, this.#maxHeld - this.#held.size);
          if (room > 0) {
            // Entries a crashed process read but never acked come back after claimIdleMs.
            const claim = Date.now() - lastClaim >= Math.min(claimIdleMs, 1000);
            if (claim) lastClaim = Date.now();
            const claimed = claim ? await bus.claimStale(group, consumer, { minIdleMs: claimIdleMs, count: room }) : [];
            const read = claimed.length < room ? await bus.read(group, consumer, { count: room - claimed.length, blockMs: 0 }) : [];
            const deliveries = [...claimed, ...read];
            n = deliveries.length;
            for (const d of deliveries) this.#enqueue(d);
            this.#pump();
          }
        } catch (err) {
          const e = toUeeError(err);
          if (e.code === 'CLOSED') break;
          this.log.warn('reading the workflow queue failed; retrying', { code: e.code, error: e.message });
        }
        if (n > 0) interval = first;
        // A settled event rings too: with the window full, the loop reads again as room frees.
        else if (this.#running && !(await this.#bell.wait(interval))) interval = Math.min(interval * 2, longest);
      }
    } finally {
      while (this.#inflight.size > 0) await Promise.all(this.#inflight);
      clearInterval(renewer);
    }
  }

  #enqueue(d: Delivery): void {
    if (this.#held.has(d.id)) return;
    const tenant = d.event.tenantId ?? '';
    const inHand = this.#heldPerTenant.get(tenant) ?? 0;
    if (inHand >= this.#maxHeldPerTenant) {
      // Parked: pending here and not renewed, so claimed again once idle claimIdleMs — one tenant's
      // flood never fills the consumer's hands and keeps the other tenants' events unread.
      this.parked++;
      return;
    }
    this.#heldPerTenant.set(tenant, inHand + 1);
    this.#held.add(d.id);
    const list = this.#waiting.get(tenant);
    if (list === undefined) this.#waiting.set(tenant, [d]);
    else list.push(d);
  }

  /** Starts waiting events while there is room, one per tenant per turn. */
  #pump(): void {
    let started = true;
    while (started && this.#running && this.#inflight.size < this.#concurrency) {
      started = false;
      for (const [tenant, list] of this.#waiting) {
        if (this.#inflight.size >= this.#concurrency) break;
        if ((this.#runningPerTenant.get(tenant) ?? 0) >= this.#perTenant) continue;
        this.#start(tenant, list.shift()!);
        // Its turn taken: to the back of the line (or off it, with nothing left).
        this.#waiting.delete(tenant);
        if (list.length > 0) this.#waiting.set(tenant, list);
        started = true;
      }
    }
  }

  #start(tenant: TenantKey, d: Delivery): void {
    this.#runningPerTenant.set(tenant, (this.#runningPerTenant.get(tenant) ?? 0) + 1);
    const instanceId = d.event.payload['instanceId'];
    const key = typeof instanceId === 'string' ? `i:${tenant}:${instanceId}` : `e:${d.event.eventId}`;
    const previous = this.#chains.get(key);
    const run = (previous ?? Promise.resolve()).then(() => this.#handleOne(d));
    this.#chains.set(key, run);
    const tracked: Promise<void> = run.then(() => {
      this.#inflight.delete(tracked);
      this.#held.delete(d.id);
      const inHand = (this.#heldPerTenant.get(tenant) ?? 1) - 1;
      if (inHand <= 0) this.#heldPerTenant.delete(tenant);
      else this.#heldPerTenant.set(tenant, inHand);
      if (this.#chains.get(key) === run) this.#chains.delete(key);
      const n = (this.#runningPerTenant.get(tenant) ?? 1) - 1;
      if (n <= 0) this.#runningPerTenant.delete(tenant);
      else this.#runningPerTenant.set(tenant, n);
      this.#pump();
      this.#bell.ring();
    });
    this.#inflight.add(tracked);
  }

  /** Handles and acks one event; a failure leaves it pending (never rejects). */
  async #handleOne(d: Delivery): Promise<void> {
    try {
      await this.handle(d.event);
    } catch (err) {
      const e = toUeeError(err);
      this.log.warn('workflow event handling failed; it is claimed again later', { eventId: d.event.eventId, type: d.event.type, code: e.code, error: e.message });
      return;
    }
    await this.bus.ack(this.group, [d.id]).catch((err: unknown) => this.log.warn('acking a workflow event failed; it is handled again later (a no-op)', { eventId: d.event.eventId, error: toUeeError(err).message }));
  }
}
