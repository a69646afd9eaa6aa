/**
 * The official conformance suite's fixture tools, resources and prompts (`@modelcontextprotocol/conformance`
 * server scenarios). Served only with `UEE_MCP_CONFORMANCE_FIXTURES=1`, so that every scenario exercises
 * the real transports, session handling and tool framework instead of being skipped. Test only.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  acceptedContent,
  CLIENT_CAPABILITIES_META_KEY,
  completable,
  createRequestStateCodec,
  inputRequired,
  inputResponse,
  ResourceTemplate,
  type CallToolResult,
  type InputRequest,
  type InputRequiredResult,
  type McpServer,
  type ServerContext,
  type ServerNotifier,
  type Tool,
} from '@modelcontextprotocol/server';
import { UeeError } from '../../core/index.js';
import { defineTool, type ToolDefinition } from '../../tools/index.js';
import type { TaskHandle, TaskOutcome } from './task-runner.js';

/** The MCP request context of a fixture call (fixtures run over MCP only). */
function mcpOf(ctx: { mcp?: ServerContext }): ServerContext {
  if (!ctx.mcp) throw new UeeError('VALIDATION_FAILED', 'this fixture needs an MCP client', { hint: 'call it over MCP' });
  return ctx.mcp;
}

/** A 1×1 red PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A 44-byte WAV header with no samples. */
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

const Text = z.object({ text: z.string() });
const none = z.strictObject({});
const ro = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

