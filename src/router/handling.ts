import type { EventEnvelope, Logger, SerializedError, UeeError } from '../core/index.js';
import { NOT_WANTED, newId, toUeeError } from '../core/index.js';
import type { DeadLetter, Delivery, EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import type { HeldFence } from './lease.js';
import type { PluginRecord } from '../registry/index.js';
import { quarantinedDelivery } from '../runtime/quarantine.js';
import type { ChainBudget, ChainEvent, Prepaid } from './chain-budget.js';
import { buildInput } from './input.js';
import { PluginSettings, type SettingsSource } from './settings.js';
import type { RouterMetrics } from './metrics.js';
import { isSpawnOf, subscriptionMatches, type RouteEntry } from './subscriptions.js';
import type { HandleInput, InvocationOutcome, InvocationRecorder, InvokeOptions, PluginInvoker } from './types.js';
import type { InvocationRecord, InvocationRecordDraft } from '../store/invocations.js';
import type { VersionChoice, VersionResolver } from './versions.js';
import type { ExperimentMonitor } from './experiments.js';
import type { InvocationSample, ShadowSide } from '../experiments/index.js';

/**
 * What became of one delivery: `done` (handled or not for this plugin: ack it), `dead` (dead-lettered,
 * which acked it), `left` (stopped before a retry: stays pending, to be handled again later).
 */
export type DeliveryResult = 'done' | 'dead' | 'left';

/** Retry policy of {@link DeliveryHandler}. */
export interface HandlingOptions {
  /** Max chain depth; deeper events are dead-lettered with HOP_LIMIT_EXCEEDED. */
  hopLimit: number;
  /** Attempts per delivery (counting earlier deliveries of it) before it is dead-lettered. */
  maxAttempts: number;
  /** First retry delay; doubles each attempt. */
  backoffMs: number;
}

/**
 * Failures that come out the same on every attempt: dead-lettered at once, never retried.
 * Everything else (timeouts, traps, busy backends) is retried with backoff.
 */
const DETERMINISTIC = new Set([
  'CAPABILITY_DENIED',
  'INVALID_MODULE',
  'HOP_LIMIT_EXCEEDED',
  'VALIDATION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'CHAIN_BUDGET_EXCEEDED',
  'RESERVED_NAME',
]);

/** Whether a failure may succeed when tried again. */
export function isRetryable(error: SerializedError): boolean {
  return !DETERMINISTIC.has(error.code);
}

/**
 * Handles one delivery of one logical plugin: resolves the version, checks that the version's
 * subscription really wants the event, invokes it (effects commit under the idempotency key
 * `eventId:queue`), retries retryable failures with exponential backoff, and dead-letters the rest
 * with every attempt's error. A router that stops between attempts leaves the delivery pending
 * instead of dead-lettering a failure that might have succeeded.
 */
export class DeliveryHandler {
  constructor(
    private readonly deps: {
      store: EntityStore;
      bus: EventBus;
      /** This process's consumer name in every queue: it dead-letters only entries it still holds. */
      consumer: string;
      invoker: PluginInvoker;
      versions: VersionResolver;
      metrics: RouterMetrics;
      /** Per-variant counters, guardrails and shadow comparisons of running experiments. */
      experiments: ExperimentMonitor;
      /** The logical plugin of a queue, for a tenant's workflow shadowing a global one of the same name. */
      routeOf: (group: string) => RouteEntry | undefined;
      /** The queue of a logical plugin name in a tenant. */
      groupOf: (name: string, tenantId: string | null) => string;
      /** Per-chain (correlation id) totals of invocations and events, shared by the deployment's processes. */
      budget: ChainBudget;
      options: HandlingOptions;
      /** Where one record per attempt goes; none: nothing is recorded. */
      recorder?: InvocationRecorder;
    },
  ) {
    this.settings = new PluginSettings(deps.store);
  }

  /** Tenants' plugin settings, kept across batches while the store's configuration revision holds. */
  readonly settings: PluginSettings;

  /** Spends one chain invocation per event of a batch in one round trip (see {@link ChainBudget.prepay}). */
  prepay(events: ReadonlyArray<ChainEvent>): Promise<Prepaid> {
    return this.deps.budget.prepay(events);
  }

  /**
   * Handles `delivery` on `route`; `stopping()` is asked before each retry. Invocations are taken
   * from `prepaid` (the batch's {@link prepay}) while it holds some for the chain. Effects commit
   * under `lease`'s fence: a commit the store refuses as `FENCED` (the queue was taken over while
   * this process was paused) leaves the delivery pending — not acked, retried or dead-lettered here —
   * for the new holder, and marks the lease lost. Each attempt starts only while that holding lasts
   * ({@link HeldFence.holding}, a local check): a retry whose backoff outlived it is left the same way.
   */
  async handle(route: RouteEntry, delivery: Delivery, log: Logger, settings: SettingsSource, stopping: () => boolean, prepaid?: Prepaid, lease?: HeldFence): Promise<DeliveryResult> {
    const { metrics, versions, options } = this.deps;
    const event = delivery.event;
    const choice = versions.choose(route, event);
    if (!choice) return 'done';
    // Decided without a store read unless the plugin is user-scoped: no await on that path.
    const wants = this.#wants(choice.plugin, event, log);
    if (!(typeof wants === 'boolean' ? wants : await wants)) return 'done';
    let { plugin, arm } = choice;
    const fields = { eventId: event.eventId, correlationId: event.correlationId, pluginId: plugin.id, plugin: plugin.attributes.name };
    // A redelivery (the process died, or its ack was lost, after the commit) whose effects committed
    // is acked without running the plugin again: no model calls spent twice, no run against its own
    // earlier write, no quarantine for a crash that happened after the work was done.
    if (delivery.deliveryCount > 1 && (await this.#committed(route, event))) {
      log.info('redelivery already committed; acking without running the plugin', { ...fields, deliveryCount: delivery.deliveryCount });
      metrics.skippedCommitted();
      return 'done';
    }
    if (event.hop >= options.hopLimit) {
      const error = { code: 'HOP_LIMIT_EXCEEDED' as const, message: `event is ${event.hop} hops deep; the limit is ${options.hopLimit}` };
      log.warn('hop limit exceeded; dead-lettering', fields);
      if (!(await this.#deadLetter(route, delivery, error, [{ at: new Date().toISOString(), ...error }], log))) return 'left';
      this.#record(plugin, event, delivery.deliveryCount, 'dead', { ok: false, error: { ...error, retryable: false }, durationMs: 0 });
      metrics.deadLettered(plugin.id, plugin.attributes.name);
      return 'dead';
    }
    // A delivery the process died during, again and again, is dead-lettered before it runs again.
    const crashed = quarantinedDelivery(delivery.deliveryCount);
    if (crashed !== null) {
      const error = { code: crashed.code, message: crashed.message };
      log.error('delivery quarantined: the process died during it repeatedly', { ...fields, deliveryCount: delivery.deliveryCount });
      if (!(await this.#deadLetter(route, delivery, error, [{ at: new Date().toISOString(), ...error }], log))) return 'left';
      this.#record(plugin, event, delivery.deliveryCount, 'dead', { ok: false, error: { ...error, retryable: false }, durationMs: 0 });
      metrics.deadLettered(plugin.id, plugin.attributes.name);
      return 'dead';
    }
    const attempts: DeadLetter['attempts'] = [];
    for (let attempt = delivery.deliveryCount; ; attempt++) {
      // Each attempt (a retry after its backoff above all) runs only under the holding the delivery
      // started under: a process paused past its lease meanwhile leaves it to the new holder, which
      // claimed the entry and runs it itself — the plugin, and its model calls, run once per attempt.
      let held = lease === undefined || lease.holding(stopping);
      if (typeof held !== 'boolean') held = await held;
      if (!held) {
        log.warn('queue lease lost before an attempt; leaving the delivery to its new holder', { ...fields, attempt });
        return 'left';
      }
      const current = arm === undefined ? event : tagged(event, arm);
      // The stored text is the delivered envelope's, not a tagged copy's.
      const { outcome, input } = await this.#invoke(route, plugin, current, settings, prepaid, lease, current === event ? delivery.text : undefined);
      if (!outcome.ok && outcome.error.code === 'CANCELLED' && outcome.error.details?.reason === NOT_WANTED) {
        log.warn('queue lease lost while the call waited for a worker; leaving the delivery to its new holder', { ...fields, attempt });
        return 'left';
      }
      if (!outcome.ok && outcome.error.code === 'FENCED') {
        lease?.lost(Number(outcome.error.details?.current ?? 0));
        log.warn('commit fenced: the queue was taken over; leaving the delivery to its new holder', { ...fields, deliveryCount: delivery.deliveryCount });
        this.#record(plugin, current, attempt, 'left', outcome);
        return 'left';
      }
      metrics.record(plugin.id, plugin.attributes.name, outcome.durationMs, outcome.ok ? undefined : outcome.error.code);
      if (arm !== undefined && event.tenantId !== null) {
        // A failing candidate commits nothing: its failure is counted, and the event goes to control
        // at once — never lost, never dead-lettered for the candidate, never committed twice.
        const control = !outcome.ok && arm.variant !== arm.experiment.variants[0] ? versions.control(route, arm.experiment) : undefined;
        this.deps.experiments.record(event.tenantId, arm.experiment, arm.variant.name, sampleOf(outcome, control !== undefined));
        if (control !== undefined && !outcome.ok) {
          this.#record(plugin, current, attempt, 'retry', outcome);
          attempts.push({ at: new Date().toISOString(), code: outcome.error.code, message: `variant ${arm.variant.name}: ${outcome.error.message}` });
          log.warn('experiment candidate failed; handing the event to control', { ...fields, experiment: arm.experiment.id, variant: arm.variant.name, code: outcome.error.code });
          plugin = control;
          arm = { experiment: arm.experiment, variant: arm.experiment.variants[0]! };
          attempt--;
          continue;
        }
      }
      if (outcome.ok) {
        this.#record(plugin, current, attempt, 'ok', outcome);
        this.#shadow(route, event, settings, input === undefined ? undefined : outcome);
        return 'done';
      }
      attempts.push({ at: new Date().toISOString(), code: outcome.error.code, message: outcome.error.message });
      log.warn('plugin invocation failed', { ...fields, attempt, code: outcome.error.code, error: outcome.error.message });
      const retryable = isRetryable(outcome.error);
      if (retryable && attempt < options.maxAttempts && stopping()) {
        this.#record(plugin, current, attempt, 'left', outcome);
        return 'left';
      }
      if (attempt >= options.maxAttempts || !retryable) {
        if (!(await this.#deadLetter(route, delivery, { code: outcome.error.code, message: outcome.error.message }, attempts, log))) {
          this.#record(plugin, current, attempt, 'left', outcome);
          return 'left';
        }
        this.#record(plugin, current, attempt, 'dead', outcome);
        metrics.deadLettered(plugin.id, plugin.attributes.name);
        this.#shadow(route, event, settings, input === undefined ? undefined : outcome);
        return 'dead';
      }
      this.#record(plugin, current, attempt, 'retry', outcome);
      metrics.retried(plugin.id, plugin.attributes.name);
      await sleepUnless(options.backoffMs * 2 ** (attempts.length - 1), stopping);
      if (stopping()) return 'left';
    }
  }

  /**
   * Dead-letters the delivery if this process still holds its entry, and says whether it did. Not
   * held: the process paused past its lease and another claimed the entry — that one handles it
   * afresh, and may well succeed (this process's failure may have been transient), so the delivery is
   * left to it rather than dead-lettered under it. Acks need no such check: one is sent only once the
   * delivery's effects are committed (idempotently, under the queue's fence) or there were none, so
   * it is right whoever holds the entry by then, and the new holder's own ack finds it done.
   */
  async #deadLetter(route: RouteEntry, delivery: Delivery, error: DeadLetter['error'], attempts: DeadLetter['attempts'], log: Logger): Promise<boolean> {
    if (await this.deps.bus.deadLetter(route.queue ?? route.group, delivery, error, attempts, this.deps.consumer)) return true;
    log.warn('not dead-lettered: another process claimed the delivery (this one lost the queue) and handles it', { eventId: delivery.event.eventId, code: error.code });
    return false;
  }

  /**
   * Re-delivers a dead letter's event to `plugin` once, for real: the same input, chain budget and
   * idempotency key (`eventId:queue`) as a live delivery, so its effects commit at most once however
   * often it is redriven. No retries: the outcome is recorded (`trigger: 'redrive'`) and returned.
   */
  async redrive(route: RouteEntry, plugin: PluginRecord, event: EventEnvelope, deadLetterId: string, attempt: number): Promise<InvocationOutcome> {
    const { outcome } = await this.#invoke(route, plugin, event, this.settings.batch(), undefined);
    this.deps.metrics.record(plugin.id, plugin.attributes.name, outcome.durationMs, outcome.ok ? undefined : outcome.error.code);
    this.#record(plugin, event, attempt, outcome.ok ? 'ok' : 'dead', outcome, deadLetterId);
    return outcome;
  }

  /**
   * Hands one attempt's record to the recorder (buffered: never waits for the store). Built field by
   * field, optional fields only when present: one record per delivery is on the hot path, and object
   * spreads of conditional `{}`s cost more than the rest of the record together.
   */
  #record(plugin: PluginRecord, event: EventEnvelope, attempt: number, result: InvocationRecord['outcome'], outcome: InvocationOutcome, deadLetterId?: string): void {
    const recorder = this.deps.recorder;
    if (recorder === undefined) return;
    const identity: InvocationRecordDraft['event'] = { eventId: event.eventId, type: event.type, correlationId: event.correlationId, causationId: event.causationId, hop: event.hop };
    if (event.entityId !== undefined) identity.entityId = event.entityId;
    if (event.entityTypeId !== undefined) identity.entityTypeId = event.entityTypeId;
    const a = plugin.attributes;
    const effects = outcome.effects;
    const now = Date.now();
    const draft: InvocationRecordDraft = {
      // Assigned here (the time-ordered id of `at`, as the store would) so the store keeps the draft as it is.
      recordId: newId(now),
      tenantId: event.tenantId,
      at: new Date(now).toISOString(),
      event: identity,
      plugin: { id: plugin.id, name: a.name, version: a.pluginVersion },
      attempt,
      trigger: deadLetterId === undefined ? 'router' : 'redrive',
      outcome: result,
      durationMs: outcome.durationMs,
      usage: outcome.usage ?? { hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 0 },
      effects:
        effects === undefined
          ? { committed: false, writes: [], events: [], readModelOps: 0, timers: 0, omitted: 0 }
          : { committed: effects.committed, writes: effects.writes, events: effects.events, readModelOps: effects.readModelOps, timers: effects.timers, omitted: 0 },
      models: outcome.models ?? [],
    };
    if (!outcome.ok) draft.error = { code: outcome.error.code, message: outcome.error.message };
    if (event.experiment !== undefined) draft.experiment = { id: event.experiment.id, variant: event.experiment.variant };
    if (deadLetterId !== undefined) draft.deadLetterId = deadLetterId;
    recorder.record(draft);
  }

  /**
   * A running shadow run on the route: the candidate handles a copy of the event — its own input (its
   * manifest settings, the same entity version and context as live) — with its effects captured.
   */
  #shadow(route: RouteEntry, event: EventEnvelope, settings: SettingsSource, live: InvocationOutcome | undefined): void {
    if (live === undefined || event.tenantId === null) return;
    const shadow = this.deps.versions.shadow(route, event);
    if (shadow === undefined) return;
    const { invoker, store } = this.deps;
    const side: ShadowSide = live.ok ? { ok: true, effects: live.buffered ?? { writes: [], events: [], readModelOps: [], timers: [] } } : { ok: false, error: live.error };
    this.deps.experiments.shadow(event.tenantId, shadow.experiment, event, side, async () => {
      try {
        const r = await invoker.preview(shadow.plugin, await buildInput(store, shadow.plugin, event, settings));
        return r.ok ? { ok: true, effects: r.effects } : { ok: false, error: r.error };
      } catch (err) {
        return { ok: false, error: toUeeError(err).toJSON() };
      }
    });
  }

  /** Whether the effects of `event` on `route` have been committed (under the key {@link idempotencyKeyOf}). */
  async #committed(route: RouteEntry, event: EventEnvelope): Promise<boolean> {
    return this.deps.store.committed({ tenantId: event.tenantId, actor: 'system:router' }, idempotencyKeyOf(event, route));
  }

  async #invoke(route: RouteEntry, plugin: PluginRecord, event: EventEnvelope, settings: SettingsSource, prepaid: Prepaid | undefined, lease?: HeldFence, eventText?: string): Promise<{ outcome: InvocationOutcome; input?: HandleInput }> {
    const started = performance.now();
    let input: HandleInput | undefined;
    try {
      const { budget } = this.deps;
      // Every attempt spends one invocation of the chain's budget (overlapping the input's reads); a
      // chain that used it up is refused before the plugin runs, and a commit that would take the
      // chain over its event budget is not made. Both answer CHAIN_BUDGET_EXCEEDED: dead-lettered.
      const spent = budget.invocation(event, prepaid);
      input = spent === undefined ? await buildInput(this.deps.store, plugin, event, settings) : (await Promise.all([buildInput(this.deps.store, plugin, event, settings), spent]))[0];
      // Bound, not an arrow in the literal: the loader names every such closure (a defineProperty per event).
      const options: InvokeOptions = { idempotencyKey: idempotencyKeyOf(event, route), beforeCommit: budget.events.bind(budget, event) };
      if (lease !== undefined) {
        options.fence = lease.fence;
        // A call still waiting for a worker when the holding ends is dropped unrun: the new holder runs it.
        options.wanted = notEnded.bind(lease);
      }
      if (eventText !== undefined) options.eventText = eventText;
      const outcome = await this.deps.invoker.invoke(plugin, input, options);
      return { outcome, input };
    } catch (err) {
      return { outcome: { ok: false, error: toUeeError(err).toJSON(), durationMs: performance.now() - started }, ...(input === undefined ? {} : { input }) };
    }
  }

  /** The exact decision the index approximated: this version's subscription, spawn target, user scope (the one that reads the store, so the one answered by a promise). */
  #wants(plugin: PluginRecord, event: EventEnvelope, log: Logger): boolean | Promise<boolean> {
    const a = plugin.attributes;
    // `spawn_workflow` addresses a workflow by name: its `WorkflowSpawned` event reaches that workflow
    // whether or not it subscribes to the type. Scope still applies, and a tenant's own workflow of
    // that name shadows a global one. Subscription filters do not: a spawn names its target.
    if (isSpawnOf(plugin, event)) {
      if (a.tenantScope !== 'global') return event.tenantId === plugin.tenantId;
      const own = event.tenantId === null ? undefined : this.deps.routeOf(this.deps.groupOf(a.name, event.tenantId));
      return own === undefined || this.deps.versions.resolve(own, event) === undefined;
    }
    if (!subscriptionMatches(plugin, event, (err: UeeError) => log.warn('subscription filter refused', { plugin: plugin.id, code: err.code, error: err.message }))) return false;
    if (a.tenantScope === 'user') {
      if (event.entityId === undefined) return false;
      try {
        return this.deps.store.get({ tenantId: event.tenantId, actor: 'system:router' }, event.entityId).then(
          (entity) => entity.ownerId === a.ownerId,
          () => false,
        );
      } catch {
        return false;
      }
    }
    return true;
  }
}

/** `wanted` of a call made under a queue holding (bound to the holding's {@link HeldFence}). */
function notEnded(this: HeldFence): boolean {
  return !this.ended();
}

/**
 * The key a delivery's effects commit under: the event and the logical plugin (its queue), not the
 * version, so a redelivery resolved to another version still commits once.
 */
export function idempotencyKeyOf(event: EventEnvelope, route: { group: string }): string {
  return `${event.eventId}:${route.group}`;
}

/**
 * The event as the chosen arm's version sees it: tagged with the experiment and variant, so the
 * events its commit emits carry the arm down the chain. A tag of another experiment is kept (the
 * chain's root decided it); this experiment then assigns by hash further down.
 */
function tagged(event: EventEnvelope, arm: NonNullable<VersionChoice['arm']>): EventEnvelope {
  const tag = event.experiment;
  if (tag !== undefined && tag.id !== arm.experiment.id) return event;
  if (tag?.variant === arm.variant.name) return event;
  return { ...event, experiment: { id: arm.experiment.id, variant: arm.variant.name } };
}

/** What an experiment counts of one invocation. */
function sampleOf(outcome: InvocationOutcome, fellBack: boolean): InvocationSample {
  const u = outcome.usage;
  return {
    ok: outcome.ok,
    durationMs: outcome.durationMs,
    fellBack,
    ...(u === undefined
      ? {}
      : { hostCalls: u.hostCalls, modelCalls: u.modelCalls, emits: u.emits, outputBytes: u.outputBytes, modelCost: u.modelCost ?? 0, ...(outcome.ok && u.metrics !== undefined ? { metrics: u.metrics } : {}) }),
  };
}

/** Sleeps `ms`, waking early (checked every 50 ms) once `stopping()` — a backoff never holds a shutdown. */
async function sleepUnless(ms: number, stopping: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stopping()) {
    const left = until - Date.now();
    if (left <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 50)));
  }
}
