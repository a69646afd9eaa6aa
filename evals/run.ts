/**
 * `npm run evals [-- --transport http|stdio|both] [--task id,id] [--agent reference|llm]`: runs the
 * eval tasks, prints a Markdown table and writes the results as JSON to evals/results/latest.json.
 * The agent defaults to the LLM when UEE_EVAL_MODEL_URL is set, else the scripted reference agents.
 * Exits 1 when a task is not solved.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { llmAgent, modelFromEnv } from './llm-agent.js';
import { markdownTable, referenceAgent, runEvals, runnableOn, type TaskResult } from './runner.js';
import { TASKS } from './tasks.js';

const { values } = parseArgs({
  options: { transport: { type: 'string', default: 'both' }, task: { type: 'string' }, agent: { type: 'string' } },
});
const model = modelFromEnv();
const agentKind = values.agent ?? (model ? 'llm' : 'reference');
if (agentKind === 'llm' && !model) {
  process.stderr.write('evals: --agent llm needs UEE_EVAL_MODEL_URL (and UEE_EVAL_MODEL_KEY, UEE_EVAL_MODEL)\n');
  process.exit(2);
}
const only = values.task?.split(',');
const tasks = only ? TASKS.filter((t) => only.includes(t.id)) : TASKS;
if (tasks.length === 0) {
  process.stderr.write(`evals: no task matches; tasks are ${TASKS.map((t) => t.id).join(', ')}\n`);
  process.exit(2);
}
const transports = values.transport === 'both' ? (['http', 'stdio'] as const) : ([values.transport as 'http' | 'stdio'] as const);
const agent = agentKind === 'llm' && model ? llmAgent(model) : referenceAgent;
const agentName = agentKind === 'llm' && model ? `llm:${model.model}` : 'reference';

const results: TaskResult[] = [];
for (const transport of transports) {
  const skipped = tasks.filter((t) => !runnableOn([t], transport).length).map((t) => t.id);
  process.stderr.write(`evals: ${tasks.length - skipped.length} tasks over ${transport} with the ${agentName} agent${skipped.length ? ` (not on ${transport}: ${skipped.join(', ')} — needs the HTTP review API)` : ''}…\n`);
  results.push(...(await runEvals({ tasks, transport, agentName, agent })));
}
const table = markdownTable(results);
process.stdout.write(table + '\n');
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const out = join(dir, 'latest.json');
writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), agent: agentName, tokens: 'bytes of tool list + tool results / 4 (estimate)', results }, null, 2) + '\n');
process.stderr.write(`evals: results written to ${out}\n`);
for (const r of results) if (!r.solved) process.stderr.write(`evals: ${r.task} (${r.transport}) not solved: ${r.detail}${r.agentError ? `; agent: ${r.agentError}` : ''}\n`);
process.exitCode = results.every((r) => r.solved) ? 0 : 1;