/** The fixture tools. */
export function fixtureTools(): ToolDefinition[] {
  return [
    defineTool({
      name: 'test_simple_text', title: 'Simple text', description: 'Conformance fixture: returns a simple text.', input: none, output: Text, annotations: ro,
      run: () => Promise.resolve({ text: 'This is a simple text response for testing.' }),
      summarize: (o) => o.text,
    }),
    defineTool({
      name: 'test_image_content', title: 'Image content', description: 'Conformance fixture: returns an image.', input: none, output: Text, annotations: ro,
      run: () => Promise.resolve({ text: 'image' }),
      content: () => [{ type: 'image', data: PNG, mimeType: 'image/png' }],
    }),
    defineTool({
      name: 'test_audio_content', title: 'Audio content', description: 'Conformance fixture: returns audio.', input: none, output: Text, annotations: ro,
      run: () => Promise.resolve({ text: 'audio' }),
      content: () => [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
    }),
    defineTool({
      name: 'test_embedded_resource', title: 'Embedded resource', description: 'Conformance fixture: returns an embedded resource.', input: none, output: Text, annotations: ro,
      run: () => Promise.resolve({ text: 'embedded resource' }),
      content: () => [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
    }),
    defineTool({
      name: 'test_multiple_content_types', title: 'Mixed content', description: 'Conformance fixture: returns text, image and a resource.', input: none, output: Text, annotations: ro,
      run: () => Promise.resolve({ text: 'Multiple content types test:' }),
      summarize: (o) => o.text,
      content: () => [
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } },
      ],
    }),
    defineTool({
      name: 'test_tool_with_logging', title: 'Logging', description: 'Conformance fixture: sends three log messages.', input: none, output: Text, annotations: ro,
      async run(ctx) {
        await ctx.log('info', 'Tool execution started');
        await sleep(50, ctx.signal);
        await ctx.log('info', 'Tool processing data');
        await sleep(50, ctx.signal);
        await ctx.log('info', 'Tool execution completed');
        return { text: 'Tool with logging executed successfully' };
      },
    }),
    defineTool({
      name: 'test_error_handling', title: 'Error', description: 'Conformance fixture: always fails.', input: none, output: Text, annotations: ro,
      run: () => Promise.reject(new UeeError('PLUGIN_ERROR', 'This tool intentionally returns an error for testing', { hint: 'nothing to fix: it always fails' })),
    }),
    defineTool({
      name: 'test_tool_with_progress', title: 'Progress', description: 'Conformance fixture: reports progress 0, 50, 100.', input: none, output: Text, annotations: ro,
      async run(ctx) {
        await ctx.progress(0, 100);
        await sleep(50, ctx.signal);
        await ctx.progress(50, 100);
        await sleep(50, ctx.signal);
        await ctx.progress(100, 100);
        return { text: 'Progress tool completed' };
      },
    }),
    defineTool({
      name: 'test_sampling', title: 'Sampling', description: 'Conformance fixture: asks the client to sample.', input: z.strictObject({ prompt: z.string().max(10_000) }), output: Text, annotations: ro,
      async run(ctx, args) {
        const result = await mcpOf(ctx).mcpReq.requestSampling({ messages: [{ role: 'user', content: { type: 'text', text: args.prompt } }], maxTokens: 100 });
        const content = result.content as { type: string; text?: string };
        return { text: `LLM response: ${content.type === 'text' ? content.text ?? '' : '[non-text]'}` };
      },
      summarize: (o) => o.text,
    }),
    defineTool({
      name: 'test_elicitation', title: 'Elicitation', description: 'Conformance fixture: asks the user.', input: z.strictObject({ message: z.string().max(10_000) }), output: Text, annotations: ro,
      async run(ctx, args) {
        const result = await mcpOf(ctx).mcpReq.elicitInput(
          ({
              message: args.message,
              requestedSchema: {
                type: 'object',
                properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } },
                required: ['username', 'email'],
              },
            }),
        );
        return { text: `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}` };
      },
      summarize: (o) => o.text,
    }),
    defineTool({
      name: 'test_elicitation_sep1034_defaults', title: 'Elicitation defaults', description: 'Conformance fixture: elicitation with defaults.', input: none, output: Text, annotations: ro,
      async run(ctx) {
        const result = await mcpOf(ctx).mcpReq.elicitInput(
          ({
              message: 'Please review and update the form fields with defaults',
              requestedSchema: {
                type: 'object',
                properties: {
                  name: { type: 'string', description: 'User name', default: 'John Doe' },
                  age: { type: 'integer', description: 'User age', default: 30 },
                  score: { type: 'number', description: 'User score', default: 95.5 },
                  status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
                  verified: { type: 'boolean', description: 'Verification status', default: true },
                },
              },
            }),
        );
        return { text: `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}` };
      },
      summarize: (o) => o.text,
    }),
    defineTool({
      name: 'test_elicitation_sep1330_enums', title: 'Elicitation enums', description: 'Conformance fixture: elicitation with enum variants.', input: none, output: Text, annotations: ro,
      async run(ctx) {
        const result = await mcpOf(ctx).mcpReq.elicitInput(
          ({
              message: 'Please select options from the enum fields',
              requestedSchema: {
                type: 'object',
                properties: {
                  untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
                  titledSingle: {
                    type: 'string',
                    description: 'Select one option with titles',
                    oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }],
                  },
                  legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
                  untitledMulti: { type: 'array', description: 'Select multiple options', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
                  titledMulti: {
                    type: 'array',
                    description: 'Select multiple options with titles',
                    items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] },
                  },
                },
              },
            }),
        );
        return { text: `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}` };
      },
      summarize: (o) => o.text,
    }),
    defineTool({
      name: 'json_schema_2020_12_tool', title: 'JSON Schema 2020-12', description: 'Tool with JSON Schema 2020-12 features',
      input: z.strictObject({
        name: z.string().max(1000).optional(),
        address: z.strictObject({ street: z.string().max(1000).optional(), city: z.string().max(1000).optional() }).optional(),
        contactMethod: z.enum(['phone', 'email']).optional(),
        phone: z.string().max(1000).optional(),
        email: z.string().max(1000).optional(),
      }),
      inputJsonSchema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
        properties: {
          name: { type: 'string' },
          address: { $ref: '#/$defs/address' },
          contactMethod: { type: 'string', enum: ['phone', 'email'] },
          phone: { type: 'string' },
          email: { type: 'string' },
        },
        allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
        if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
        then: { required: ['phone'] },
        else: { required: ['email'] },
        additionalProperties: false,
      },
      output: Text, annotations: ro,
      run: (_ctx, args) => Promise.resolve({ text: `received ${JSON.stringify(args)}` }),
    }),
    defineTool({
      name: 'test_reconnection', title: 'Reconnection', description: 'Conformance fixture: closes its SSE stream mid-call (SEP-1699 polling).', input: none, output: Text, annotations: ro,
      async run(ctx) {
        await sleep(50, ctx.signal);
        ctx.mcp?.http?.closeSSE?.();
        await sleep(200, ctx.signal);
        return { text: 'Reconnection test completed' };
      },
    }),
  ];
}

