/**
 * An LLM agent for the eval tasks, through the official `openai` client against any
 * OpenAI-compatible chat completions endpoint: `UEE_EVAL_MODEL_URL` (base URL), `UEE_EVAL_MODEL_KEY`
 * (API key) and `UEE_EVAL_MODEL` (model name). It gets the task prompt and the server's MCP tools as
 * functions, and loops — tool calls in, results out — until it answers without a tool call or runs
 * out of turns. Scoring is the same as for the reference agents (the task's check on the state).
 */
import OpenAI from 'openai';
import type { Agent } from './runner.js';

/** The model endpoint from the environment, or undefined when not configured. */
export function modelFromEnv(env: NodeJS.ProcessEnv = process.env): { baseURL: string; apiKey: string; model: string } | undefined {
  const baseURL = env.UEE_EVAL_MODEL_URL;
  if (!baseURL) return undefined;
  return { baseURL, apiKey: env.UEE_EVAL_MODEL_KEY ?? 'none', model: env.UEE_EVAL_MODEL ?? 'gpt-4o-mini' };
}

const SYSTEM =
  'You are an engineer operating a UEE server (versioned multi-tenant entities, events, WebAssembly plugins) through its MCP ' +
  'tools. You act as a tenant: omit tenantId. Plugins are TypeScript using `uee:plugin` (on, writeEntity, emitEvent, ' +
  'updateReadModel, queryReadModel, callModel, scheduleTimer, getTenantConfig); deploy them tenant-scoped ' +
  '(manifest.tenantScope "tenant"). Entity events carry the written attributes in event.payload.attributes. When a tool fails, ' +
  'read its code and hint and fix the cause. Finish by replying without a tool call once the task is done.';

/** Builds an LLM agent for the configured endpoint. */
export function llmAgent(config: { baseURL: string; apiKey: string; model: string }, maxTurns = 30): Agent {
  const client = new OpenAI({ baseURL: config.baseURL, apiKey: config.apiKey });
  return async (task, session) => {
    const tools = (await session.tools()).map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description ?? '', parameters: t.inputSchema },
    }));
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: task.prompt },
    ];
    for (let turn = 0; turn < maxTurns; turn++) {
      const reply = await client.chat.completions.create({ model: config.model, messages, tools });
      const message = reply.choices[0]?.message;
      if (!message) return;
      messages.push(message);
      const calls = message.tool_calls ?? [];
      if (calls.length === 0) return;
      for (const call of calls) {
        if (call.type !== 'function') continue;
        let args: Record<string, unknown> = {};
        try {
          args = JSON.parse(call.function.arguments || '{}') as Record<string, unknown>;
        } catch {
          messages.push({ role: 'tool', tool_call_id: call.id, content: 'arguments were not valid JSON' });
          continue;
        }
        const outcome = await session.call(call.function.name, args);
        const content = outcome.ok ? JSON.stringify(outcome.value) : JSON.stringify({ code: outcome.code, message: outcome.message, hint: outcome.hint });
        messages.push({ role: 'tool', tool_call_id: call.id, content });
      }
    }
  };
}
