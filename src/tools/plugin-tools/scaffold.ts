import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UeeError, toUeeError } from '../../core/index.js';
import type { ChatOutput } from '../../model-gateway/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { EventTypeArg, PluginNameArg, TenantArg, text } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { compileSources } from './compile.js';
import { CapabilityArg } from './shared.js';
import { asTemplate, tsTemplate, watTemplate, type TemplateSpec } from './templates.js';

let sdkRoot: string | undefined;

/** The repository (or package) directory holding `sdk/`, found by walking up from this file. */
function findSdkRoot(): string {
  if (sdkRoot !== undefined) return sdkRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'sdk', 'ts', 'index.ts'))) return (sdkRoot = dir);
    const up = dirname(dir);
    if (up === dir) throw new UeeError('INTERNAL', 'cannot find the SDK sources (sdk/ts/index.ts)');
    dir = up;
  }
}

/** The languages with SDK typings, and the repository files that are their typings. */
export const SDK_TYPINGS = {
  ts: ['sdk/ts/index.ts', 'sdk/ts/types.ts'],
  assemblyscript: ['sdk/as/index.ts', 'sdk/as/json.ts'],
  rust: ['sdk/rust/uee_plugin.rs'],
  c: ['sdk/c/uee_plugin.h'],
  wat: ['docs/plugin-abi.md'],
} as const satisfies Record<string, readonly string[]>;

/** A language of {@link SDK_TYPINGS}. */
export type TypingsLanguage = keyof typeof SDK_TYPINGS;

/** The resource serving a language's SDK typings once (instead of every plugin_scaffold answer). */
export function typingsUri(language: TypingsLanguage): string {
  return `uee://sdk/typings/${language}`;
}

/** SDK sources (the typings agents code against) for a language, by repository path. */
export function sdkTypings(language: TypingsLanguage): Record<string, string> {
  const root = findSdkRoot();
  return Object.fromEntries(SDK_TYPINGS[language].filter((p) => existsSync(join(root, p))).map((p) => [p, readFileSync(join(root, p), 'utf8')]));
}

/** A chat model of the gateway that is a real model (not the built-in echo template), if any. */
function draftingModel(ctx: ToolContext, tenantId: string | null): string | undefined {
  const models = ctx.app.gateway.listModels(tenantId).filter((m) => m.kind === 'chat' && m.provider !== 'builtin');
  return (models.find((m) => m.name === 'chat.default') ?? models[0])?.name;
}

const DRAFT_SYSTEM = [
  'You write UEE plugins in TypeScript. Reply with ONE ```ts code block holding the complete main.ts and nothing else.',
  "Import only from 'uee:plugin': on, handlers, log, readEntity, writeEntity, emitEvent, queryReadModel, updateReadModel,",
  'getTenantConfig, callModel, scheduleTimer, cancelTimer, spawnWorkflow, PluginError, and the type HandleInput.',
  "Declare handlers with on('EventType', (input: HandleInput) => { ... return jsonOutput; }). Host calls are synchronous.",
  'No npm packages, no fetch, no timers, no top-level host calls. Call only host functions whose capability is granted.',
].join('\n');

/** Asks the model for a handler; returns the source when it compiles, else undefined with a reason. */
async function draftWithModel(ctx: ToolContext, model: string, tenantId: string | null, spec: TemplateSpec, template: string): Promise<{ source?: string; note: string }> {
  const user = [
    `Plugin ${spec.name} (${spec.kind}). Events: ${spec.events.join(', ') || '(none)'}. Capabilities granted: ${spec.capabilities.join(', ') || '(none)'}.`,
    `Goal: ${spec.description ?? 'react to the events'}`,
    'Start from this template and replace the TODOs:',
    '```ts',
    template,
    '```',
  ].join('\n');
  try {
    const result = await ctx.app.gateway.call(
      { tenantId, actor: ctx.principal.id },
      { model, input: { messages: [{ role: 'system', content: DRAFT_SYSTEM }, { role: 'user', content: user }], temperature: 0 }, source: 'api', signal: ctx.signal },
    );
    const content = (result.output as Partial<ChatOutput>).content ?? '';
    const code = /```(?:ts|typescript|js)?\s*\n([\s\S]*?)```/.exec(content)?.[1] ?? (content.includes("from 'uee:plugin'") ? content : '');
    if (!code.includes('uee:plugin')) return { note: `model ${model} answered no usable TypeScript; the template is used` };
    try {
      await compileSources(ctx, { language: 'ts', files: { 'main.ts': code }, entry: 'main.ts' });
    } catch (err) {
      return { note: `the draft of model ${model} did not compile (${toUeeError(err).message}); the template is used` };
    }
    return { source: code, note: `handler drafted by model ${model} and checked to compile; review it before deploying` };
  } catch (err) {
    const e = toUeeError(err);
    if (e.code === 'CANCELLED') throw e;
    return { note: `model ${model} failed (${e.code}); the template is used` };
  }
}