/** Registers the fixture resources, template, subscriptions and prompts on one session's server. */
export function registerFixtures(mcp: McpServer): void {
  mcp.registerResource('static-text', 'test://static-text', { title: 'Static text', description: 'Conformance fixture text', mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
  }));
  mcp.registerResource('static-binary', 'test://static-binary', { title: 'Static binary', description: 'Conformance fixture image', mimeType: 'image/png' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG }],
  }));
  mcp.registerResource('watched-resource', 'test://watched-resource', { title: 'Watched', description: 'Conformance fixture for subscriptions', mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }],
  }));
  mcp.registerResource(
    'template-data',
    new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { title: 'Template', description: 'Conformance fixture template', mimeType: 'application/json' },
    (uri, vars) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id: String(vars.id), templateTest: true, data: `Data for ID: ${String(vars.id)}` }) }],
    }),
  );
  const subscriptions = new Set<string>();
  mcp.server.setRequestHandler('resources/subscribe', (req) => {
    subscriptions.add(req.params.uri);
    return {};
  });
  mcp.server.setRequestHandler('resources/unsubscribe', (req) => {
    subscriptions.delete(req.params.uri);
    return {};
  });

  registerRawFixturePrompt(mcp);
  mcp.registerPrompt('test_simple_prompt', { title: 'Simple prompt', description: 'Conformance fixture prompt' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  mcp.registerPrompt(
    'test_prompt_with_arguments',
    {
      title: 'Prompt with arguments',
      description: 'Conformance fixture prompt with arguments',
      argsSchema: {
        arg1: completable(z.string().describe('First test argument'), (value) => ['paris', 'park', 'party'].filter((v) => v.startsWith(value))),
        arg2: z.string().describe('Second test argument'),
      },
    },
    ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }),
  );
  mcp.registerPrompt(
    'test_prompt_with_embedded_resource',
    { title: 'Prompt with resource', description: 'Conformance fixture prompt with an embedded resource', argsSchema: { resourceUri: z.string().describe('URI of the resource to embed') } },
    ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );
  mcp.registerPrompt('test_prompt_with_image', { title: 'Prompt with image', description: 'Conformance fixture prompt with an image' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
}

/** A fixture tool answering `tools/call` with raw protocol results (multi-round-trip `input_required`), outside UEE's tool framework. */
export interface RawFixtureTool {
  readonly tool: Tool;
  call(args: Record<string, unknown>, ctx: ServerContext): CallToolResult | InputRequiredResult | Promise<CallToolResult | InputRequiredResult>;
}

/** Signs the fixtures' `requestState` (HMAC, per-process key: one process serves every round in the suite). */
const stateCodec = createRequestStateCodec({ key: randomBytes(32) });

/** `ServerOptions.requestState` of a server with fixtures: an echoed state the codec did not mint is refused (-32602). */
export const fixtureRequestState = { verify: (state: string, ctx: ServerContext): Promise<unknown> => stateCodec.verify(state, ctx) };

const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });
const form = (message: string, properties: Record<string, { type: 'string' } | { type: 'boolean' }>): InputRequest =>
  inputRequired.elicit({ message, requestedSchema: { type: 'object', properties, required: Object.keys(properties) } });
const ask = (t: string, maxTokens = 50): InputRequest => inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: t } }], maxTokens });
const raw = (name: string, description: string, call: RawFixtureTool['call'], inputSchema: Tool['inputSchema'] = { type: 'object', properties: {} }): RawFixtureTool => ({
  tool: { name, description, inputSchema, annotations: ro },
  call,
});

