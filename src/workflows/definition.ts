import { z } from 'zod';
import { EntityTypeIdSchema, EventTypeSchema, JsonObjectSchema, UeeError, WORKFLOW_NAME_PATTERN, type JsonObject } from '../core/index.js';
import { validateFilter } from '../store/index.js';

/**
 * Workflow definitions declared as data: states, named transitions with guards and actions, and
 * per-state timeouts. Two spellings are accepted — the seed's compact one
 * (`{ states: ["Draft", …], transitions: { Draft: ["InProgress"] } }`, where a transition is named
 * after its target and states without exits are final) and the full one below — and both normalise to
 * {@link WorkflowDefinition}. {@link validateDefinition} refuses what cannot run (unknown or
 * unreachable states, dead ends that are not final, malformed guards, spawn cycles).
 */

const NAME = WORKFLOW_NAME_PATTERN;
const NameSchema = z.string().regex(NAME, 'names are 1-64 letters, digits, "_" or "-", starting with a letter');

/** A side effect of a transition (or of entering a state), committed atomically with it. */
export const ActionSchema = z.union([
  z.strictObject({ emit: z.strictObject({ type: EventTypeSchema, payload: JsonObjectSchema.optional() }) }),
  z.strictObject({ write: z.strictObject({ entityTypeId: EntityTypeIdSchema, entityId: z.string().min(1).max(128).optional(), attributes: JsonObjectSchema }) }),
  z.strictObject({ set: JsonObjectSchema.describe('Keys merged into the instance context') }),
  z.strictObject({ setTimer: z.strictObject({ afterMs: z.number().int().min(0), transition: NameSchema, payload: JsonObjectSchema.optional() }) }),
  z.strictObject({ spawn: z.strictObject({ workflow: NameSchema, input: JsonObjectSchema.optional() }) }),
  z.strictObject({
    callModel: z
      .strictObject({
        model: z.string().min(1).max(128).describe('A model of the gateway (model_list)'),
        input: z.union([z.string().max(65_536), JsonObjectSchema]).optional().describe('The model input; default: the instance context'),
        then: NameSchema.describe('Transition taken with the answer (in event.payload.result)'),
        onError: NameSchema.optional().describe('Transition taken when the call fails (event.payload.error)'),
        resultKey: NameSchema.optional().describe('Context key the answer is stored under (default: modelResult)'),
      })
      .describe('Calls a model after the commit, through the gateway on the tenant budget, then takes `then` (or `onError`)'),
  }),
]);
/** One action. */
export type WorkflowAction = z.infer<typeof ActionSchema>;

const TransitionSchema = z.strictObject({
  name: NameSchema.describe('What callers ask for (workflow_advance transition)'),
  from: z.union([NameSchema, z.array(NameSchema).min(1)]),
  to: NameSchema,
  guard: JsonObjectSchema.optional().describe('A store filter over { instance: { state, context }, event: { payload } }'),
  actions: z.array(ActionSchema).max(32).optional(),
});

const StateSchema = z.strictObject({
  final: z.boolean().optional(),
  timeout: z.strictObject({ afterMs: z.number().int().min(1), transition: NameSchema }).optional(),
  /** An instance longer than this in the state is listed as stuck. */
  stuckAfterMs: z.number().int().min(1).optional(),
  onEnter: z.array(ActionSchema).max(32).optional(),
});

/** The full spelling. */
const FullSchema = z.strictObject({
  name: NameSchema,
  description: z.string().max(2000).optional(),
  initial: NameSchema,
  states: z.record(NameSchema, StateSchema),
  transitions: z.array(TransitionSchema).max(512),
});

/** The seed's compact spelling. */
const CompactSchema = z.strictObject({
  name: NameSchema,
  description: z.string().max(2000).optional(),
  initial: NameSchema.optional(),
  states: z.array(NameSchema).min(1).max(256),
  transitions: z.record(NameSchema, z.array(NameSchema)),
  final: z.array(NameSchema).optional(),
});

