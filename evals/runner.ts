/**
 * Runs eval tasks against a real UEE server — `uee start` (Streamable HTTP, one server, a tenant and
 * a tenant token per task) or `uee mcp` (stdio, one process per task acting as the task's tenant) —
 * with the scripted reference agents or an LLM agent, and scores each task from the resulting state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EvalSession, httpReviewer, type Endpoint } from './session.js';
import type { EvalTask } from './tasks.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'uee.mjs');

/** Who solves the task. */
export type AgentKind = 'reference' | 'llm';
/** An agent: given the task and a session, does the work through tool calls. */
export type Agent = (task: EvalTask, session: EvalSession) => Promise<void>;

/** The score of one task run. */
export interface TaskResult {
  task: string;
  title: string;
  transport: 'http' | 'stdio';
  agent: string;
  solved: boolean;
  detail: string;
  toolCalls: number;
  errors: number;
  /** Errors after which a later call of the same tool succeeded (the hint led to the fix). */
  errorsFixed: number;
  errorCodes: string[];
  /** bytes of the tool list and tool results sent to the agent, / 4 (estimate; see session.ts). */
  tokensToAgent: number;
  wallMs: number;
  /** The agent threw (a reference agent regressed, or the LLM loop failed). */
  agentError?: string;
}

const tenantOf = (task: EvalTask) => `ev-${task.id}`.slice(0, 60);
/**
 * Flags of every eval server: queries over 1 ms enter the tenant's slow-query log (the slow-query
 * task's view holds a few thousand documents, which a scan reads in a few ms here).
 */
const SERVER_FLAGS = ['--slow-query-ms', '1'];
/** How often the scripted human reviewer looks at the review queue while the agent works. */
const HUMAN_ROUND_MS = 300;

interface HttpServer {
  url: string;
  tokens: Map<string, string>;
  /** Per tenant: the token of its human reviewer (`tenant:<id>:reviewer`). */
  reviewerTokens: Map<string, string>;
  stop(): Promise<void>;
}

async function startHttp(tasks: readonly EvalTask[], dataDir: string): Promise<HttpServer> {
  const tokens = new Map(tasks.map((t) => [tenantOf(t), randomBytes(24).toString('hex')]));
  const reviewerTokens = new Map(tasks.filter((t) => t.human).map((t) => [tenantOf(t), randomBytes(24).toString('hex')]));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    UEE_TOKENS: [...[...tokens].map(([tenant, token]) => `${token}=tenant:${tenant}`), ...[...reviewerTokens].map(([tenant, token]) => `${token}=tenant:${tenant}:reviewer`)].join(','),
  };
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'start', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', '--tenants', [...tokens.keys()].join(','), ...SERVER_FLAGS],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ready":true')) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exit.then(() => reject(new Error(`uee start exited early: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    reviewerTokens,
    async stop() {
      child.kill('SIGTERM');
      await exit;
    },
  };
}

/** Runs one task in a fresh session and scores it. */
async function runOne(task: EvalTask, endpoint: Endpoint, transport: 'http' | 'stdio', agentName: string, agent: Agent, reviewerToken?: string): Promise<TaskResult> {
  const session = await EvalSession.connect(endpoint);
  if (endpoint.transport === 'http' && reviewerToken !== undefined) session.human = httpReviewer(endpoint.url, reviewerToken);
  let reviewing = false;
  let humanRounds: Promise<void> = Promise.resolve();
  try {
    if (task.setup) {
      try {
        await task.setup(session);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return {
          task: task.id, title: task.title, transport, agent: agentName, solved: false, detail: `task setup failed: ${message}`,
          toolCalls: 0, errors: 0, errorsFixed: 0, errorCodes: [], tokensToAgent: 0, wallMs: 0, agentError: 'setup failed',
        };
      }
    }
    const started = performance.now();
    let agentError: string | undefined;
    const human = session.human;
    if (task.human && human) {
      reviewing = true;
      humanRounds = (async () => {
        while (reviewing) {
          await task.human!(human).catch(() => undefined); // a failed round is retried next round
          await new Promise((r) => setTimeout(r, HUMAN_ROUND_MS));
        }
      })();
    }
    try {
      await agent(task, session);
    } catch (err) {
      agentError = err instanceof Error ? err.message : String(err);
    }
    reviewing = false;
    await humanRounds;
    const wallMs = Math.round(performance.now() - started);
    const check = await task.check(session);
    const { stats } = session;
    return {
      task: task.id,
      title: task.title,
      transport,
      agent: agentName,
      solved: check.solved,
      detail: check.detail,
      toolCalls: stats.toolCalls,
      errors: stats.errors.length,
      errorsFixed: stats.errors.filter((e) => e.fixed).length,
      errorCodes: stats.errors.map((e) => e.code),
      tokensToAgent: Math.round(stats.bytesToAgent / 4),
      wallMs,
      ...(agentError !== undefined ? { agentError } : {}),
    };
  } finally {
    reviewing = false;
    await humanRounds;
    await session.close();
  }
}

/** Options of {@link runEvals}. */
export interface RunOptions {
  tasks: readonly EvalTask[];
  transport: 'http' | 'stdio';
  agentName: string;
  agent: Agent;
}

/** The tasks that can run on `transport` (tasks with a human reviewer need HTTP's review API). */
export function runnableOn(tasks: readonly EvalTask[], transport: 'http' | 'stdio'): EvalTask[] {
  return tasks.filter((t) => (t.transports ?? ['http', 'stdio']).includes(transport));
}

/** Runs the tasks one after another on one transport (skipping those that cannot run on it: {@link runnableOn}). */
export async function runEvals(options: RunOptions): Promise<TaskResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-evals-'));
  const results: TaskResult[] = [];
  const tasks = runnableOn(options.tasks, options.transport);
  try {
    if (options.transport === 'http') {
      const server = await startHttp(tasks, dataDir);
      try {
        for (const task of tasks) {
          const endpoint: Endpoint = { transport: 'http', url: server.url, token: server.tokens.get(tenantOf(task))! };
          results.push(await runOne(task, endpoint, 'http', options.agentName, options.agent, server.reviewerTokens.get(tenantOf(task))));
        }
      } finally {
        await server.stop();
      }
    } else {
      for (const task of tasks) {
        const tenant = tenantOf(task);
        const endpoint: Endpoint = {
          transport: 'stdio',
          command: process.execPath,
          args: [BIN, 'mcp', '--data-dir', join(dataDir, tenant), '--log-level', 'error', '--tenants', tenant, '--identity', `tenant:${tenant}`, ...SERVER_FLAGS],
        };
        results.push(await runOne(task, endpoint, 'stdio', options.agentName, options.agent));
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

/** The reference agent: the task's own script. */
export const referenceAgent: Agent = (task, session) => task.reference(session);

/** A Markdown table of results. */
export function markdownTable(results: readonly TaskResult[]): string {
  const head = '| task | transport | agent | solved | tool calls | errors (fixed after hint) | tokens to agent | wall s |\n|---|---|---|---|---|---|---|---|';
  const rows = results.map(
    (r) =>
      `| ${r.task} | ${r.transport} | ${r.agent} | ${r.solved ? 'yes' : '**no**'} | ${r.toolCalls} | ${r.errors}${r.errors > 0 ? ` (${r.errorsFixed}: ${r.errorCodes.join(', ')})` : ''} | ${r.tokensToAgent} | ${(r.wallMs / 1000).toFixed(1)} |`,
  );
  const solved = results.filter((r) => r.solved).length;
  return `${head}\n${rows.join('\n')}\n\n${solved}/${results.length} solved.`;
}
