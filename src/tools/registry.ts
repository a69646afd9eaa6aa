import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { Principal } from '../core/index.js';
import { UeeError, parseOrThrow, toUeeError } from '../core/index.js';
import type { ToolContext, ToolDefinition, ToolGate } from './define-tool.js';
import { defaultHint } from './error-catalogue.js';
import { guardArguments, type InputLimits } from './input-guard.js';
import { inputJsonSchema, outputJsonSchema } from './json-schema.js';
import type { ToolError } from './schemas.js';

/** A tool as listed for one principal: its definition plus the precomputed JSON Schemas. */
interface Listed {
  def: ToolDefinition;
  listing: Tool;
}

/** Whether a principal may see and call a tool. */
function permits(principal: Principal, def: ToolDefinition): 'ok' | 'admin-only' | 'read-only' {
  if (def.adminOnly && principal.kind !== 'admin') return 'admin-only';
  if (!def.annotations.readOnlyHint && principal.kind === 'tenant' && principal.readOnly) return 'read-only';
  return 'ok';
}

/**
 * The tools of one server. Listing is per principal: read-only principals do not see mutating tools
 * and tenant principals do not see admin tools (calling one anyway answers `TENANT_FORBIDDEN`, so the
 * refusal is explicit rather than "unknown tool").
 */
export class ToolRegistry {
  readonly #tools = new Map<string, Listed>();
  #gate: ToolGate | undefined;

  constructor(private readonly limits: InputLimits) {}

  /** Puts applying calls of reviewable tools under review policies (see `src/review`). */
  setGate(gate: ToolGate): this {
    this.#gate = gate;
    return this;
  }

  /** A registered tool's definition. */
  definition(name: string): ToolDefinition | undefined {
    return this.#tools.get(name)?.def;
  }

