import { McpServer, MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, type AuthInfo, type ServerNotifier, type CacheHint, type CallToolResult, type McpRequestContext, type ServerContext, type Transport } from '@modelcontextprotocol/server';
import type { Logger, Principal } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import type { UeeApp } from '../../app/index.js';
import { ToolRegistry, coreTools, pluginTools, errorResult, guardArguments, type ToolContext, type ToolDefinition } from '../../tools/index.js';
import { EventCatalogue } from './event-catalogue.js';
import { corePrompts, type PromptSpec } from './prompts.js';
import { coreResources, type ResourceSpec } from './resources.js';
import { registerFixtures, fixtureTools, fixtureRequestState, rawFixtureTools, taskFixtureTools, type RawFixtureTool, type TaskFixtureTool } from './fixtures.js';
import { TaskRunner, type DetailedTask, type TaskHandle, type TaskOutcome, type TaskRunnerOptions } from './task-runner.js';
import { registerTaskMethods, TASKS_EXTENSION, declaresTasks } from './task-methods.js';
import { taskScope } from './task-store.js';
import { ReviewService, reviewTools } from '../../review/index.js';

/** Options of {@link McpHost.create}. */
export interface McpHostOptions {
  /** Extra tools beyond {@link coreTools} (the scaffold/compile/deploy half registers here). */
  tools?: ToolDefinition[];
  resources?: ResourceSpec[];
  prompts?: PromptSpec[];
  /** Serve the conformance suite's fixtures. @default app.config.mcp.conformanceFixtures */
  conformanceFixtures?: boolean;
  /** Task timings (tests shorten them). @default DEFAULT_TASK_OPTIONS with ttlMs from app.config.mcp.taskTtlMs */
  tasks?: Partial<TaskRunnerOptions>;
}

/** The protocol revisions served on every transport (newest first). */
export const PROTOCOL_REVISIONS = ['2026-07-28', '2025-11-25'] as const;

/**
 * Cache hints of the 2026-07-28 list results. Tool, prompt and resource lists depend only on the
 * principal (not on data), so a client may reuse them for a minute; `private` because they differ
 * per token.
 */
const LIST_CACHE: CacheHint = { ttlMs: 60_000, cacheScope: 'private' };

/** What an HTTP front end hands the server factory in `authInfo.extra`. */
interface UeeAuthExtra {
  principal: Principal;
  /** Calls of this exchange whose raw arguments were refused before the SDK parsed them. */
  poisoned?: Map<string | number, UeeError>;
}

const INSTRUCTIONS: readonly string[] = [
  'UEE (Universal Entity Engine): versioned multi-tenant entities, an event bus, and sandboxed WebAssembly plugins.',
  'Tenant tokens act on their own tenant (omit tenantId); admin tokens must pass tenantId (null = global scope).',
  'Mutating tools take dryRun and return a plan first. Failures are isError results with structuredContent {code, message, hint}: follow the hint.',
  'Output schemas give the result shape in one line; named shapes (Entity, Plan, …) are in uee://schemas/shapes.',
  'Resources: uee://docs/sdk, uee://sdk/typings/<language>, uee://docs/plugin-abi (host API), uee://schemas/plugin-manifest, uee://catalogue/errors, uee://catalogue/event-types.',
];

