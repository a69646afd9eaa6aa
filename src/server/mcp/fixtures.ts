/**
 * The official conformance suite's fixture tools, resources and prompts (`@modelcontextprotocol/conformance`
 * server scenarios). Served only with `UEE_MCP_CONFORMANCE_FIXTURES=1`, so that every scenario exercises
 * the real transports, session handling and tool framework instead of being skipped. Test only.
 */
import { z } from 'zod';
import { completable, ResourceTemplate, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { UeeError } from '../../core/index.js';
import { defineTool, type ToolDefinition } from '../../tools/index.js';

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
      input: z.strictObject({ name: z.string().max(1000).optional(), address: z.strictObject({ street: z.string().max(1000).optional(), city: z.string().max(1000).optional() }).optional() }),
      inputJsonSchema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
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
