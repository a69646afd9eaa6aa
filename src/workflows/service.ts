import {
  UeeError,
  WORKFLOW_DEFINITION_TYPE,
  isUeeError,
  workflowDefinitionId,
  newId,
  toUeeError,
  type Causation,
  type EntityVersion,
  type EntityWrite,
  type EventDraft,
  type EventEnvelope,
  type EventSource,
  type JsonObject,
  type Logger,
  type ReadModelOp,
  type TenantContext,
} from '../core/index.js';
import { DEFAULT_TIMER_HORIZON_MS, TIMER_ENTITY_TYPE, timerEntityId, type TimerRecord } from '../runtime/index.js';
import { compileFilter, type EntityStore } from '../store/index.js';
import type { EventBus } from '../bus/index.js';
import { WorkflowConsumer, type WorkflowConsumerOptions } from './consumer.js';
import {
  mermaid,
  normaliseDefinition,
  transitionEventType,
  transitionEvents,
  validateDefinition,
  type WorkflowAction,
  type WorkflowDefinition,
} from './definition.js';

export { WORKFLOW_DEFINITION_TYPE };
/** Entity type of workflow instances. */
export const WORKFLOW_INSTANCE_TYPE = 'uee.workflow.instance';
/** Read model of instances (state, time in state, stuck), kept current in every transition's commit. */
export const WORKFLOW_VIEW = 'uee.workflows.instances';
/** Event type of workflow timers (state timeouts, `setTimer` actions); the service advances on them. */
export const WORKFLOW_TIMER_EVENT = 'WorkflowTimer';
/** Event type of a `callModel` action: the service calls the model after the commit, then advances. */
export const WORKFLOW_MODEL_CALL_EVENT = 'WorkflowModelCall';
/** The timer owner name of the workflow service (see {@link timerEntityId}). */
export const WORKFLOW_TIMER_OWNER = 'uee.workflows';
const ACTOR = 'system:workflows';
/** Event type of a spawn request; the service starts an instance when it names a declared workflow. */
const WORKFLOW_SPAWNED_EVENT = 'WorkflowSpawned';
/**
 * The service's queue on the bus: the router's dispatcher queues only {@link WORKFLOW_EVENT_TYPES}
 * into it (in the same atomic step as the plugins' queues), so an event of any other type costs the
 * service nothing. Same name as the group it used to read the whole stream through: `ensureQueue`
 * turns that group into this queue.
 */
export const WORKFLOW_QUEUE = 'uee.workflows';
/** The event types the service reacts to: what the dispatcher queues into {@link WORKFLOW_QUEUE}. */
export const WORKFLOW_EVENT_TYPES: readonly string[] = [WORKFLOW_TIMER_EVENT, WORKFLOW_MODEL_CALL_EVENT, WORKFLOW_SPAWNED_EVENT];
const GROUP = WORKFLOW_QUEUE;
/** Commits of the workflow service are a platform source: it owns the `uee.workflow.*` types and view. */
const SOURCE: EventSource = { kind: 'workflow', id: ACTOR };
/**
 * History entries kept inline on an instance (the newest); older ones stay in the instance entity's
 * earlier versions (one version per transition), so a long-running instance never outgrows the
 * attribute size limit.
 */
export const MAX_INLINE_HISTORY = 100;
/** Longest spawn chain (a workflow spawning one spawning one …). */
const MAX_SPAWN_DEPTH = 8;

/** One recorded transition. */
export interface HistoryEntry extends JsonObject {
  from: string | null;
  to: string;
  transition: string | null;
  at: string;
  /** Who or what caused it: `{ kind: 'api' | 'timer' | 'event' | 'spawn' | 'migration', id, eventId? }`. */
  cause: JsonObject;
  definitionVersion: number;
}

/** The attributes of a workflow instance entity. */
export interface InstanceAttributes extends JsonObject {
  workflow: string;
  definitionVersion: number;
  state: string;
  status: 'active' | 'done';
  context: JsonObject;
  enteredAt: string;
  history: HistoryEntry[];
  /** Workflows that spawned this one, outermost first. */
  ancestry: string[];
  /** Entries dropped from the front of `history` (read them from the instance's earlier versions). */
  historyDropped?: number;
}

/** An instance as the service answers it. */
export interface WorkflowInstance {
  instanceId: string;
  version: number;
  attributes: InstanceAttributes;
}