/** The instructions, naming the tools that run as tasks for clients declaring the tasks extension. */
function instructions(taskTools: string[]): string {
  return [
    ...INSTRUCTIONS,
    `Tasks (protocol 2026-07-28, declare the io.modelcontextprotocol/tasks extension): ${taskTools.join(', ')} answer a task at once; poll tasks/get (result inlined when completed), stop with tasks/cancel.`,
  ].join('\n');
}

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
  /** Conformance fixtures answering with raw protocol results (input_required rounds, x-mcp-header); empty without fixtures. */
  readonly #rawFixtures: ReadonlyMap<string, RawFixtureTool>;
  /** Publish sides of the `subscriptions/listen` streams of the HTTP endpoints serving this host. */
  readonly listenNotifiers = new Set<ServerNotifier>();
  /** MCP tasks run by this process, and answers for every task in the shared store. */
  readonly tasks: TaskRunner;
  /** Task fixtures (conformance only) by tool name. */
  readonly #taskFixtures: ReadonlyMap<string, TaskFixtureTool>;
  readonly #instructions: string;

  private constructor(
    readonly app: UeeApp,
    readonly logger: Logger,
    options: McpHostOptions,
  ) {
    this.#fixtures = options.conformanceFixtures ?? app.config.mcp.conformanceFixtures;
    const taskFixtures = this.#fixtures ? taskFixtureTools() : undefined;
    this.#rawFixtures = new Map(this.#fixtures && taskFixtures ? [...rawFixtureTools(this.listenNotifiers), taskFixtures.greet].map((f) => [f.tool.name, f]) : []);
    this.#taskFixtures = new Map((taskFixtures?.tasks ?? []).map((f) => [f.tool.name, f]));
    this.tasks = new TaskRunner(app.store, logger.child({ component: 'mcp-tasks' }), { ttlMs: app.config.mcp.taskTtlMs, ...options.tasks });
    this.tools = new ToolRegistry({ maxArgumentBytes: app.config.limits.maxAttributeBytes + 256 * 1024 });
    this.tools.add(...coreTools(), ...pluginTools(), ...(options.tools ?? []), ...(this.#fixtures ? fixtureTools() : []));
    this.#instructions = instructions(this.tools.names().filter((name) => this.tools.definition(name)?.taskSupport));
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

  /** Stops the tasks this process runs (they become failed). Idempotent. */
  close(): Promise<void> {
    return this.tasks.close();
  }

  /** Prompts offered (for tests and docs). */
  get prompts(): readonly PromptSpec[] {
    return this.#prompts;
  }

  /** Resources offered (for tests and docs). */
  get resources(): readonly ResourceSpec[] {
    return this.#resources;
  }

  /** The `authInfo` an HTTP front end passes for `principal` (read back by {@link McpHost.factory}). */
  static authInfo(principal: Principal, poisoned?: Map<string | number, UeeError>): AuthInfo {
    const extra: UeeAuthExtra = { principal, ...(poisoned ? { poisoned } : {}) };
    return { token: 'uee', clientId: principal.id, scopes: [], extra: extra as unknown as Record<string, unknown> };
  }

  /**
   * The server factory of the v2 SDK's serving entries (`createMcpHandler`, `serveStdio`): a fresh
   * server per HTTP exchange (or per stdio connection), acting as the principal the front end put in
   * `authInfo` (HTTP), else `fallback` (stdio). Nothing is kept between exchanges: any front end can
   * answer any request.
   */
  factory(fallback?: Principal, poisoned?: Map<string | number, UeeError>): (ctx: McpRequestContext) => McpServer {
    return (ctx) => {
      const extra = ctx.authInfo?.extra as UeeAuthExtra | undefined;
      const principal = extra?.principal ?? fallback;
      if (!principal) throw new UeeError('INTERNAL', 'MCP request without a principal', { hint: 'authenticate before serving MCP' });
      return this.createServer(principal, extra?.poisoned ?? poisoned ?? new Map<string | number, UeeError>());
    };
  }

  /**
   * Creates a server for `principal` and connects it to `transport` (the legacy SSE transport, tests).
   * Raw `tools/call` messages are inspected before the SDK parses them (see {@link guardTransport}).
   */
  async connect(principal: Principal, transport: Transport): Promise<McpServer> {
    const poisoned = new Map<string | number, UeeError>();
    const server = this.createServer(principal, poisoned);
    await server.connect(guardTransport(transport, poisoned));
    return server;
  }

  /** A new MCP server acting as `principal`; prefer {@link McpHost.factory} or {@link McpHost.connect}. */
  createServer(principal: Principal, poisoned: Map<string | number, UeeError> = new Map()): McpServer {
    const mcp = new McpServer(
      { name: 'uee', title: 'Universal Entity Engine', version: '0.1.0' },
      {
        capabilities: {
          logging: {},
          tools: { listChanged: false },
          resources: this.#fixtures ? { subscribe: true } : {},
          prompts: {},
          extensions: { [TASKS_EXTENSION]: {} },
        },
        instructions: this.#instructions,
        cacheHints: { 'tools/list': LIST_CACHE, 'prompts/list': LIST_CACHE, 'resources/list': LIST_CACHE, 'resources/templates/list': LIST_CACHE },
        ...(this.#fixtures ? { requestState: fixtureRequestState } : {}),
      },
    );
    const server = mcp.server;
    const raw = this.#rawFixtures;
    const taskFixtures = this.#taskFixtures;
    server.setRequestHandler('tools/list', () => ({
      tools: [...this.tools.list(principal), ...[...raw.values(), ...taskFixtures.values()].map((f) => f.tool)],
    }));
    if (raw.size > 0) {
      // The HTTP entry checks Mcp-Param-* headers against the schema of a tool the McpServer knows.
      const known = mcp.toolInputSchemaJson.bind(mcp);
      mcp.toolInputSchemaJson = (name: string) => raw.get(name)?.tool.inputSchema ?? known(name);
    }
    server.setRequestHandler('tools/call', async (req, ctx) => {
      const name = req.params.name;
      const fixture = raw.get(name);
      if (fixture) return fixture.call(req.params.arguments ?? {}, ctx);
      const taskFixture = taskFixtures.get(name);
      if (taskFixture) return this.#callTaskFixture(principal, taskFixture, req.params.arguments ?? {}, ctx);
      const refused = poisoned.get(ctx.mcpReq.id);
      if (refused) {
        poisoned.delete(ctx.mcpReq.id);
        return errorResult(refused);
      }
      const toolCtx = this.#toolContext(principal, name, ctx);
      if (this.tools.definition(name)?.taskSupport && declaresTasks(ctx)) {
        const args = req.params.arguments;
        // The task outlives this request: its own signal (tasks/cancel), no progress or log stream.
        return taskCreated(
          await this.tasks.start(taskScope(principal), principal.id, name, async (task) => ({
            result: await this.tools.call(name, args, { ...toolCtx, signal: task.signal, progress: () => Promise.resolve(), log: () => Promise.resolve() }),
          })),
        );
      }
      return this.tools.call(name, req.params.arguments, toolCtx);
    });
    registerTaskMethods(server, this.tasks, taskScope(principal));

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

  /** A task fixture: a task when the request declares the extension; else run inline (optional) or -32021 (required). */
  async #callTaskFixture(principal: Principal, fixture: TaskFixtureTool, args: Record<string, unknown>, ctx: ServerContext) {
    const declared = declaresTasks(ctx);
    if (fixture.taskSupport === 'required' && !declared) {
      throw new MissingRequiredClientCapabilityError(
        { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
        `${fixture.tool.name} runs only as a task: declare the ${TASKS_EXTENSION} extension in the request's client capabilities`,
      );
    }
    const step = fixture.call(args, ctx);
    if (typeof step !== 'function') return step;
    if (declared) return taskCreated(await this.tasks.start(taskScope(principal), principal.id, fixture.tool.name, step));
    const inline: TaskHandle = {
      taskId: 'inline',
      signal: ctx.mcpReq.signal,
      requestInput: () => Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, 'input needs a task: declare the tasks extension')),
    };
    const outcome: TaskOutcome = await step(inline);
    if ('error' in outcome) throw new ProtocolError(outcome.error.code, outcome.error.message, outcome.error.data);
    return outcome.result;
  }

  #toolContext(principal: Principal, tool: string, ctx: ServerContext): ToolContext {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    return {
      principal,
      app: this.app,
      signal: ctx.mcpReq.signal,
      logger: this.logger.child({ tool, principal: principal.id, requestId: String(ctx.mcpReq.id) }),
      mcp: ctx,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await ctx.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken, progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) },
        });
      },
      // The SDK honours the client's level (logging/setLevel on 2025-11-25, the request's _meta on 2026-07-28).
      log: (lvl, message) => ctx.mcpReq.log(lvl, message, tool),
    };
  }
}

