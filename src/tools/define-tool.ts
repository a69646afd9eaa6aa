import { z } from 'zod';
import type { ContentBlock, ServerContext } from '@modelcontextprotocol/server';
import type { Logger, Principal } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import { ProposalRefSchema, RationaleArg } from './schemas.js';

/** MCP tool annotations (hints for clients; never trusted for security). */
export interface ToolAnnotations {
  /** The tool does not change anything. */
  readOnlyHint: boolean;
  /** A change may delete or overwrite data (only meaningful when not read-only). */
  destructiveHint: boolean;
  /** Calling again with the same arguments has no further effect. */
  idempotentHint: boolean;
  /** The tool talks to systems outside UEE (model providers…). @default false */
  openWorldHint?: boolean;
}

/** Log levels a tool may send to the client (`notifications/message`). */
export type ClientLogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

/** Everything a tool's `run` may use. Built per call by the registry. */
export interface ToolContext {
  /** Who is calling. Tenant scoping goes through {@link resolveScope}, never through this directly. */
  readonly principal: Principal;
  /** The application: store, bus, config and, as they land, runtime and registry. */
  readonly app: UeeApp;
  /** Aborted when the client cancels the call or the session closes. Long tools must check it. */
  readonly signal: AbortSignal;
  /** A logger bound to the tool name, principal and request id. */
  readonly logger: Logger;
  /**
   * Reports progress to the client when it asked for it (`_meta.progressToken`); a no-op otherwise.
   * `progress` must increase between calls.
   */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Sends a log message to the client (honours the level it set with `logging/setLevel`). */
  log(level: ClientLogLevel, message: string): Promise<void>;
  /** The raw MCP request context (sampling, elicitation); absent outside MCP. Protocol fixtures only. */
  readonly mcp?: ServerContext;
}

/**
 * What {@link defineTool} takes. `input` must be a strict zod object (unknown fields rejected); use the
 * schema helpers in `./schemas.ts` for names, ids and strings so length caps and path checks apply.
 */
export interface ToolSpec<I extends z.ZodType<Record<string, unknown>>, O extends z.ZodType<Record<string, unknown>>> {
  /** `snake_case`, unique, stable: agents and prompts refer to it. */
  name: string;
  title: string;
  /** What the tool does, when to use it, and what it returns: written for an agent. */
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  /** Only admin principals may see and call it. @default false */
  adminOnly?: boolean;
  /**
   * Long-running work a client may run as an MCP task (tasks extension, 2026-07-28): a call whose
   * request declares the extension answers a task at once and runs in the background, cancellable
   * with `tasks/cancel`; other calls run as usual. Not in `tools/list` (2026-07-28 deleted
   * `execution`; the server instructions name these tools). @default undefined (never a task)
   */
  taskSupport?: 'optional';
  /** Runs the tool with validated arguments; throws `UeeError` on failure. */
  run(ctx: ToolContext, args: z.output<I>): Promise<z.input<O>>;
  /** One line for the text content. @default a generic "<title>: ok" line */
  summarize?(output: z.output<O>): string;
  /**
   * Extra content blocks after the summary (images, embedded resources). Protocol fixtures use this;
   * ordinary tools put everything in `structuredContent`.
   */
  content?(output: z.output<O>): ContentBlock[];
  /** Replaces the JSON Schema derived from `input` (for fixtures that need `$defs`/`$ref` verbatim). */
  inputJsonSchema?: Record<string, unknown>;
  /**
   * Makes applying calls subject to the tenant's review policy: the tool gains `rationale` (input) and
   * `proposal` (output), and a call the policy holds becomes a change proposal instead of a change.
   * The tool must take `dryRun` and return `dryRun` and `applied`.
   */
  review?: ReviewHooks;
}

/** Source files of a change, before and after, for the reviewers' side-by-side diff. */
export interface ReviewFile {
  path: string;
  before: string | null;
  after: string | null;
}

/** What reviewers read besides the plan: diffs, warnings, estimates. JSON data. */
export interface ReviewBundle {
  files: ReviewFile[];
  capabilities: { before: string[]; after: string[] };
  /** Manifest and budget fields that change (JSON values). */
  manifest: Array<{ field: string; before: unknown; after: unknown }>;
  warnings: string[];
  /** Free-form facts: estimated model cost, simulation results, what could not be computed. */
  notes: string[];
  /** The running and the proposed version run on recorded real events, effects side by side. */
  simulation?: ReviewSimulation;
  /** Estimated model use and cost of the proposed version at the recent event rate. */
  cost?: ReviewCost;
  /** The subscribe→emit graph around the change: what it triggers, what triggers it, chain/cycle warnings. */
  graph?: { triggers: string[]; triggeredBy: string[]; warnings: string[] };
}

/** One event's outcome on one version in a review simulation. */
export interface SimulatedRun {
  ok: boolean;
  error?: string;
  writes: number;
  emits: string[];
  readModelUpdates: number;
  timers: number;
  modelCalls: number;
  modelCost: number;
  durationMs: number;
  /** Short digest of the effects, to compare before and after. */
  effects: string;
}

/** Simulation results of a review bundle (see `simulateOnRecorded`). */
export interface ReviewSimulation {
  /** Where the events came from, e.g. "last 12 recorded TaskCreated events of acme". */
  source: string;
  before: { version: number | null; ok: number; failed: number } | null;
  after: { version: number | string; ok: number; failed: number };
  /** Events whose effects differ between the two versions. */
  changed: number;
  rows: Array<{ eventId: string; type: string; occurredAt: string; before: SimulatedRun | null; after: SimulatedRun; same: boolean }>;
  stubbedModels: string[];
}