/** What a caller may send: either spelling. */
export const DefinitionInputSchema = z.union([FullSchema, CompactSchema]);
/** Input of {@link normaliseDefinition}. */
export type DefinitionInput = z.input<typeof DefinitionInputSchema>;

/** A normalised definition. */
export interface WorkflowDefinition {
  name: string;
  description?: string;
  initial: string;
  states: Record<string, z.infer<typeof StateSchema>>;
  transitions: Array<{ name: string; from: string[]; to: string; guard?: JsonObject; actions?: WorkflowAction[] }>;
}

function invalid(name: string, problems: string[]): UeeError {
  return new UeeError('WORKFLOW_INVALID', `workflow ${name} is invalid: ${problems.join('; ')}`, {
    details: { workflow: name, problems },
    hint: 'fix the listed problems and validate again (workflow_define with dryRun: true)',
  });
}

/** Parses either spelling into a {@link WorkflowDefinition} (shape only; see {@link validateDefinition}). */
export function normaliseDefinition(input: unknown): WorkflowDefinition {
  const compact = CompactSchema.safeParse(input);
  if (compact.success) {
    const c = compact.data;
    const exits = new Set(Object.entries(c.transitions).filter(([, to]) => to.length > 0).map(([from]) => from));
    const final = new Set(c.final ?? c.states.filter((s) => !exits.has(s)));
    const states: WorkflowDefinition['states'] = {};
    for (const s of c.states) states[s] = final.has(s) ? { final: true } : {};
    const transitions: WorkflowDefinition['transitions'] = [];
    for (const [from, targets] of Object.entries(c.transitions)) for (const to of targets) transitions.push({ name: to, from: [from], to });
    return { name: c.name, ...(c.description === undefined ? {} : { description: c.description }), initial: c.initial ?? c.states[0]!, states, transitions };
  }
  const full = FullSchema.safeParse(input);
  if (!full.success) {
    const name = typeof (input as { name?: unknown } | null)?.name === 'string' ? String((input as { name: string }).name) : '(unnamed)';
    throw invalid(name, full.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const f = full.data;
  return {
    name: f.name,
    ...(f.description === undefined ? {} : { description: f.description }),
    initial: f.initial,
    states: f.states,
    transitions: f.transitions.map((t) => ({ ...t, from: Array.isArray(t.from) ? t.from : [t.from] })),
  };
}

function actionsOf(def: WorkflowDefinition): Array<{ where: string; action: WorkflowAction }> {
  const out: Array<{ where: string; action: WorkflowAction }> = [];
  for (const t of def.transitions) for (const action of t.actions ?? []) out.push({ where: `transition ${t.name}`, action });
  for (const [s, st] of Object.entries(def.states)) for (const action of st.onEnter ?? []) out.push({ where: `state ${s} onEnter`, action });
  return out;
}

/** Workflows a definition's `spawn` actions start. */
export function spawnsOf(def: WorkflowDefinition): string[] {
  return [...new Set(actionsOf(def).flatMap(({ action }) => ('spawn' in action ? [action.spawn.workflow] : [])))];
}

/**
 * Checks a definition can run: every named state exists, every state is reachable from `initial`,
 * every non-final state has an exit, guards are valid store filters, timeouts and timers name
 * transitions that leave their state, and no spawn chain leads back to itself (`others` are the
 * tenant's other definitions by name). Throws `WORKFLOW_INVALID` listing every problem.
 */
export function validateDefinition(def: WorkflowDefinition, others: ReadonlyMap<string, WorkflowDefinition> = new Map()): void {
  const problems: string[] = [];
  const states = new Set(Object.keys(def.states));
  if (states.size === 0) problems.push('no states');
  if (!states.has(def.initial)) problems.push(`initial state ${def.initial} is not declared`);
  const names = new Set(def.transitions.map((t) => t.name));
  for (const t of def.transitions) {
    for (const f of t.from) if (!states.has(f)) problems.push(`transition ${t.name}: unknown state ${f}`);
    if (!states.has(t.to)) problems.push(`transition ${t.name}: unknown state ${t.to}`);
    for (const f of t.from) if (def.states[f]?.final === true) problems.push(`transition ${t.name} leaves final state ${f}`);
    if (t.guard !== undefined) {
      try {
        validateFilter(t.guard);
      } catch (err) {
        problems.push(`transition ${t.name}: invalid guard (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }
  // Reachability from the initial state.
  const seen = new Set<string>([def.initial]);
  const queue = [def.initial];
  while (queue.length > 0) {
    const s = queue.shift()!;
    for (const t of def.transitions) {
      if (t.from.includes(s) && !seen.has(t.to)) {
        seen.add(t.to);
        queue.push(t.to);
      }
    }
  }
  for (const s of states) if (!seen.has(s)) problems.push(`state ${s} is unreachable from ${def.initial}`);
  for (const [s, st] of Object.entries(def.states)) {
    const exits = def.transitions.filter((t) => t.from.includes(s));
    if (st.final !== true && exits.length === 0) problems.push(`state ${s} is a dead end: give it a transition out or mark it final`);
    if (st.timeout !== undefined && !exits.some((t) => t.name === st.timeout!.transition)) {
      problems.push(`state ${s}: timeout transition ${st.timeout.transition} does not leave ${s}`);
    }
  }
  if (!Object.values(def.states).some((s) => s.final === true)) problems.push('no final state');
  for (const { where, action } of actionsOf(def)) {
    if ('setTimer' in action && !names.has(action.setTimer.transition)) problems.push(`${where}: setTimer names unknown transition ${action.setTimer.transition}`);
    if ('callModel' in action) {
      for (const t of [action.callModel.then, action.callModel.onError]) if (t !== undefined && !names.has(t)) problems.push(`${where}: callModel names unknown transition ${t}`);
    }
  }
  // Spawn cycles across this tenant's definitions (this one replacing its previous version).
  const graph = new Map<string, string[]>([...others].map(([n, d]) => [n, spawnsOf(d)]));
  graph.set(def.name, spawnsOf(def));
  const cycle = findCycle(def.name, graph);
  if (cycle !== null) problems.push(`spawn cycle: ${cycle.join(' → ')}`);
  if (problems.length > 0) throw invalid(def.name, problems);
}

function findCycle(start: string, graph: ReadonlyMap<string, string[]>): string[] | null {
  const path: string[] = [];
  const onPath = new Set<string>();
  const done = new Set<string>();
  const visit = (n: string): string[] | null => {
    if (onPath.has(n)) return [...path.slice(path.indexOf(n)), n];
    if (done.has(n)) return null;
    onPath.add(n);
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c !== null) return c;
    }
    path.pop();
    onPath.delete(n);
    done.add(n);
    return null;
  };
  return visit(start);
}

/** The event type a transition into `state` publishes: `<workflow>.<state>`. */
export function transitionEventType(workflow: string, state: string): string {
  return `${workflow}.${state}`;
}

/** Event types other plugins can subscribe to for this workflow. */
export function transitionEvents(def: WorkflowDefinition): string[] {
  return ['WorkflowTransitioned', ...Object.keys(def.states).map((s) => transitionEventType(def.name, s))];
}

/** A Mermaid `stateDiagram-v2` of the definition (guards shown as `[guarded]`, timeouts as `after Nms`). */
export function mermaid(def: WorkflowDefinition): string {
  const lines = ['stateDiagram-v2', `  [*] --> ${def.initial}`];
  for (const t of def.transitions) {
    for (const f of t.from) {
      const timeout = def.states[f]?.timeout;
      const label = [t.name, t.guard === undefined ? '' : '[guarded]', timeout?.transition === t.name ? `after ${timeout.afterMs}ms` : ''].filter(Boolean).join(' ');
      lines.push(`  ${f} --> ${t.to}: ${label}`);
    }
  }
  for (const [s, st] of Object.entries(def.states)) if (st.final === true) lines.push(`  ${s} --> [*]`);
  return lines.join('\n');
}