/** The `CreateTaskResult` of a started task: flat (no `task` wrapper), `resultType: "task"`. */
function taskCreated(task: DetailedTask) {
  const { taskId, status, createdAt, lastUpdatedAt, ttlMs, pollIntervalMs } = task;
  return { resultType: 'task', taskId, status, createdAt, lastUpdatedAt, ttlMs, pollIntervalMs } as unknown as CallToolResult;
}

/**
 * Inspects raw `tools/call` messages before the SDK parses them, because its parsing silently drops a
 * top-level `__proto__` key: such a call is answered `VALIDATION_FAILED` (via `poisoned`) instead of
 * running without the key. Returns a transport whose `onmessage` the SDK sets as usual.
 */
export function guardTransport<T extends Transport>(transport: T, poisoned: Map<string | number, UeeError>): T {
  let handler: Transport['onmessage'];
  Object.defineProperty(transport, 'onmessage', {
    configurable: true,
    get: () => handler,
    set: (fn: Transport['onmessage']) => {
      handler = fn && ((message, extra) => {
        inspectMessage(message, poisoned);
        fn(message, extra);
      });
    },
  });
  return transport;
}

/** The VALIDATION_FAILED of tool arguments that are not a JSON object (an array, a string, null…). */
function notAnObject(args: unknown): UeeError {
  const kind = Array.isArray(args) ? 'an array' : args === null ? 'null' : `a ${typeof args}`;
  return new UeeError('VALIDATION_FAILED', `tool arguments must be a JSON object, got ${kind}`, {
    details: { issues: [{ path: 'arguments', message: `expected an object, got ${kind}` }] },
    hint: 'send arguments as an object keyed by argument name, e.g. {"entityId": "t-1"} (see the tool\'s inputSchema in tools/list)',
  });
}

/** Records a `tools/call` whose raw arguments {@link guardArguments} refuses (see {@link guardTransport}). */
export function inspectMessage(message: unknown, poisoned: Map<string | number, UeeError>): void {
  const m = message as { id?: string | number; method?: string; params?: { arguments?: unknown } };
  const args = m?.params?.arguments;
  if (m?.method !== 'tools/call' || m.id === undefined || args === undefined) return;
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    // The SDK would refuse the request with a protocol error (-32603); a tool result with a typed code
    // tells the agent what to fix. The call goes on with no arguments and is answered from `poisoned`.
    poisoned.set(m.id, notAnObject(args));
    m.params = { ...m.params, arguments: {} };
    return;
  }
  try {
    guardArguments(args, { maxArgumentBytes: Number.MAX_SAFE_INTEGER });
  } catch (err) {
    if (err instanceof UeeError) poisoned.set(m.id, err);
  }
}