/** Estimated model use of a change. */
export interface ReviewCost {
  modelCallsPerEvent: { before: number | null; after: number };
  costPerEvent: { before: number | null; after: number };
  eventsPerDay: number;
  callsPerDay: number;
  costPerDay: number;
  /** Calls per day at the budget's modelCalls cap (the worst case). */
  maxCallsPerDay: number | null;
  basis: string;
}

/** The facts a review policy decides on, and the bundle reviewers read. */
export interface ChangeReview {
  /** The scope whose policy applies (null: global). */
  tenantId: string | null;
  /** What changes, e.g. `plugin:Acme.Notes`. */
  target: string;
  capabilitiesAdded: string[];
  subscriptionsAdded: string[];
  /** The resource budget the change leaves in force (for budget thresholds). */
  budget: Record<string, number>;
  bundle: ReviewBundle;
}

/** How a reviewable tool describes a change from its arguments and its dry-run output. */
export interface ReviewHooks {
  /** Cheap scope of a call before any dry run, when known from the principal and arguments alone. */
  scope?(ctx: ToolContext, args: Record<string, unknown>): string | null | undefined;
  /** Fixes arguments a proposal must keep stable across re-plans (e.g. a generated id). */
  prepare?(args: Record<string, unknown>): Record<string, unknown>;
  /** The part of a dry-run result a proposal's base hashes (default: all but dryRun/applied/ids). */
  base?(dryRun: Record<string, unknown>): Record<string, unknown>;
  /**
   * After a crash while applying: whether the change is in force now, made since `since` (the claim
   * time). `dryRun` is the re-planned dry run, or undefined when re-planning failed. `undefined`: cannot tell.
   */
  finished?(ctx: ToolContext, args: Record<string, unknown>, dryRun: Record<string, unknown> | undefined, since: string): Promise<boolean | undefined>;
  describe(ctx: ToolContext, args: Record<string, unknown>, dryRun: Record<string, unknown>): Promise<ChangeReview>;
  /**
   * The costly part of the bundle (simulation on recorded events, cost estimate), computed only for a
   * change that is held for review (and on revisions). `notes` are appended to the bundle's notes.
   */
  enrich?(ctx: ToolContext, args: Record<string, unknown>, dryRun: Record<string, unknown>, change: ChangeReview): Promise<Pick<ReviewBundle, 'simulation' | 'cost'> & { notes?: string[] }>;
}

/**
 * Where applying calls of reviewable tools are checked against review policies (the review service).
 * `intercept` answers the output to return instead of running (a proposal) or `undefined` to run.
 */
export interface ToolGate {
  intercept(def: ToolDefinition, args: Record<string, unknown>, rationale: string | undefined, ctx: ToolContext): Promise<Record<string, unknown> | undefined>;
  /** Records a change applied at once (policy allowed it). */
  applied(def: ToolDefinition, args: Record<string, unknown>, rationale: string | undefined, ctx: ToolContext, output: Record<string, unknown>): Promise<void>;
}

/** A registered tool: a {@link ToolSpec} with its types erased for the registry. */
export interface ToolDefinition {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: z.ZodType<Record<string, unknown>>;
  readonly output: z.ZodType<Record<string, unknown>>;
  readonly annotations: ToolAnnotations;
  readonly adminOnly: boolean;
  readonly taskSupport?: 'optional';
  run(ctx: ToolContext, args: Record<string, unknown>): Promise<unknown>;
  summarize(output: Record<string, unknown>): string;
  content?(output: Record<string, unknown>): ContentBlock[];
  readonly inputJsonSchema?: Record<string, unknown>;
  readonly review?: ReviewHooks;
}

const TOOL_NAME_RE = /^[a-z][a-z0-9_]{1,63}$/;

/**
 * Declares a tool. The registry validates arguments against `input` before `run`, checks the result
 * against `output`, and turns a thrown `UeeError` into an `isError` result carrying
 * `{ code, message, hint }`.
 */
export function defineTool<I extends z.ZodType<Record<string, unknown>>, O extends z.ZodType<Record<string, unknown>>>(
  spec: ToolSpec<I, O>,
): ToolDefinition {
  if (!TOOL_NAME_RE.test(spec.name)) throw new Error(`tool name "${spec.name}" must be snake_case`);
  if (spec.annotations.readOnlyHint && spec.annotations.destructiveHint) throw new Error(`tool ${spec.name}: read-only tools cannot be destructive`);
  let input: z.ZodType<Record<string, unknown>> = spec.input;
  let output: z.ZodType<Record<string, unknown>> = spec.output;
  if (spec.review) {
    if (!(spec.input instanceof z.ZodObject) || !(spec.output instanceof z.ZodObject)) throw new Error(`tool ${spec.name}: reviewable tools take and return objects`);
    input = spec.input.extend({ rationale: RationaleArg });
    output = spec.output.extend({ proposal: ProposalRefSchema.optional().describe('Set when held for human review') });
  }
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    input,
    output,
    annotations: spec.annotations,
    adminOnly: spec.adminOnly ?? false,
    ...(spec.taskSupport ? { taskSupport: spec.taskSupport } : {}),
    run: (ctx, args) => spec.run(ctx, args as z.output<I>),
    summarize: (output) => (spec.summarize ? spec.summarize(output as z.output<O>) : `${spec.title}: ok`),
    ...(spec.content ? { content: (output: Record<string, unknown>) => spec.content?.(output as z.output<O>) ?? [] } : {}),
    ...(spec.inputJsonSchema ? { inputJsonSchema: spec.inputJsonSchema } : {}),
    ...(spec.review ? { review: spec.review } : {}),
  };
}