/** `plugin_scaffold`: a compilable starting point — sources, manifest and SDK typings. */
export const pluginScaffold = defineTool({
  name: 'plugin_scaffold',
  title: 'Scaffold plugin',
  description: 'A plugin skeleton that compiles as is (files, manifest), drafted by a chat model if configured. SDK typings: the resource in `typings`.',
  input: z.strictObject({
    tenantId: TenantArg,
    name: PluginNameArg,
    kind: z.enum(['event', 'workflow', 'model']).default('event'),
    language: z.enum(['ts', 'assemblyscript', 'wat']).default('ts'),
    events: z.array(EventTypeArg).max(32).default([]).describe('≥1 unless kind model'),
    capabilities: z.array(CapabilityArg).max(16).default([]),
    description: text(4000, 'What it should do (for the draft)').optional(),
    draft: z.boolean().default(true),
    includeTypings: z.boolean().default(false),
  }),
  output: z.object({
    language: z.enum(['ts', 'assemblyscript', 'wat']),
    entry: z.string(),
    files: z.record(z.string(), z.string()),
    manifest: z.record(z.string(), z.unknown()),
    typings: z
      .object({
        resource: z.string().describe('uee://sdk/typings/<language>: read it once (resources/read)'),
        files: z.record(z.string(), z.string()).optional().describe('With includeTypings: SDK sources by path'),
      })
      .describe('The SDK typings to code against (what `uee:plugin` / "uee-plugin" resolve to)'),
    draftedBy: z.object({ kind: z.enum(['template', 'model']), model: z.string().nullable(), note: z.string() }),
    nextSteps: z.array(z.string()),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(ctx, args) {
    if (args.kind !== 'model' && args.events.length === 0) {
      throw new UeeError('VALIDATION_FAILED', `a ${args.kind} plugin must handle at least one event type`, {
        details: { issues: [{ path: 'events', message: 'at least one event type' }] },
        hint: 'pass events, e.g. ["TaskCreated"] (see the resource uee://catalogue/event-types)',
      });
    }
    const tenantId = ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : args.tenantId === undefined ? null : (await resolveScope(ctx, args.tenantId)).tenantId;
    const spec: TemplateSpec = { name: args.name, kind: args.kind, events: args.events, capabilities: args.capabilities, description: args.description };
    const entry = args.language === 'wat' ? 'main.wat' : 'main.ts';
    let source = args.language === 'ts' ? tsTemplate(spec) : args.language === 'assemblyscript' ? asTemplate(spec) : watTemplate(spec);
    let draftedBy: { kind: 'template' | 'model'; model: string | null; note: string } = {
      kind: 'template',
      model: null,
      note: 'template with TODOs: no chat model other than the built-in echo template is configured',
    };
    // Drafting spends the tenant's model quota: read-only tokens get the template.
    const readOnly = ctx.principal.kind === 'tenant' && ctx.principal.readOnly;
    const model = args.draft && !readOnly && args.language === 'ts' && args.kind !== 'model' ? draftingModel(ctx, tenantId) : undefined;
    if (!args.draft) draftedBy.note = 'template with TODOs (draft: false)';
    else if (readOnly && draftingModel(ctx, tenantId)) draftedBy.note = 'template with TODOs: this token is read-only, and drafting with a model would spend the tenant\'s model quota';
    else if (args.language !== 'ts' && draftingModel(ctx, tenantId)) draftedBy.note = 'template with TODOs: model drafting is offered for TypeScript only';
    if (model !== undefined) {
      await ctx.progress(0, 2, `drafting the handler with ${model}`);
      const drafted = await draftWithModel(ctx, model, tenantId, spec, source);
      if (drafted.source !== undefined) {
        source = drafted.source;
        draftedBy = { kind: 'model', model, note: drafted.note };
      } else draftedBy = { kind: 'template', model, note: drafted.note };
      await ctx.progress(2, 2, 'drafted');
    }
    const manifest: Record<string, unknown> = {
      name: args.name,
      kind: args.kind,
      ...(args.description ? { description: args.description } : {}),
      subscribeTo: args.kind === 'model' ? [] : args.events,
      capabilities: args.capabilities,
      ...(tenantId === null ? { tenantScope: 'global' } : { tenantScope: 'tenant', tenantId }),
      settings: {},
    };
    const language = args.language;
    return {
      language,
      entry,
      files: { [entry]: source },
      manifest,
      typings: { resource: typingsUri(language), ...(args.includeTypings ? { files: sdkTypings(language) } : {}) },
      draftedBy,
      nextSteps: [
        `edit ${entry}: replace the TODOs`,
        `plugin_compile { source: { language: "${language}", files, entry: "${entry}" }, capabilities: manifest.capabilities } → artifact`,
        'plugin_test { artifact, manifest, events: [...], fixtures: [...] } → effects in a sandbox',
        'plugin_deploy { manifest, artifact, dryRun: true } → plan; then dryRun: false',
      ],
    };
  },
  summarize: (o) => `${o.language} ${String(o.manifest.kind)} plugin ${String(o.manifest.name)}: ${Object.keys(o.files).join(', ')} (${o.draftedBy.kind}${o.draftedBy.model ? ` ${o.draftedBy.model}` : ''})`,
});