/** The fixtures of the 0.2 suite's `input-required-result-*`, `server-stateless` and `http-custom-header-*` scenarios. */
export function rawFixtureTools(listeners: ReadonlySet<ServerNotifier>): RawFixtureTool[] {
  return [
    // server-stateless: "mutate" the prompt (tool) list so that open subscriptions/listen streams are told.
    raw('test_trigger_prompt_change', 'Conformance fixture: announces a prompt list change to listen streams.', () => {
      for (const n of listeners) n.promptsChanged();
      return text('prompts list_changed published');
    }),
    raw('test_trigger_tool_change', 'Conformance fixture: announces a tool list change to listen streams.', () => {
      for (const n of listeners) n.toolsChanged();
      return text('tools list_changed published');
    }),
    raw('test_input_required_result_elicitation', 'Conformance fixture: asks for the user name in an input_required round.', (_args, ctx) => {
      const answer = acceptedContent<{ name?: unknown }>(ctx.mcpReq.inputResponses, 'user_name');
      if (typeof answer?.name !== 'string') return inputRequired({ inputRequests: { user_name: form('What is your name?', { name: { type: 'string' } }) } });
      return text(`Hello, ${answer.name}!`);
    }),
    raw('test_input_required_result_sampling', 'Conformance fixture: asks the client to sample in an input_required round.', (_args, ctx) => {
      const view = inputResponse(ctx.mcpReq.inputResponses, 'sample_request');
      if (view.kind !== 'sampling') return inputRequired({ inputRequests: { sample_request: ask('What is the capital of France?', 100) } });
      return text('Sampled.');
    }),
    raw('test_input_required_result_list_roots', 'Conformance fixture: asks for the client roots in an input_required round.', (_args, ctx) => {
      const view = inputResponse(ctx.mcpReq.inputResponses, 'roots_request');
      if (view.kind !== 'roots') return inputRequired({ inputRequests: { roots_request: inputRequired.listRoots() } });
      return text(`Roots: ${view.roots.map((r) => r.uri).join(', ')}`);
    }),
    raw('test_input_required_result_request_state', 'Conformance fixture: round-trips signed request state.', async (_args, ctx) => {
      const answer = acceptedContent<{ ok?: unknown }>(ctx.mcpReq.inputResponses, 'confirm');
      if (answer === undefined) {
        return inputRequired({ inputRequests: { confirm: form('Proceed?', { ok: { type: 'boolean' } }) }, requestState: await stateCodec.mint({ tool: 'request_state' }) });
      }
      return text(`state-ok: confirmed=${String(answer.ok)}`);
    }),
    raw('test_input_required_result_multiple_inputs', 'Conformance fixture: asks for elicitation, sampling and roots in one round.', async (_args, ctx) => {
      const responses = ctx.mcpReq.inputResponses;
      if (acceptedContent(responses, 'user_name') === undefined && inputResponse(responses, 'greeting').kind === 'missing' && inputResponse(responses, 'client_roots').kind === 'missing') {
        return inputRequired({
          inputRequests: { user_name: form('Name?', { name: { type: 'string' } }), greeting: ask('Say hello.'), client_roots: inputRequired.listRoots() },
          requestState: await stateCodec.mint({ tool: 'multiple_inputs' }),
        });
      }
      return text('All inputs received.');
    }),
    raw('test_input_required_result_multi_round', 'Conformance fixture: collects input over two rounds.', async (_args, ctx) => {
      const round = ctx.mcpReq.requestState<{ round?: number }>()?.round ?? 0;
      if (round === 0) return inputRequired({ inputRequests: { step1: form('Step 1: your name?', { name: { type: 'string' } }) }, requestState: await stateCodec.mint({ round: 1 }) });
      if (round === 1) return inputRequired({ inputRequests: { step2: form('Step 2: favourite colour?', { color: { type: 'string' } }) }, requestState: await stateCodec.mint({ round: 2 }) });
      return text('Multi-round flow complete.');
    }),
    raw('test_input_required_result_tampered_state', 'Conformance fixture: signed state; a tampered one is refused before the handler.', async (_args, ctx) => {
      if (acceptedContent(ctx.mcpReq.inputResponses, 'confirm') === undefined) {
        return inputRequired({ inputRequests: { confirm: form('Confirm?', { ok: { type: 'boolean' } }) }, requestState: await stateCodec.mint({ tool: 'tampered_state' }) });
      }
      return text('State verified.');
    }),
    raw('test_input_required_result_capabilities', "Conformance fixture: asks only for what the request's client capabilities declare.", async (_args, ctx) => {
      const responses = ctx.mcpReq.inputResponses;
      if (acceptedContent(responses, 'elicit_input') !== undefined || inputResponse(responses, 'sample_input').kind === 'sampling') return text('Capability-scoped inputs received.');
      const envelope = ctx.mcpReq.envelope as Record<string, { elicitation?: unknown; sampling?: unknown } | undefined> | undefined;
      const declared = envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? {};
      const requests: Record<string, InputRequest> = {};
      if (declared.elicitation !== undefined) requests.elicit_input = form('Provide input', { value: { type: 'string' } });
      if (declared.sampling !== undefined) requests.sample_input = ask('Say hi.');
      if (Object.keys(requests).length === 0) return text('The client declared no input capabilities.');
      return inputRequired({ inputRequests: requests, requestState: await stateCodec.mint({ tool: 'capabilities' }) });
    }),
    // server-stateless: the round needs sampling; a request that did not declare it is answered -32021 by the SDK.
    raw('test_missing_capability', 'Conformance fixture: needs the sampling capability.', (_args, ctx) => {
      if (inputResponse(ctx.mcpReq.inputResponses, 'sample').kind !== 'sampling') return inputRequired({ inputRequests: { sample: ask('Ping.', 10) } });
      return text('Sampled.');
    }),
    // http-custom-header-server-validation: the SDK checks Mcp-Param-Region against the body before dispatch.
    raw(
      'test_custom_header',
      'Conformance fixture: its region argument is mirrored in the Mcp-Param-Region header.',
      (args) => text(`region=${String(args.region)}`),
      { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } }, required: ['region'] },
    ),
  ];
}

