import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Principal } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { PluginManifestSchema } from '../../registry/index.js';
import { DefinitionInputSchema } from '../../workflows/index.js';
import { errorCatalogue, namedShapes, SHARED_SHAPES, TENANT_SCOPE_DEFAULT, sdkTypings, typingsUri, SDK_TYPINGS, type TypingsLanguage } from '../../tools/index.js';
import type { EventCatalogue } from './event-catalogue.js';

/** What a resource reader gets. */
export interface ResourceContext {
  principal: Principal;
  catalogue: EventCatalogue;
}

/** A static resource: one URI, read on demand. */
export interface ResourceSpec {
  uri: string;
  name: string;
  title: string;
  description: string;
  mimeType: string;
  read(ctx: ResourceContext): Promise<string>;
}

/** Finds a repository file both from `src/` (tsx) and from a `dist/` build. */
function repoFile(relative: string): string {
  for (const up of ['../../../', '../../../../']) {
    const path = fileURLToPath(new URL(up + relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new UeeError('NOT_FOUND', `${relative} is not installed with this server`, { hint: 'read it in the UEE repository' });
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

/**
 * The manifest's JSON Schema as agents deploy it through plugin_deploy: `tenantScope` has no single
 * default there (a tenant token's deploy is tenant-scoped), so the schema states the rule instead of
 * the registry's internal `global`.
 */
function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PluginManifestSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as { properties?: Record<string, Record<string, unknown>> };
  const scope = schema.properties?.tenantScope;
  if (scope) {
    delete scope.default;
    scope.description = `Whose events the plugin gets: global (every tenant), tenant (one), user (one owner's entities in one tenant). Default: ${TENANT_SCOPE_DEFAULT}.`;
  }
  return schema;
}

const FENCE: Record<TypingsLanguage, string> = { ts: 'ts', assemblyscript: 'ts', rust: 'rust', c: 'c', wat: 'markdown' };

/** One language's SDK typings as markdown: each file under its repository path. */
function typingsMarkdown(language: TypingsLanguage): string {
  const files = sdkTypings(language);
  return [
    `# UEE SDK typings: ${language}`,
    '',
    ...Object.entries(files).flatMap(([path, text]) => [`## ${path}`, '', '```' + FENCE[language], text.trimEnd(), '```', '']),
  ].join('\n');
}

/**
 * The resources every UEE MCP server offers: docs and typings are served here once, so tools name
 * them (`uee://…`) instead of resending them in every answer.
 */
export function coreResources(): ResourceSpec[] {
  return [
    {
      uri: 'uee://docs/sdk',
      name: 'sdk',
      title: 'Plugin SDK guide',
      description: 'The SDK of each language (TypeScript, AssemblyScript, Rust, C, WAT): imports, handlers, host calls, rules of the JS engine.',
      mimeType: 'text/markdown',
      read: () => readFile(repoFile('docs/sdk.md'), 'utf8'),
    },
    ...(Object.keys(SDK_TYPINGS) as TypingsLanguage[]).map(
      (language): ResourceSpec => ({
        uri: typingsUri(language),
        name: `sdk-typings-${language}`,
        title: `SDK typings (${language})`,
        description: `The SDK sources a ${language} plugin codes against (${SDK_TYPINGS[language].join(', ')}); plugin_scaffold names this resource.`,
        mimeType: 'text/markdown',
        read: () => Promise.resolve(typingsMarkdown(language)),
      }),
    ),
    {
      uri: 'uee://schemas/shapes',
      name: 'result-shapes',
      title: 'Shapes named in tool output schemas',
      description: 'JSON Schemas of the shapes tool results share (Entity, Event, Plan, Proposal, SandboxRun, DeadLetter, Experiment, …): output schemas name them instead of repeating them.',
      mimeType: 'application/schema+json',
      read: () => Promise.resolve(json(namedShapes(SHARED_SHAPES))),
    },
    {
      uri: 'uee://schemas/workflow-definition',
      name: 'workflow-definition-schema',
      title: 'Workflow definition JSON Schema',
      description: 'JSON Schema of a workflow definition (workflow_define, workflow_validate): full form (states, transitions, guards, actions) or the compact form.',
      mimeType: 'application/schema+json',
      read: () => Promise.resolve(json(z.toJSONSchema(DefinitionInputSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }))),
    },
    {
      uri: 'uee://docs/plugin-abi',
      name: 'plugin-abi',
      title: 'Host API reference (plugin ABI)',
      description: 'The module contract: exports, host functions (read_entity, write_entity, emit_event, …), their JSON requests and responses, and the capability each needs.',
      mimeType: 'text/markdown',
      read: () => readFile(repoFile('docs/plugin-abi.md'), 'utf8'),
    },
    {
      uri: 'uee://schemas/plugin-manifest',
      name: 'plugin-manifest-schema',
      title: 'Plugin manifest JSON Schema',
      description: 'JSON Schema of a plugin manifest: name, kind, subscribeTo, capabilities, tenantScope, maximumResourceBudget, settings.',
      mimeType: 'application/schema+json',
      read: () => Promise.resolve(json(manifestJsonSchema())),
    },
    {
      uri: 'uee://catalogue/errors',
      name: 'error-codes',
      title: 'Error code catalogue',
      description: 'Every error code a tool can answer with, what it means, and the default hint.',
      mimeType: 'application/json',
      read: () => Promise.resolve(json(errorCatalogue())),
    },
    {
      uri: 'uee://catalogue/event-types',
      name: 'event-types',
      title: 'Event type catalogue',
      description: 'Event types seen on the bus, per tenant visible to you (counts, first/last seen, entity types, payload keys, sources), and the transition events of declared workflows.',
      mimeType: 'application/json',
      read: async (ctx) => json(await ctx.catalogue.list(ctx.principal)),
    },
  ];
}
