import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  SetLevelRequestSchema,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger, Principal } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import type { UeeApp } from '../../app/index.js';
import { ToolRegistry, coreTools, pluginTools, errorResult, guardArguments, type ToolContext, type ToolDefinition } from '../../tools/index.js';
import { EventCatalogue } from './event-catalogue.js';
import { corePrompts, type PromptSpec } from './prompts.js';
import { coreResources, type ResourceSpec } from './resources.js';
import { registerFixtures, fixtureTools } from './fixtures.js';
import { ReviewService, reviewTools } from '../../review/index.js';

/** Options of {@link McpHost.create}. */
export interface McpHostOptions {
  /** Extra tools beyond {@link coreTools} (the scaffold/compile/deploy half registers here). */
  tools?: ToolDefinition[];
  resources?: ResourceSpec[];
  prompts?: PromptSpec[];
  /** Serve the conformance suite's fixtures. @default app.config.mcp.conformanceFixtures */
  conformanceFixtures?: boolean;
}

const LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

const INSTRUCTIONS = [
  'UEE (Universal Entity Engine): versioned multi-tenant entities, an event bus, and sandboxed WebAssembly plugins.',
  'Tenant tokens act on their own tenant (omit tenantId); admin tokens must pass tenantId (null = global scope).',
  'Mutating tools take dryRun and return a plan first. Failures are isError results with structuredContent {code, message, hint}: follow the hint.',
  'Resources: uee://docs/plugin-abi (host API), uee://schemas/plugin-manifest, uee://catalogue/errors, uee://catalogue/event-types.',
].join('\n');

/**
 * Everything the MCP transports share: the tool, resource and prompt registries, the event catalogue,
 * and the factory of one `McpServer` per session bound to one principal.
 */
export class McpHost {
  readonly tools: ToolRegistry;
  /** Review policies and change proposals; the gate of every reviewable tool. */
  readonly review: ReviewService;
  readonly catalogue: EventCatalogue;
  readonly #resources: ResourceSpec[];
  readonly #prompts: PromptSpec[];
  readonly #fixtures: boolean;

  private constructor(
    readonly app: UeeApp,
    readonly logger: Logger,
    options: McpHostOptions,
  ) {
    this.#fixtures = options.conformanceFixtures ?? app.config.mcp.conformanceFixtures;
    this.tools = new ToolRegistry({ maxArgumentBytes: app.config.limits.maxAttributeBytes + 256 * 1024 });
    this.tools.add(...coreTools(), ...pluginTools(), ...(options.tools ?? []), ...(this.#fixtures ? fixtureTools() : []));
    this.review = new ReviewService(app, this.tools, logger.child({ component: 'review' }));
    this.tools.setGate(this.review).add(...reviewTools(this.review));
    this.#resources = [...coreResources(), ...(options.resources ?? [])];
    this.#prompts = [...corePrompts(), ...(options.prompts ?? [])];
    this.catalogue = new EventCatalogue(app, logger.child({ component: 'mcp-catalogue' }));
    if (this.#fixtures) logger.warn('MCP conformance fixtures are enabled (test only)');
  }

  /** Builds the host for an application. */
  static create(app: UeeApp, logger: Logger, options: McpHostOptions = {}): McpHost {
    return new McpHost(app, logger, options);
  }

  /** Prompts offered (for tests and docs). */
  get prompts(): readonly PromptSpec[] {
    return this.#prompts;
  }

  /** Resources offered (for tests and docs). */
  get resources(): readonly ResourceSpec[] {
    return this.#resources;
  }

  /**
   * Creates the session's server and connects it to `transport`. Raw `tools/call` messages are
   * inspected before the SDK parses them, because its parsing silently drops a top-level `__proto__`
   * key: such a call is answered `VALIDATION_FAILED` instead of running without the key.
   */
  async connect(principal: Principal, transport: Transport): Promise<McpServer> {
    const poisoned = new Map<string | number, UeeError>();
    const server = this.createServer(principal, poisoned);
    await server.connect(transport);
    const onmessage = transport.onmessage;
    if (onmessage) {
      transport.onmessage = (message, extra) => {
        const m = message as { id?: string | number; method?: string; params?: { arguments?: unknown } };
        const args = m.params?.arguments;
        if (m.method === 'tools/call' && m.id !== undefined && args !== null && typeof args === 'object' && !Array.isArray(args)) {
          try {
            guardArguments(args, { maxArgumentBytes: Number.MAX_SAFE_INTEGER });
          } catch (err) {
            if (err instanceof UeeError) poisoned.set(m.id, err);
          }
        }
        onmessage.call(transport, message, extra);
      };
    }
    return server;
  }

  /** A new MCP server for one session, acting as `principal`; prefer {@link McpHost.connect}. */
  createServer(principal: Principal, poisoned: Map<string | number, UeeError> = new Map()): McpServer {
    const mcp = new McpServer(
      { name: 'uee', title: 'Universal Entity Engine', version: '0.1.0' },
      {
        capabilities: { logging: {}, resources: this.#fixtures ? { subscribe: true } : {}, prompts: {} },
        instructions: INSTRUCTIONS,
      },
    );
    const server = mcp.server;
    let minLevel: LoggingLevel = 'info';
    server.setRequestHandler(SetLevelRequestSchema, (req) => {
      minLevel = req.params.level;
      return {};
    });

    server.registerCapabilities({ tools: { listChanged: false } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: this.tools.list(principal) }));
    server.setRequestHandler(CallToolRequestSchema, (req, extra) => {
      const refused = poisoned.get(extra.requestId);
      if (refused) {
        poisoned.delete(extra.requestId);
        return errorResult(refused);
      }
      const ctx = this.#toolContext(principal, req.params.name, extra, () => minLevel);
      return this.tools.call(req.params.name, req.params.arguments, ctx);
    });

    for (const spec of this.#resources) {
      mcp.registerResource(spec.name, spec.uri, { title: spec.title, description: spec.description, mimeType: spec.mimeType }, async (uri) => ({
        contents: [{ uri: uri.href, mimeType: spec.mimeType, text: await spec.read({ principal, catalogue: this.catalogue }) }],
      }));
    }
    for (const spec of this.#prompts) {
      mcp.registerPrompt(
        spec.name,
        { title: spec.title, description: spec.description, argsSchema: spec.args },
        (args: Record<string, string | undefined>) => spec.render(args),
      );
    }
    if (this.#fixtures) registerFixtures(mcp);
    return mcp;
  }

  #toolContext(
    principal: Principal,
    tool: string,
    extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
    level: () => LoggingLevel,
  ): ToolContext {
    const progressToken = extra._meta?.progressToken;
    return {
      principal,
      app: this.app,
      signal: extra.signal,
      logger: this.logger.child({ tool, principal: principal.id, requestId: String(extra.requestId) }),
      mcp: extra,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) },
        });
      },
      log: async (lvl, message) => {
        if (LEVELS.indexOf(lvl) < LEVELS.indexOf(level())) return;
        await extra.sendNotification({ method: 'notifications/message', params: { level: lvl, logger: tool, data: message } });
      },
    };
  }
}