/** Why a transition happens (recorded in history; a cause event continues its chain). */
export interface TransitionCause {
  kind: 'api' | 'timer' | 'event' | 'spawn' | 'migration' | 'model';
  id: string;
  event?: EventEnvelope;
}

/** How the service calls a model for a `callModel` action: through the gateway, billed to the tenant. */
export type WorkflowModelCaller = (ctx: TenantContext, request: { model: string; input: unknown; eventId: string; workflow: string }) => Promise<unknown>;

/** Options of {@link WorkflowService}. */
export interface WorkflowServiceOptions {
  logger: Logger;
  /** @default Date.now */
  now?: () => number;
  /** How far ahead timeouts and timers may be set. @default DEFAULT_TIMER_HORIZON_MS */
  timerHorizonMs?: number;
  /** Called after each commit (e.g. to kick the outbox relay and the timer service). */
  afterCommit?: () => void;
  /** Calls models for `callModel` actions; without it such actions fail to their `onError` transition. */
  callModel?: WorkflowModelCaller;
  /** Model names a tenant may call: `define` refuses a `callModel` naming another. */
  models?: (tenantId: string | null) => string[];
}

interface Change {
  writes: EntityWrite[];
  events: EventDraft[];
  readModelOps: ReadModelOp[];
}

/**
 * The platform's workflow engine: stores definitions (versioned), starts instances, and enforces
 * transitions. Each transition is ONE store commit — the instance's next version (written with
 * `expectedVersion`, so of two racing transitions exactly one commits), its history entry, the
 * transition events, the actions' writes/emits/timers/spawned instances and the view update — or
 * nothing at all. A running instance keeps the definition version it started on until an explicit
 * {@link migrate}. State timeouts and `setTimer` actions are `uee.timer`s owned by the service; it
 * consumes their `WorkflowTimer` events (and `WorkflowModelCall` events, and `WorkflowSpawned` events
 * naming a declared workflow) from its queue {@link WORKFLOW_QUEUE}, into which the router's
 * dispatcher queues only those types.
 */
export class WorkflowService {
  readonly #now: () => number;
  readonly #horizonMs: number;
  /** Reads {@link WORKFLOW_QUEUE} once {@link startConsuming} was called. */
  #consumer: WorkflowConsumer | undefined;

  constructor(
    private readonly store: EntityStore,
    private readonly options: WorkflowServiceOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#horizonMs = options.timerHorizonMs ?? DEFAULT_TIMER_HORIZON_MS;
  }

  // ---------------------------------------------------------------- definitions

  /** Validates a definition against the tenant's others; with `dryRun` stores nothing. */
  async define(ctx: TenantContext, input: unknown, options: { dryRun?: boolean } = {}): Promise<{ definition: WorkflowDefinition; version: number | null; mermaid: string; transitionEvents: string[]; applied: boolean }> {
    const def = normaliseDefinition(input);
    const others = await this.#definitions(ctx);
    others.delete(def.name);
    validateDefinition(def, others);
    this.#checkHorizon(def);
    this.#checkModels(ctx, def);
    const out = { definition: def, mermaid: mermaid(def), transitionEvents: transitionEvents(def) };
    if (options.dryRun === true) return { ...out, version: null, applied: false };
    const v = await this.store.put(
      this.#sys(ctx),
      { entityId: definitionId(def.name), entityTypeId: WORKFLOW_DEFINITION_TYPE, attributes: def, eventType: 'WorkflowDefined' },
      { source: SOURCE },
    );
    this.options.afterCommit?.();
    return { ...out, version: v.version, applied: true };
  }

  /** A definition (latest, or a given version). `NOT_FOUND` naming the workflow when unknown. */
  async definition(ctx: TenantContext, name: string, version?: number): Promise<{ definition: WorkflowDefinition; version: number }> {
    try {
      const v = await this.store.get(this.#sys(ctx), definitionId(name), version === undefined ? {} : { version });
      if (v.entityTypeId !== WORKFLOW_DEFINITION_TYPE) throw new UeeError('NOT_FOUND', 'not a workflow');
      return { definition: normaliseDefinition(v.attributes), version: v.version };
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) {
        throw new UeeError('NOT_FOUND', `unknown workflow ${name}${version === undefined ? '' : ` version ${version}`}`, {
          details: { workflow: name, ...(version === undefined ? {} : { version }) },
          hint: 'list workflows with workflow_list, or define it with workflow_define',
        });
      }
      throw err;
    }
  }

