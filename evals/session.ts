/**
 * One agent's connection to a UEE MCP server, with the bookkeeping the scores come from: every tool
 * call, every error (code and hint) and whether a later call of the same tool succeeded after it
 * (the hint led to the fix), and the bytes the agent received (tool list + tool results). Token
 * figures are estimated as bytes / 4, the usual rule of thumb for English and JSON with GPT-style
 * tokenizers; no tokenizer is run.
 */
import { Client, StreamableHTTPClientTransport, type Tool } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

/** A failed tool call as the agent saw it. */
export interface SeenError {
  tool: string;
  code: string;
  hint: string;
  /** A later call of the same tool succeeded (the agent got past it). */
  fixed: boolean;
}

/** What a tool call returned, unwrapped. */
export type ToolOutcome =
  | { ok: true; value: Record<string, unknown>; text: string }
  | { ok: false; code: string; message: string; hint: string; text: string };

/** Where to connect. */
export type Endpoint =
  | { transport: 'http'; url: string; token: string }
  | { transport: 'stdio'; command: string; args: string[]; env?: Record<string, string> };

/** Counters of one session. */
export interface SessionStats {
  toolCalls: number;
  errors: SeenError[];
  bytesToAgent: number;
}

/**
 * A human at the review page, scripted: calls the review API (`/review/api/<path>`) with the task
 * tenant's reviewer token. Only HTTP runs have one (stdio has no review API).
 */
export interface HumanReviewer {
  api(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<Record<string, unknown>>;
}

/** A {@link HumanReviewer} for the server at `url`, acting with `token`. */
export function httpReviewer(url: string, token: string): HumanReviewer {
  return {
    async api(method, path, body) {
      const res = await fetch(new URL(`/review/api/${path}`, url), {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) throw new Error(`review API ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
  };
}

/** An MCP client session that counts what the agent does and sees. */
export class EvalSession {
  readonly stats: SessionStats = { toolCalls: 0, errors: [], bytesToAgent: 0 };
  /** The tenant's human reviewer (HTTP runs only); never part of the agent's counted work. */
  human: HumanReviewer | undefined;
  private toolsCache: Tool[] | undefined;

  private constructor(private readonly client: Client) {}

  /** Connects over stdio (spawning the command) or Streamable HTTP. */
  static async connect(endpoint: Endpoint): Promise<EvalSession> {
    const client = new Client({ name: 'uee-evals', version: '1.0.0' });
    if (endpoint.transport === 'http') {
      await client.connect(
        new StreamableHTTPClientTransport(new URL('/mcp', endpoint.url), { requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } } }),
      );
    } else {
      await client.connect(
        new StdioClientTransport({
          command: endpoint.command,
          args: endpoint.args,
          env: { ...(process.env as Record<string, string>), ...endpoint.env },
          stderr: 'ignore',
        }),
      );
    }
    return new EvalSession(client);
  }

  /** The tool list (counted once, as an agent would receive it at the start). */
  async tools(): Promise<Tool[]> {
    if (!this.toolsCache) {
      this.toolsCache = (await this.client.listTools()).tools;
      this.stats.bytesToAgent += Buffer.byteLength(JSON.stringify(this.toolsCache));
    }
    return this.toolsCache;
  }

  /** Calls a tool as the agent; `counted: false` for the task's own setup and checks. */
  async call(name: string, args: Record<string, unknown>, counted = true): Promise<ToolOutcome> {
    const result = (await this.client.callTool({ name, arguments: args }, { timeout: 180_000 }));
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    const sc = (result.structuredContent ?? {}) as Record<string, unknown>;
    if (counted) {
      this.stats.toolCalls++;
      this.stats.bytesToAgent += Buffer.byteLength(JSON.stringify(result.content)) + (result.structuredContent ? Buffer.byteLength(JSON.stringify(sc)) : 0);
    }
    if (result.isError) {
      const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
      const outcome = { ok: false as const, code: str(sc.code, 'UNKNOWN'), message: str(sc.message, text), hint: str(sc.hint, ''), text };
      if (counted) this.stats.errors.push({ tool: name, code: outcome.code, hint: outcome.hint, fixed: false });
      return outcome;
    }
    if (counted) for (const e of this.stats.errors) if (e.tool === name) e.fixed = true;
    return { ok: true, value: sc, text };
  }

  /** Like {@link call}, but a failure throws (for scripted agents and setups that expect success). */
  async must(name: string, args: Record<string, unknown>, counted = true): Promise<Record<string, unknown>> {
    const r = await this.call(name, args, counted);
    if (!r.ok) throw new Error(`${name} failed: ${r.code}: ${r.message} (hint: ${r.hint})`);
    return r.value;
  }

  /** Closes the connection (and the stdio server process). */
  async close(): Promise<void> {
    await this.client.close();
  }
}
