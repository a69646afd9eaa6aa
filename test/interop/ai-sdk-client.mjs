// Drives a UEE MCP server with @ai-sdk/mcp (Vercel AI SDK's own MCP client, not the official SDK).
// Usage: node ai-sdk-client.mjs <interop-dir> http|sse <url> <token>
//        node ai-sdk-client.mjs <interop-dir> stdio <data-dir> <uee-bin>
// Prints one JSON object with what it observed.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [interop, kind, target, extra] = process.argv.slice(2);
const mod = (p) => import(pathToFileURL(join(interop, 'node_modules', p)).href);
const { createMCPClient } = await mod('@ai-sdk/mcp/dist/index.js');

let transport;
if (kind === 'stdio') {
  const { Experimental_StdioMCPTransport } = await mod('@ai-sdk/mcp/dist/mcp-stdio/index.js');
  transport = new Experimental_StdioMCPTransport({
    command: process.env.UEE_NODE ?? 'node',
    args: [extra, 'mcp', '--data-dir', target, '--log-level', 'warn'],
    env: { PATH: process.env.PATH ?? '' },
  });
} else {
  transport = { type: kind, url: target, headers: { authorization: `Bearer ${extra}` } };
}

const client = await createMCPClient({ transport });
const out = {};
try {
  const listed = await client.listTools();
  out.tools = listed.tools.map((t) => t.name);
  out.allHaveOutputSchema = listed.tools.every((t) => t.outputSchema && t.inputSchema);
  const tools = await client.tools();
  out.aiTools = Object.keys(tools).length;
  const put = await tools.entity_put.execute(
    { tenantId: 'default', entityTypeId: 'AiSdkTask', attributes: { from: 'ai-sdk' } },
    { toolCallId: 'c1', messages: [] },
  );
  out.put = put.structuredContent ?? put;
  const err = await client.callTool({ name: 'entity_get', arguments: { tenantId: 'default', entityId: 'missing-one' } });
  out.error = { isError: err.isError, structuredContent: err.structuredContent };
  out.resources = (await client.listResources()).resources.map((r) => r.uri);
  const abi = await client.readResource({ uri: 'uee://catalogue/errors' });
  out.errorCatalogue = JSON.parse(abi.contents[0].text).length;
  out.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
  const prompt = await client.getPrompt({ name: 'fix_dead_lettered_plugin', arguments: { plugin: 'X' } });
  out.promptMessages = prompt.messages.length;
} finally {
  await client.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