  /** Latest definitions of the tenant, by name. */
  async #definitions(ctx: TenantContext): Promise<Map<string, WorkflowDefinition>> {
    const out = new Map<string, WorkflowDefinition>();
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await this.store.query(this.#sys(ctx), { entityTypeId: WORKFLOW_DEFINITION_TYPE, filter: { tenantId: ctx.tenantId }, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const v of page.items) {
        try {
          const d = normaliseDefinition(v.attributes);
          out.set(d.name, d);
        } catch {
          // A stored definition that no longer parses takes part in no spawn graph.
        }
      }
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    return out;
  }

  /** Definitions of the tenant with their latest versions. */
  async listDefinitions(ctx: TenantContext): Promise<Array<{ name: string; version: number; states: string[]; transitionEvents: string[] }>> {
    const page = await this.store.query(this.#sys(ctx), { entityTypeId: WORKFLOW_DEFINITION_TYPE, filter: { tenantId: ctx.tenantId }, limit: 1000 });
    return page.items.map((v) => {
      const d = normaliseDefinition(v.attributes);
      return { name: d.name, version: v.version, states: Object.keys(d.states), transitionEvents: transitionEvents(d) };
    });
  }

  #checkModels(ctx: TenantContext, def: WorkflowDefinition): void {
    if (this.options.models === undefined) return;
    const known = this.options.models(ctx.tenantId);
    const actions = [...def.transitions.flatMap((t) => t.actions ?? []), ...Object.values(def.states).flatMap((s) => s.onEnter ?? [])];
    const unknown = [...new Set(actions.flatMap((a) => ('callModel' in a && !known.includes(a.callModel.model) ? [a.callModel.model] : [])))];
    if (unknown.length > 0) {
      throw new UeeError('WORKFLOW_INVALID', `workflow ${def.name} calls unknown model${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`, {
        details: { workflow: def.name, problems: unknown.map((m) => `callModel: unknown model ${m}`), models: known },
        hint: `use one of: ${known.join(', ') || '(no model is configured)'}`,
      });
    }
  }

  #checkHorizon(def: WorkflowDefinition): void {
    const delays = [
      ...Object.values(def.states).flatMap((s) => (s.timeout === undefined ? [] : [s.timeout.afterMs])),
      ...[...def.transitions.flatMap((t) => t.actions ?? []), ...Object.values(def.states).flatMap((s) => s.onEnter ?? [])].flatMap((a) => ('setTimer' in a ? [a.setTimer.afterMs] : [])),
    ];
    const worst = Math.max(0, ...delays);
    if (worst > this.#horizonMs) {
      throw new UeeError('TIMER_HORIZON_EXCEEDED', `workflow ${def.name} sets a timer ${worst} ms ahead; the horizon is ${this.#horizonMs} ms`, {
        details: { workflow: def.name, delayMs: worst, horizonMs: this.#horizonMs },
        hint: 'shorten the timeout or timer, or chain shorter ones',
      });
    }
  }

  // ---------------------------------------------------------------- instances

  /** Starts an instance in the definition's initial state (latest definition version). */
  async start(ctx: TenantContext, workflow: string, options: { context?: JsonObject; instanceId?: string; cause?: TransitionCause; dryRun?: boolean } = {}): Promise<WorkflowInstance> {
    const { definition, version } = await this.definition(ctx, workflow);
    const change: Change = { writes: [], events: [], readModelOps: [] };
    const instanceId = options.instanceId ?? `wf:${workflow}:${newId()}`;
    const cause = options.cause ?? { kind: 'api' as const, id: ctx.actor };
    const inst = this.#spawnInto(ctx, change, definition, version, instanceId, options.context ?? {}, cause, [], new Map([[workflow, { definition, version }]]));
    if (options.dryRun !== true) await this.#commit(ctx, change, cause);
    return inst;
  }

  /** The instance (`NOT_FOUND` when absent or not a workflow instance). */
  async get(ctx: TenantContext, instanceId: string): Promise<WorkflowInstance> {
    try {
      const v = await this.store.get(this.#sys(ctx), instanceId);
      if (v.entityTypeId !== WORKFLOW_INSTANCE_TYPE) throw new UeeError('NOT_FOUND', 'not an instance');
      return toInstance(v);
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) {
        throw new UeeError('NOT_FOUND', `workflow instance ${instanceId} not found`, { details: { instanceId }, hint: 'list instances with workflow_list' });
      }
      throw err;
    }
  }

  /** Transitions the instance may take now, from its own definition version. */
  async allowed(ctx: TenantContext, inst: WorkflowInstance): Promise<Array<{ transition: string; to: string; guarded: boolean }>> {
    const { definition } = await this.definition(ctx, inst.attributes.workflow, inst.attributes.definitionVersion);
    return definition.transitions.filter((t) => t.from.includes(inst.attributes.state)).map((t) => ({ transition: t.name, to: t.to, guarded: t.guard !== undefined }));
  }

  /**
   * Takes transition `transition` on the instance. `ILLEGAL_TRANSITION` (listing the allowed ones)
   * when the current state has no such transition or every guard refuses; `VERSION_CONFLICT` when
   * `expectedVersion` is stale or another transition committed first. Nothing changes on failure.
   */
  async advance(
    ctx: TenantContext,
    instanceId: string,
    transition: string,
    options: { payload?: JsonObject; cause?: TransitionCause; expectedVersion?: number; dryRun?: boolean; merge?: JsonObject } = {},
  ): Promise<{ instance: WorkflowInstance; from: string; to: string }> {
    const inst = await this.get(ctx, instanceId);
    if (options.expectedVersion !== undefined && options.expectedVersion !== inst.version) {
      throw new UeeError('VERSION_CONFLICT', `instance ${instanceId} is at version ${inst.version}, not ${options.expectedVersion}`, {
        details: { instanceId, expected: options.expectedVersion, actual: inst.version },
        hint: 'inspect the instance again (workflow_inspect) and decide on its current state',
        retryable: true,
      });
    }
    const a = inst.attributes;
    const { definition, version } = await this.definition(ctx, a.workflow, a.definitionVersion);
    const candidates = definition.transitions.filter((t) => t.from.includes(a.state) && t.name === transition);
    const input = { instance: { state: a.state, context: a.context }, event: { payload: options.payload ?? {} } };
    const chosen = candidates.find((t) => t.guard === undefined || compileFilter(t.guard).matches(input));
    if (chosen === undefined) {
      const allowed = definition.transitions.filter((t) => t.from.includes(a.state)).map((t) => t.name);
      throw new UeeError(
        'ILLEGAL_TRANSITION',
        candidates.length === 0
          ? `workflow ${a.workflow} instance ${instanceId} cannot take ${transition} from ${a.state}`
          : `workflow ${a.workflow} instance ${instanceId}: the guard of ${transition} refuses it in ${a.state}`,
        { details: { instanceId, workflow: a.workflow, state: a.state, transition, allowed, guardRefused: candidates.length > 0 }, hint: `take one of: ${allowed.join(', ') || '(none: the state is final)'}` },
      );
    }
    const cause = options.cause ?? { kind: 'api' as const, id: ctx.actor };
    const change: Change = { writes: [], events: [], readModelOps: [] };
    const at = new Date(this.#now()).toISOString();
    const context = { ...a.context, ...(options.merge ?? {}) };
    const defs = new Map([[a.workflow, { definition, version }]]);
    // Leaving: retire the state's timeout timer.
    if (definition.states[a.state]?.timeout !== undefined) await this.#cancelTimer(ctx, change, `${instanceId}:${inst.version}:timeout`);
    const after = inst.version + 1;
    const actions = [...(chosen.actions ?? []), ...(definition.states[chosen.to]?.onEnter ?? [])];
    await this.#loadSpawned(ctx, actions, defs);
    this.#applyActions(ctx, change, actions, { instanceId, workflow: a.workflow, context, version: after, ancestry: [...a.ancestry, a.workflow], cause, defs, at });
    const entry: HistoryEntry = { from: a.state, to: chosen.to, transition: chosen.name, at, cause: causeRecord(cause), definitionVersion: a.definitionVersion };
    const attributes: InstanceAttributes = {
      ...a,
      state: chosen.to,
      status: definition.states[chosen.to]?.final === true ? 'done' : 'active',
      context,
      enteredAt: at,
      ...appendHistory(a, entry),
    };
    this.#enterState(ctx, change, definition, instanceId, attributes, after, inst.version);
    const next: WorkflowInstance = { instanceId, version: after, attributes };
    if (options.dryRun !== true) await this.#commit(ctx, change, cause);
    return { instance: next, from: a.state, to: chosen.to };
  }

  /**
   * Moves a running instance to another definition version, explicitly: `stateMap` renames states
   * that the new version no longer has. `WORKFLOW_INVALID` when the resulting state does not exist.
   */
  async migrate(ctx: TenantContext, instanceId: string, toVersion: number, options: { stateMap?: Record<string, string>; dryRun?: boolean } = {}): Promise<WorkflowInstance> {
    const inst = await this.get(ctx, instanceId);
    const a = inst.attributes;
    const { definition } = await this.definition(ctx, a.workflow, toVersion);
    const state = options.stateMap?.[a.state] ?? a.state;
    if (definition.states[state] === undefined) {
      throw new UeeError('WORKFLOW_INVALID', `version ${toVersion} of ${a.workflow} has no state ${state}`, {
        details: { instanceId, workflow: a.workflow, state, toVersion, states: Object.keys(definition.states) },
        hint: 'map the state with stateMap: { "<old>": "<new>" }',
      });
    }
    const at = new Date(this.#now()).toISOString();
    const attributes: InstanceAttributes = {
      ...a,
      definitionVersion: toVersion,
      state,
      status: definition.states[state]?.final === true ? 'done' : 'active',
      enteredAt: state === a.state ? a.enteredAt : at,
      ...appendHistory(a, { from: a.state, to: state, transition: null, at, cause: { kind: 'migration', id: ctx.actor, fromVersion: a.definitionVersion }, definitionVersion: toVersion }),
    };
    const change: Change = { writes: [], events: [], readModelOps: [] };
    this.#enterState(ctx, change, definition, instanceId, attributes, inst.version + 1, inst.version, 'WorkflowMigrated');
    if (options.dryRun !== true) await this.#commit(ctx, change, { kind: 'migration', id: ctx.actor });
    return { instanceId, version: inst.version + 1, attributes };
  }

  /** Instances from the view, by workflow/state; `stuck` lists those past their state's `stuckAfterMs`. */
  async list(ctx: TenantContext, q: { workflow?: string; state?: string; stuck?: boolean; limit?: number; cursor?: string } = {}): Promise<{ items: JsonObject[]; nextCursor: string | null }> {
    const filter: JsonObject = {};
    if (q.workflow !== undefined) filter.workflow = q.workflow;
    if (q.state !== undefined) filter.state = q.state;
    if (q.stuck === true) filter.stuckAt = { $lte: new Date(this.#now()).toISOString() };
    const page = await this.store.readModels.query(this.#sys(ctx), WORKFLOW_VIEW, { filter, sort: { enteredAt: 1 }, limit: q.limit ?? 100, ...(q.cursor === undefined ? {} : { cursor: q.cursor }) });
    const now = this.#now();
    return { items: page.items.map((d) => ({ ...d.doc, timeInStateMs: now - Date.parse(String(d.doc.enteredAt)) })), nextCursor: page.nextCursor };
  }

  // ---------------------------------------------------------------- building a commit

  #spawnInto(
    ctx: TenantContext,
    change: Change,
    definition: WorkflowDefinition,
    version: number,
    instanceId: string,
    context: JsonObject,
    cause: TransitionCause,
    ancestry: string[],
    defs: Map<string, { definition: WorkflowDefinition; version: number }>,
  ): WorkflowInstance {
    if (ancestry.includes(definition.name) || ancestry.length >= MAX_SPAWN_DEPTH) {
      throw new UeeError('WORKFLOW_INVALID', `spawn cycle: ${[...ancestry, definition.name].join(' → ')}`, {
        details: { problems: [`spawn cycle: ${[...ancestry, definition.name].join(' → ')}`], ancestry },
        hint: 'remove the spawn action that leads back to a running ancestor',
      });
    }
    const at = new Date(this.#now()).toISOString();
    const ctxCopy = { ...context };
    const onEnter = definition.states[definition.initial]?.onEnter ?? [];
    this.#applyActions(ctx, change, onEnter, { instanceId, workflow: definition.name, context: ctxCopy, version: 1, ancestry: [...ancestry, definition.name], cause, defs, at });
    const attributes: InstanceAttributes = {
      workflow: definition.name,
      definitionVersion: version,
      state: definition.initial,
      status: definition.states[definition.initial]?.final === true ? 'done' : 'active',
      context: ctxCopy,
      enteredAt: at,
      history: [{ from: null, to: definition.initial, transition: null, at, cause: causeRecord(cause), definitionVersion: version }],
      ancestry,
    };
    this.#enterState(ctx, change, definition, instanceId, attributes, 1, 0, 'WorkflowStarted');
    return { instanceId, version: 1, attributes };
  }

  /** Definitions that `spawn` actions (recursively, onEnter of their initial states) name, loaded before building. */
  async #loadSpawned(ctx: TenantContext, actions: WorkflowAction[], defs: Map<string, { definition: WorkflowDefinition; version: number }>, depth = 0): Promise<void> {
    if (depth > MAX_SPAWN_DEPTH) return;
    for (const a of actions) {
      if (!('spawn' in a) || defs.has(a.spawn.workflow)) continue;
      const d = await this.definition(ctx, a.spawn.workflow);
      defs.set(a.spawn.workflow, d);
      await this.#loadSpawned(ctx, d.definition.states[d.definition.initial]?.onEnter ?? [], defs, depth + 1);
    }
  }

  #applyActions(
    ctx: TenantContext,
    change: Change,
    actions: WorkflowAction[],
    s: { instanceId: string; workflow: string; context: JsonObject; version: number; ancestry: string[]; cause: TransitionCause; defs: Map<string, { definition: WorkflowDefinition; version: number }>; at: string },
  ): void {
    let n = 0;
    for (const a of actions) {
      n++;
      if ('set' in a) Object.assign(s.context, a.set);
      else if ('emit' in a) change.events.push({ type: a.emit.type, entityId: s.instanceId, entityTypeId: WORKFLOW_INSTANCE_TYPE, payload: { workflow: s.workflow, instanceId: s.instanceId, ...(a.emit.payload ?? {}) } });
      else if ('write' in a) change.writes.push({ entityTypeId: a.write.entityTypeId, attributes: a.write.attributes, ...(a.write.entityId === undefined ? {} : { entityId: a.write.entityId }) });
      else if ('setTimer' in a) this.#timer(ctx, change, `${s.instanceId}:${s.version}:timer:${n}`, a.setTimer.afterMs, { workflow: s.workflow, instanceId: s.instanceId, transition: a.setTimer.transition, instanceVersion: s.version, ...(a.setTimer.payload ?? {}) });
      else if ('callModel' in a) {
        const c = a.callModel;
        change.events.push({
          type: WORKFLOW_MODEL_CALL_EVENT,
          entityId: s.instanceId,
          entityTypeId: WORKFLOW_INSTANCE_TYPE,
          payload: {
            workflow: s.workflow, instanceId: s.instanceId, instanceVersion: s.version, model: c.model, input: c.input ?? { ...s.context }, then: c.then,
            ...(c.onError === undefined ? {} : { onError: c.onError }), resultKey: c.resultKey ?? 'modelResult',
          },
        });
      } else if ('spawn' in a) {
        const d = s.defs.get(a.spawn.workflow);
        if (d === undefined) throw new UeeError('NOT_FOUND', `unknown workflow ${a.spawn.workflow}`, { details: { workflow: a.spawn.workflow }, hint: 'define the spawned workflow first' });
        const child = `wf:${a.spawn.workflow}:${newId()}`;
        this.#spawnInto(ctx, change, d.definition, d.version, child, { ...(a.spawn.input ?? {}), parent: s.instanceId }, { kind: 'spawn', id: s.instanceId }, s.ancestry, s.defs);
      }
    }
  }

  /** The instance write, its transition events, its view row and its state's timeout timer. */
  #enterState(ctx: TenantContext, change: Change, def: WorkflowDefinition, instanceId: string, attributes: InstanceAttributes, version: number, expectedVersion: number, eventType = 'WorkflowTransitioned'): void {
    change.writes.push({ entityId: instanceId, entityTypeId: WORKFLOW_INSTANCE_TYPE, expectedVersion, attributes, eventType });
    const last = attributes.history[attributes.history.length - 1]!;
    change.events.push({
      type: transitionEventType(def.name, attributes.state),
      entityId: instanceId,
      entityTypeId: WORKFLOW_INSTANCE_TYPE,
      payload: { workflow: def.name, instanceId, from: last.from, to: attributes.state, transition: last.transition, context: attributes.context, cause: last.cause },
    });
    const state = def.states[attributes.state];
    const stuckAt = state?.stuckAfterMs === undefined || state.final === true ? null : new Date(Date.parse(attributes.enteredAt) + state.stuckAfterMs).toISOString();
    change.readModelOps.push({
      op: 'upsert',
      view: WORKFLOW_VIEW,
      id: instanceId,
      doc: { instanceId, workflow: def.name, definitionVersion: attributes.definitionVersion, state: attributes.state, status: attributes.status, enteredAt: attributes.enteredAt, stuckAt, version },
    });
    if (state?.timeout !== undefined && state.final !== true) {
      this.#timer(ctx, change, `${instanceId}:${version}:timeout`, state.timeout.afterMs, { workflow: def.name, instanceId, transition: state.timeout.transition, instanceVersion: version, timeout: true });
    }
  }

  #timer(ctx: TenantContext, change: Change, name: string, afterMs: number, payload: JsonObject): void {
    const record: TimerRecord = {
      type: WORKFLOW_TIMER_EVENT,
      fireAt: new Date(this.#now() + afterMs).toISOString(),
      payload,
      status: 'scheduled',
      timerId: name,
      pluginId: WORKFLOW_TIMER_OWNER,
      pluginName: WORKFLOW_TIMER_OWNER,
    };
    change.writes.push({ entityId: timerEntityId(ctx.tenantId, WORKFLOW_TIMER_OWNER, name), entityTypeId: TIMER_ENTITY_TYPE, attributes: record, eventType: 'TimerScheduled' });
  }

  async #cancelTimer(ctx: TenantContext, change: Change, name: string): Promise<void> {
    const id = timerEntityId(ctx.tenantId, WORKFLOW_TIMER_OWNER, name);
    try {
      const t = await this.store.get(this.#sys(ctx), id);
      if (t.attributes.status !== 'scheduled') return;
      change.writes.push({ entityId: id, entityTypeId: TIMER_ENTITY_TYPE, expectedVersion: t.version, attributes: { ...t.attributes, status: 'cancelled' }, eventType: 'TimerCancelled' });
    } catch (err) {
      if (!isUeeError(err, 'NOT_FOUND')) throw err;
    }
  }

  async #commit(ctx: TenantContext, change: Change, cause: TransitionCause): Promise<void> {
    const causation: Causation | undefined =
      cause.event === undefined ? undefined : { eventId: cause.event.eventId, correlationId: cause.event.correlationId, hop: cause.event.hop, experiment: cause.event.experiment };
    await this.store.commit(this.#sys(ctx), { writes: change.writes, events: change.events, readModelOps: change.readModelOps, source: SOURCE, ...(causation === undefined ? {} : { causation }) });
    this.options.afterCommit?.();
  }

  /** The context the service acts in: the caller's tenant; the caller stays the recorded actor. */
  #sys(ctx: TenantContext): TenantContext {
    return { tenantId: ctx.tenantId, actor: ctx.actor };
  }

  // ---------------------------------------------------------------- reacting to bus events

  /**
   * Consumes `WorkflowTimer` events (advancing the named instance when it is still at the version
   * that set the timer — so a redelivered or stale timer changes nothing) and `WorkflowSpawned`
   * events naming a declared workflow (starting an instance, once per event), read from
   * {@link WORKFLOW_QUEUE}: the router must route {@link WORKFLOW_EVENT_TYPES} there (its
   * `serviceQueues`). Several at once, the tenants taking turns (see {@link WorkflowConsumer}: one
   * tenant's slow model calls never hold another's timers). An event is acked only after it was
   * handled, so a crash leaves it pending here, and it is claimed again after `claimIdleMs`.
   */
  startConsuming(bus: EventBus, options: WorkflowConsumerOptions = {}): void {
    if (this.#consumer !== undefined) return;
    this.#consumer = new WorkflowConsumer(bus, GROUP, `wf-${newId()}`, (event) => this.handle(event), options, this.options.logger);
  }

  /** Makes the consuming loop read its queue now (the router queued a workflow event in this process). */
  wake(): void {
    this.#consumer?.wake();
  }

  /** Stops consuming (the events in hand are finished). Idempotent. */
  async stop(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.stop().catch(() => undefined);
  }

  /**
   * Runs a `callModel` action: calls the model once the instance is still at the version that asked
   * (a redelivery after the answer was applied finds a newer version and does nothing), then takes
   * `then` with the answer — or `onError` with the error — written with `expectedVersion`, so at most
   * one of them commits. The call is billed to the tenant through the gateway like a plugin's.
   */
  async #modelCall(ctx: TenantContext, event: EventEnvelope): Promise<void> {
    const p = event.payload as unknown as ModelCallPayload;
    if (typeof p.instanceId !== 'string' || typeof p.instanceVersion !== 'number' || typeof p.model !== 'string' || typeof p.then !== 'string') return;
    const inst = await this.get(ctx, p.instanceId);
    if (inst.version !== p.instanceVersion) return;
    const cause: TransitionCause = { kind: 'model', id: p.model, event };
    let result: unknown;
    try {
      if (this.options.callModel === undefined) throw new UeeError('MODEL_UNAVAILABLE', 'no model gateway is configured for workflows');
      result = await this.options.callModel(ctx, { model: p.model, input: p.input, eventId: event.eventId, workflow: p.workflow });
    } catch (err) {
      const e = toUeeError(err);
      if (p.onError === undefined) {
        this.options.logger.warn('workflow model call failed and the workflow declares no onError transition', { instanceId: p.instanceId, model: p.model, code: e.code, error: e.message });
        return;
      }
      await this.advance(ctx, p.instanceId, p.onError, { payload: { model: p.model, error: { code: e.code, message: e.message } }, expectedVersion: p.instanceVersion, cause });
      return;
    }
    await this.advance(ctx, p.instanceId, p.then, { payload: { model: p.model, result }, merge: { [p.resultKey]: result }, expectedVersion: p.instanceVersion, cause });
  }

  /** Reacts to one bus event (see {@link startConsuming}); never throws for a stale or foreign event. */
  async handle(event: EventEnvelope): Promise<void> {
    const ctx: TenantContext = { tenantId: event.tenantId, actor: ACTOR };
    try {
      if (event.type === WORKFLOW_TIMER_EVENT && event.source.kind === 'timer') {
        const p = event.payload;
        if (typeof p.instanceId !== 'string' || typeof p.transition !== 'string' || typeof p.instanceVersion !== 'number') return;
        const inst = await this.get(ctx, p.instanceId);
        if (inst.version !== p.instanceVersion) return;
        await this.advance(ctx, p.instanceId, p.transition, { payload: p, expectedVersion: p.instanceVersion, cause: { kind: 'timer', id: String(event.source.id), event } });
      } else if (event.type === WORKFLOW_MODEL_CALL_EVENT && event.source.kind === 'workflow') {
        await this.#modelCall(ctx, event);
      } else if (event.type === WORKFLOW_SPAWNED_EVENT && typeof event.payload.workflow === 'string') {
        const name = event.payload.workflow;
        try {
          await this.definition(ctx, name);
        } catch {
          return; // not a declared workflow: a workflow plugin handles it
        }
        const input = event.payload.input !== null && typeof event.payload.input === 'object' && !Array.isArray(event.payload.input) ? (event.payload.input as JsonObject) : {};
        // One instance per spawning event: its id derives from the event, so a redelivery conflicts.
        await this.start(ctx, name, { context: input, instanceId: `wf:${name}:${event.eventId}`, cause: { kind: 'event', id: event.eventId, event } });
      }
    } catch (err) {
      const e = toUeeError(err);
      if (e.code === 'VERSION_CONFLICT' || e.code === 'ILLEGAL_TRANSITION' || e.code === 'NOT_FOUND') {
        this.options.logger.debug('workflow event skipped', { type: event.type, eventId: event.eventId, code: e.code });
        return;
      }
      throw e;
    }
  }
}

/** The payload of a {@link WORKFLOW_MODEL_CALL_EVENT}. */
interface ModelCallPayload {
  workflow: string;
  instanceId: string;
  instanceVersion: number;
  model: string;
  input: unknown;
  then: string;
  onError?: string;
  resultKey: string;
}

function definitionId(name: string): string {
  return workflowDefinitionId(name);
}

/** The history with `entry` appended, its oldest entries dropped past {@link MAX_INLINE_HISTORY}. */
function appendHistory(a: InstanceAttributes, entry: HistoryEntry): { history: HistoryEntry[]; historyDropped?: number } {
  const history = [...a.history, entry];
  const over = history.length - MAX_INLINE_HISTORY;
  if (over <= 0) return { history };
  return { history: history.slice(over), historyDropped: (a.historyDropped ?? 0) + over };
}

function causeRecord(c: TransitionCause): JsonObject {
  return { kind: c.kind, id: c.id, ...(c.event === undefined ? {} : { eventId: c.event.eventId }) };
}

function toInstance(v: EntityVersion): WorkflowInstance {
  return { instanceId: v.entityId, version: v.version, attributes: v.attributes as InstanceAttributes };
}