/** The prompt of the `input-required-result-non-tool-request` scenario (input_required on `prompts/get`). */
export function registerRawFixturePrompt(mcp: McpServer): void {
  mcp.registerPrompt('test_input_required_result_prompt', { title: 'Prompt asking for context', description: 'Conformance fixture: asks for context before rendering' }, (ctx) => {
    const answer = acceptedContent<{ context?: unknown }>(ctx.mcpReq.inputResponses, 'user_context');
    if (typeof answer?.context !== 'string') {
      return inputRequired({ inputRequests: { user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } }) } });
    }
    return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with context: ${answer.context}` } }] };
  });
}

/**
 * A fixture of the 0.2 suite's `tasks-*` scenarios: a tool that runs as a task (tasks extension).
 * `call` either answers a multi-round-trip round itself or returns the task's work.
 */
export interface TaskFixtureTool {
  readonly tool: Tool;
  readonly taskSupport: 'optional' | 'required';
  call(args: Record<string, unknown>, ctx: ServerContext): InputRequiredResult | ((task: TaskHandle) => Promise<TaskOutcome>);
}

const done = (t: string): TaskOutcome => ({ result: text(t) });
const taskTool = (name: string, description: string, taskSupport: 'optional' | 'required', call: TaskFixtureTool['call'], properties: Record<string, unknown> = {}): TaskFixtureTool => ({
  tool: { name, description, inputSchema: { type: 'object', properties } as Tool['inputSchema'], annotations: ro, execution: { taskSupport } },
  taskSupport,
  call,
});

/** `greet` (sync only) and the task fixtures of the `tasks-*` scenarios. */
export function taskFixtureTools(): { greet: RawFixtureTool; tasks: TaskFixtureTool[] } {
  return {
    greet: raw('greet', 'Conformance fixture: greets synchronously (never a task).', (args) => text(`Hello, ${String(args.name)}!`), {
      type: 'object',
      properties: { name: { type: 'string' } },
    }),
    tasks: [
      taskTool('slow_compute', 'Conformance fixture: sleeps `seconds`, then answers (a task).', 'optional', (args) => async (task) => {
        const seconds = typeof args.seconds === 'number' ? Math.min(Math.max(args.seconds, 0), 600) : 1;
        await sleep(seconds * 1000, task.signal);
        return done(`computed ${typeof args.label === 'string' ? args.label : ''} after ${seconds}s`);
      }, { seconds: { type: 'number' }, label: { type: 'string' } }),
      taskTool('failing_job', 'Conformance fixture: a task whose tool result is an error.', 'required', () => async (task) => {
        await sleep(300, task.signal);
        return { result: { isError: true, content: [{ type: 'text', text: 'failing_job always fails' }] } };
      }),
      taskTool('protocol_error_job', 'Conformance fixture: a task that ends in a protocol error.', 'optional', () => async (task) => {
        await sleep(100, task.signal);
        return { error: { code: -32603, message: 'protocol_error_job always fails with an internal error' } };
      }),
      taskTool('confirm_delete', 'Conformance fixture: a task that asks to confirm before it ends.', 'optional', (args) => async (task) => {
        const answers = await task.requestInput({ confirm: form(`Delete ${String(args.filename)}?`, { confirm: { type: 'boolean' } }) });
        return done(`confirm_delete ${String(args.filename)}: ${JSON.stringify(answers.confirm ?? null)}`);
      }, { filename: { type: 'string' } }),
      taskTool('multi_input', 'Conformance fixture: a task that asks two questions at once.', 'optional', () => async (task) => {
        const answers = await task.requestInput({ first: form('First?', { name: { type: 'string' } }), second: form('Second?', { name: { type: 'string' } }) });
        return done(`multi_input: ${Object.keys(answers).sort().join(', ')}`);
      }),
      taskTool('test_tool_with_task', 'Conformance fixture: asks for a name (input_required), then answers as a task.', 'required', (_args, ctx) => {
        const answer = acceptedContent<{ name?: unknown }>(ctx.mcpReq.inputResponses, 'user_name');
        if (typeof answer?.name !== 'string') return inputRequired({ inputRequests: { user_name: form('What is your name?', { name: { type: 'string' } }) } });
        const name = answer.name;
        return async (task) => {
          await sleep(50, task.signal);
          return done(`Hello, ${name}!`);
        };
      }),
    ],
  };
}
