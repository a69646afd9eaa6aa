import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Principal } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { PluginManifestSchema } from '../../registry/index.js';
import { errorCatalogue } from '../../tools/index.js';
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

/** The resources every UEE MCP server offers. Plugin sources and SDK typings join as later tools land. */
export function coreResources(): ResourceSpec[] {
  return [
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
      read: () => Promise.resolve(json(z.toJSONSchema(PluginManifestSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }))),
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
