import { z } from 'zod';
import type { TenantContext } from '../core/index.js';
import type { ToolDefinition } from './define-tool.js';
import { defineTool } from './define-tool.js';
import { CursorArg, DryRunArg, EntityIdArg, JsonObjectArg, PlanSchema, TenantArg } from './schemas.js';
import { resolveScope, scopeLabel } from './scope.js';

/**
 * MCP tools for declared workflows (`src/workflows`): define (with validation and a Mermaid plan),
 * validate, start, advance, migrate, inspect and list. Mutating ones take `dryRun`.
 */

const WorkflowNameArg = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/).describe('e.g. "order"');
const DefinitionArg = z
  .record(z.string(), z.unknown())
  .describe('Definition (JSON Schema: uee://schemas/workflow-definition), or compact: {name, states: [names], transitions: {From: [To]}}');

const InstanceOut = z.object({ instanceId: z.string(), version: z.number(), attributes: z.record(z.string(), z.unknown()) });

function plan(summary: string, scope: TenantContext, changes: z.infer<typeof PlanSchema>['changes'], eventTypes: string[]): z.infer<typeof PlanSchema> {
  return { summary, changes, tenants: [scopeLabel(scope)], eventTypes };
}

/** `workflow_define`: validates and stores a definition (a new version when it exists). */
export const workflowDefine = defineTool({
  name: 'workflow_define',
  title: 'Define workflow',
  description: 'Declares a workflow as data and validates it (WORKFLOW_INVALID lists every problem); returns a Mermaid diagram.',
  input: z.strictObject({ tenantId: TenantArg, definition: DefinitionArg, dryRun: DryRunArg }),
  output: z.object({ dryRun: z.boolean(), applied: z.boolean(), version: z.number().nullable(), mermaid: z.string(), transitionEvents: z.array(z.string()), plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const r = await ctx.app.workflows.define(scope, args.definition, { dryRun: args.dryRun });
    return {
      dryRun: args.dryRun,
      applied: r.applied,
      version: r.version,
      mermaid: r.mermaid,
      transitionEvents: r.transitionEvents,
      plan: plan(`define workflow ${r.definition.name}`, scope, [{ action: 'create', target: `workflow:${r.definition.name}`, detail: `${Object.keys(r.definition.states).length} states, ${r.definition.transitions.length} transitions` }], ['WorkflowDefined']),
    };
  },
  summarize: (o) => (o.applied ? `defined version ${o.version}` : 'valid (dry run)') + `; subscribe to ${o.transitionEvents.join(', ')}`,
});

/** `workflow_validate`: the checks of `workflow_define`, storing nothing. */
export const workflowValidate = defineTool({
  name: 'workflow_validate',
  title: 'Validate workflow',
  description: 'Validates a workflow definition as workflow_define does, without storing it.',
  input: z.strictObject({ tenantId: TenantArg, definition: DefinitionArg }),
  output: z.object({ valid: z.boolean(), mermaid: z.string(), transitionEvents: z.array(z.string()) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const r = await ctx.app.workflows.define(scope, args.definition, { dryRun: true });
    return { valid: true, mermaid: r.mermaid, transitionEvents: r.transitionEvents };
  },
  summarize: () => 'valid',
});

/** `workflow_start`: a new instance in the initial state. */
export const workflowStart = defineTool({
  name: 'workflow_start',
  title: 'Start workflow instance',
  description: 'Starts an instance of a workflow (latest version).',
  input: z.strictObject({ tenantId: TenantArg, workflow: WorkflowNameArg, context: JsonObjectArg.optional(), dryRun: DryRunArg }),
  output: z.object({ dryRun: z.boolean(), instance: InstanceOut, plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const instance = await ctx.app.workflows.start(scope, args.workflow, { context: (args.context ?? {}), dryRun: args.dryRun });
    return {
      dryRun: args.dryRun,
      instance,
      plan: plan(`start ${args.workflow} in ${instance.attributes.state}`, scope, [{ action: 'create', target: `instance:${instance.instanceId}` }], ['WorkflowStarted', `${args.workflow}.${instance.attributes.state}`]),
    };
  },
  summarize: (o) => `${o.dryRun ? 'would start' : 'started'} ${o.instance.instanceId} in ${String(o.instance.attributes.state)}`,
});

/** `workflow_advance`: takes one transition. */
export const workflowAdvance = defineTool({
  name: 'workflow_advance',
  title: 'Advance workflow instance',
  description: 'Takes a named transition; ILLEGAL_TRANSITION or VERSION_CONFLICT change nothing.',
  input: z.strictObject({
    tenantId: TenantArg,
    instanceId: EntityIdArg,
    transition: WorkflowNameArg,
    payload: JsonObjectArg.optional(),
    expectedVersion: z.number().int().positive().optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), from: z.string(), to: z.string(), instance: InstanceOut, plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const r = await ctx.app.workflows.advance(scope, args.instanceId, args.transition, {
      payload: (args.payload ?? {}),
      dryRun: args.dryRun,
      ...(args.expectedVersion === undefined ? {} : { expectedVersion: args.expectedVersion }),
    });
    const wf = String(r.instance.attributes.workflow);
    return { dryRun: args.dryRun, ...r, plan: plan(`${args.transition}: ${r.from} → ${r.to}`, scope, [{ action: 'update', target: `instance:${args.instanceId}` }], ['WorkflowTransitioned', `${wf}.${r.to}`]) };
  },
  summarize: (o) => `${o.dryRun ? 'would move' : 'moved'} ${o.from} → ${o.to} (version ${o.instance.version})`,
});

/** `workflow_migrate`: moves an instance to another definition version. */
export const workflowMigrate = defineTool({
  name: 'workflow_migrate',
  title: 'Migrate workflow instance',
  description: 'Moves an instance to another definition version; stateMap renames missing states.',
  input: z.strictObject({ tenantId: TenantArg, instanceId: EntityIdArg, toVersion: z.number().int().positive(), stateMap: z.record(z.string(), z.string()).optional(), dryRun: DryRunArg }),
  output: z.object({ dryRun: z.boolean(), instance: InstanceOut, plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const instance = await ctx.app.workflows.migrate(scope, args.instanceId, args.toVersion, { ...(args.stateMap === undefined ? {} : { stateMap: args.stateMap }), dryRun: args.dryRun });
    return { dryRun: args.dryRun, instance, plan: plan(`migrate to version ${args.toVersion}`, scope, [{ action: 'update', target: `instance:${args.instanceId}` }], ['WorkflowMigrated']) };
  },
  summarize: (o) => `${o.dryRun ? 'would migrate' : 'migrated'} to version ${String(o.instance.attributes.definitionVersion)} in ${String(o.instance.attributes.state)}`,
});

/** `workflow_inspect`: an instance with its full history and the transitions it may take. */
export const workflowInspect = defineTool({
  name: 'workflow_inspect',
  title: 'Inspect workflow instance',
  description: 'An instance: state, context, history, transitions allowed now, time in state.',
  input: z.strictObject({ tenantId: TenantArg, instanceId: EntityIdArg }),
  output: z.object({ instance: InstanceOut, allowed: z.array(z.object({ transition: z.string(), to: z.string(), guarded: z.boolean() })), timeInStateMs: z.number() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const instance = await ctx.app.workflows.get(scope, args.instanceId);
    return { instance, allowed: await ctx.app.workflows.allowed(scope, instance), timeInStateMs: Date.now() - Date.parse(instance.attributes.enteredAt) };
  },
  summarize: (o) => `${String(o.instance.attributes.workflow)} in ${String(o.instance.attributes.state)}; allowed: ${o.allowed.map((a) => a.transition).join(', ') || '(final)'}`,
});

/** `workflow_list`: definitions, or instances by workflow/state, or stuck instances. */
export const workflowList = defineTool({
  name: 'workflow_list',
  title: 'List workflows',
  description: 'No filter: the workflows. With workflow, state or stuck: instances.',
  input: z.strictObject({ tenantId: TenantArg, workflow: WorkflowNameArg.optional(), state: z.string().max(64).optional(), stuck: z.boolean().optional(), limit: z.number().int().min(1).max(1000).optional(), cursor: CursorArg }),
  output: z.object({
    definitions: z.array(z.object({ name: z.string(), version: z.number(), states: z.array(z.string()), transitionEvents: z.array(z.string()) })).optional(),
    instances: z.array(z.record(z.string(), z.unknown())).optional(),
    nextCursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    if (args.workflow === undefined && args.state === undefined && args.stuck === undefined) {
      return { definitions: await ctx.app.workflows.listDefinitions(scope), nextCursor: null };
    }
    const page = await ctx.app.workflows.list(scope, {
      ...(args.workflow === undefined ? {} : { workflow: args.workflow }),
      ...(args.state === undefined ? {} : { state: args.state }),
      ...(args.stuck === undefined ? {} : { stuck: args.stuck }),
      ...(args.limit === undefined ? {} : { limit: args.limit }),
      ...(args.cursor === undefined ? {} : { cursor: args.cursor }),
    });
    return { instances: page.items, nextCursor: page.nextCursor };
  },
  summarize: (o) => (o.definitions ? `${o.definitions.length} workflow(s)` : `${o.instances?.length ?? 0} instance(s)`),
});

/** The workflow tools, registered beside the plugin tools. */
export function workflowTools(): ToolDefinition[] {
  return [workflowDefine, workflowValidate, workflowStart, workflowAdvance, workflowMigrate, workflowInspect, workflowList];
}