  /** Adds tools; a duplicate name is a programming error. */
  add(...defs: ToolDefinition[]): this {
    for (const def of defs) {
      if (this.#tools.has(def.name)) throw new Error(`tool "${def.name}" is registered twice`);
      const listing: Tool = {
        // No title: agents read names, and 42 titles were 1 KB of every listing; hosts fall back to the name.
        name: def.name,
        description: def.description,
        inputSchema: (def.inputJsonSchema ?? inputJsonSchema(def.input)) as Tool['inputSchema'],
        outputSchema: outputJsonSchema(def.output),
        annotations: listedAnnotations(def.annotations),
      };
      this.#tools.set(def.name, { def, listing });
    }
    return this;
  }

  /** Names of every registered tool. */
  names(): string[] {
    return [...this.#tools.keys()];
  }

  /** True when a tool of that name exists (whether or not a principal may call it). */
  has(name: string): boolean {
    return this.#tools.has(name);
  }

  /** The `tools/list` entries visible to a principal. */
  list(principal: Principal): Tool[] {
    return [...this.#tools.values()].filter((t) => permits(principal, t.def) === 'ok').map((t) => t.listing);
  }

  /**
   * Runs one call: guard → validate → permission → run → check output. Never throws for tool-level
   * failures: they become `isError` results with `{ code, message, hint }` (no stack, no cause).
   */
  async call(name: string, rawArgs: unknown, context: ToolContext): Promise<CallToolResult> {
    const ctx = withMonotonicProgress(context);
    const tool = this.#tools.get(name);
    if (!tool) {
      return errorResult(new UeeError('NOT_FOUND', `unknown tool "${name}"`, { hint: 'call tools/list for the available tools' }));
    }
    const { def } = tool;
    try {
      const permission = permits(ctx.principal, def);
      if (permission === 'admin-only') {
        throw new UeeError('TENANT_FORBIDDEN', `${def.name} needs an admin principal`, { hint: 'use an admin token for this tool' });
      }
      if (permission === 'read-only') {
        throw new UeeError('TENANT_FORBIDDEN', `${def.name} changes data and this token is read-only`, {
          details: { tool: def.name },
          hint: 'use a read-write token for changes; read-only tokens can call the read-only tools only',
        });
      }
      let args = parseOrThrow(def.input, guardArguments(rawArgs, this.limits), `arguments of ${def.name}`);
      throwIfAborted(ctx.signal);
      let raw: unknown;
      const gate = def.review ? this.#gate : undefined;
      if (gate && def.review) {
        const { rationale, ...rest } = args;
        args = rest;
        const why = typeof rationale === 'string' ? rationale : undefined;
        if (args.dryRun !== true) raw = await gate.intercept(def, args, why, ctx);
        if (raw === undefined) {
          raw = await def.run(ctx, args);
          if (args.dryRun !== true) await gate.applied(def, args, why, ctx, raw as Record<string, unknown>);
        }
      } else raw = await def.run(ctx, args);
      throwIfAborted(ctx.signal);
      const parsed = def.output.safeParse(raw);
      if (!parsed.success) {
        ctx.logger.error('tool output does not match its schema', { tool: def.name, issues: parsed.error.issues.slice(0, 5) });
        throw new UeeError('INTERNAL', `${def.name} produced an invalid result`, { hint: defaultHint('INTERNAL') });
      }
      const output = parsed.data;
      return {
        content: [{ type: 'text', text: `${def.summarize(output)}\n${JSON.stringify(output)}` }, ...(def.content?.(output) ?? [])],
        structuredContent: output,
      };
    } catch (err) {
      const error = toUeeError(err);
      if (error.code === 'INTERNAL') ctx.logger.error('tool failed', { tool: def.name, error: err });
      else ctx.logger.debug('tool refused', { tool: def.name, code: error.code });
      return errorResult(error);
    }
  }
}

/**
 * The context with a `progress` that never goes backwards: a report not above the last one is
 * dropped (MCP: progress MUST increase), so no tool can send a client a decreasing sequence.
 */
function withMonotonicProgress(ctx: ToolContext): ToolContext {
  let last = Number.NEGATIVE_INFINITY;
  return {
    ...ctx,
    progress: (progress, total, message) => {
      if (!(progress > last)) {
        ctx.logger.debug('progress not above the last report: dropped', { progress, last });
        return Promise.resolve();
      }
      last = progress;
      return ctx.progress(progress, total, message);
    },
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new UeeError('CANCELLED', 'the call was cancelled', { hint: 'call again if the result is still needed' });
}

/** The `isError` result of a failure. Internal errors keep their code but lose their message. */
export function errorResult(error: UeeError): CallToolResult {
  const body: ToolError = {
    code: error.code,
    message: error.code === 'INTERNAL' ? 'internal error' : error.message,
    hint: error.hint ?? defaultHint(error.code),
    ...(Object.keys(error.details).length > 0 && error.code !== 'INTERNAL' ? { details: safeDetails(error.details) } : {}),
    retryable: error.retryable,
  };
  return {
    isError: true,
    content: [{ type: 'text', text: `${body.code}: ${body.message}\nhint: ${body.hint}` }],
    structuredContent: body,
  };
}

/** Details are JSON data by contract; anything else (an Error, a cycle) is dropped rather than leaked. */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details, (_k, v: unknown) => (v instanceof Error ? undefined : v))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * The annotations as listed: the hints whose value differs from the MCP defaults (readOnlyHint false,
 * destructiveHint true, idempotentHint false, openWorldHint true), so every hint is known and none is
 * spelled twice. `destructiveHint` and `idempotentHint` mean something only for tools that change
 * something, so read-only tools list `readOnlyHint` and `openWorldHint` alone.
 */
export function listedAnnotations(a: ToolDefinition['annotations']): NonNullable<Tool['annotations']> {
  const out: NonNullable<Tool['annotations']> = {};
  if (a.readOnlyHint) out.readOnlyHint = true;
  else {
    if (!a.destructiveHint) out.destructiveHint = false;
    if (a.idempotentHint) out.idempotentHint = true;
  }
  if (a.openWorldHint !== true) out.openWorldHint = false;
  return out;
}
