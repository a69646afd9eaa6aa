import { z } from 'zod';
import { UeeError, parseOrThrow } from '../../core/index.js';
import { inspectWasm } from '../../compiler/index.js';
import { PluginManifestSchema, type PluginManifest } from '../../registry/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { JsonObjectArg, TenantArg } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { artifactInfo, loadArtifact } from './compile.js';
import { sourceCapabilities } from './source-capabilities.js';
import { assertMaySpend } from './sandbox-gate.js';
import { RunOut, SandboxArgs, TestEventArg, runSandbox, type SandboxPlugin } from './sandbox.js';
import { ArtifactArg, PluginRefArgs, resolvePlugin } from './shared.js';

/** The sandbox description every sandboxed tool returns. */
export const SandboxOut = z.object({
  store: z.string(),
  entitiesSeeded: z.number().int(),
  isolated: z.literal(true).describe('Nothing was written to the real store or bus'),
});

/** The plugin a sandbox run used. */
export const TestedPluginOut = z.object({
  name: z.string(),
  version: z.union([z.string(), z.number()]),
  source: z.enum(['artifact', 'deployed']),
  capabilities: z.array(z.string()),
});

/** Builds the sandbox plugin for an artifact and an optional (partial) manifest. */
export async function artifactPlugin(
  ctx: ToolContext,
  artifact: string,
  manifest: Record<string, unknown> | undefined,
  eventTypes: string[],
): Promise<SandboxPlugin> {
  const wasm = await loadArtifact(ctx, artifact);
  const report = inspectWasm(wasm);
  // What the module needs, reading input.entity included (see plugin_compile's requiredCapabilities).
  const needed = [...new Set([...report.capabilities, ...sourceCapabilities(artifactInfo(ctx, artifact)?.source?.files).map((c) => c.capability)])];
  const { tenantScope: _s, tenantId: _t, ownerId: _o, ...rest } = manifest ?? {};
  const kind = rest.kind === 'model' ? 'model' : rest.kind === 'workflow' ? 'workflow' : 'event';
  const parsed: PluginManifest = parseOrThrow(
    PluginManifestSchema,
    {
      name: 'sandbox-test',
      capabilities: needed,
      ...rest,
      kind,
      subscribeTo: Array.isArray(rest.subscribeTo) && rest.subscribeTo.length > 0 ? rest.subscribeTo : kind === 'model' ? [] : eventTypes,
      tenantScope: 'global',
    },
    'manifest',
  );
  return { name: parsed.name, version: 'sandbox', manifest: parsed, tenantId: null, wasm };
}

/** `plugin_test`: runs an artifact or a deployed version on events in an isolated sandbox. */
export const pluginTest = defineTool({
  name: 'plugin_test',
  taskSupport: 'optional',
  title: 'Test plugin (sandbox)',
  description: 'Runs an artifact or deployed version on events in an isolated seeded sandbox: output, effects, logs, usage, error per event.',
  input: z.strictObject({
    tenantId: TenantArg,
    artifact: ArtifactArg.optional(),
    ...PluginRefArgs,
    manifest: JsonObjectArg.optional(),
    events: z.array(TestEventArg).min(1).max(50).describe('Run in order'),
    ...SandboxArgs,
  }),
  output: z.object({ plugin: TestedPluginOut, sandbox: SandboxOut, runs: z.array(RunOut), passed: z.number().int(), failed: z.number().int() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    assertMaySpend(ctx.principal, args.models);
    const scope = await resolveScope(ctx, args.tenantId);
    let plugin: SandboxPlugin;
    let source: 'artifact' | 'deployed';
    if (args.artifact !== undefined) {
      if (args.pluginId !== undefined || args.name !== undefined) {
        throw new UeeError('VALIDATION_FAILED', 'pass an artifact or a deployed plugin (pluginId / name), not both', {
          details: { issues: [{ path: 'artifact', message: 'ambiguous' }] },
          hint: 'drop artifact to test the deployed version, or drop pluginId/name to test the artifact',
        });
      }
      plugin = await artifactPlugin(ctx, args.artifact, args.manifest, [...new Set(args.events.map((e) => e.type))]);
      source = 'artifact';
    } else {
      const record = await resolvePlugin(ctx, args, scope.tenantId);
      plugin = { id: record.id, name: record.attributes.name, version: record.attributes.pluginVersion, manifest: record.attributes, tenantId: record.tenantId, wasm: await ctx.app.registry.binary(record) };
      source = 'deployed';
    }
    const { runs, sandbox } = await runSandbox(
      ctx,
      plugin,
      args.events.map((draft) => ({ draft })),
      {
        tenantId: scope.tenantId,
        models: args.models,
        ...(args.fixtures ? { fixtures: args.fixtures } : {}),
        ...(args.readModels ? { readModels: args.readModels } : {}),
        ...(args.tenantConfig ? { tenantConfig: args.tenantConfig } : {}),
        ...(args.pluginSettings ? { pluginSettings: args.pluginSettings } : {}),
      },
    );
    const passed = runs.filter((r) => r.ok).length;
    return {
      plugin: { name: plugin.name, version: plugin.version, source, capabilities: [...plugin.manifest.capabilities] },
      sandbox: { ...sandbox, isolated: true as const },
      runs,
      passed,
      failed: runs.length - passed,
    };
  },
  summarize: (o) => {
    const failure = o.runs.find((r) => !r.ok)?.error;
    const stubbed = [...new Set(o.runs.flatMap((r) => r.stubbedModels ?? []))];
    return (
      `${o.passed}/${o.runs.length} events ok in the sandbox${failure ? `; first failure ${failure.code}: ${failure.message} (hint: ${failure.hint})` : ''}` +
      (stubbed.length > 0 ? `; STUBBED models (outputs not real): ${stubbed.join(', ')}` : '')
    );
  },
});
