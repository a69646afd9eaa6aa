/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
// SIM: plugin_test hands a plugin exactly what the runtime would, runs built-in offline models for
// real and flags every stubbed one; plugin_compile's requiredCapabilities covers reading input.entity.
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { sc, serverWithAcme } from './helpers.js';

const SEES = `import { on } from 'uee:plugin';
on('TaskCreated', (input) => ({ saw: input.entity ? input.entity.attributes.title : null, now: input.context.now }));
`;
const SCORES = `import { on, callModel } from 'uee:plugin';
on('TaskCreated', () => {
  const real = callModel({ model: 'task.prioritizer.v2', input: { importance: 5, dueInDays: 1 } });
  const other = callModel({ model: 'tenant.llm', input: { prompt: 'hi' } });
  return { real, other };
});
`;

async function callWith(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { timeout: 120_000 }));
}
function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}

describe('simulation you can trust (plugin_test)', () => {
  const site = serverWithAcme();

  it('SIM-1 input.entity needs readEntities: compile requires it, the sandbox hands the entity only with it, as the runtime does', async () => {
    const { acme } = site;
    const compiled = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': SEES } }, capabilities: [] }));
    expect(compiled.requiredCapabilities).toEqual(['readEntities']);
    expect(compiled.missingCapabilities).toEqual(['readEntities']);
    expect(compiled.diagnostics.some((d: any) => d.severity === 'warning' && d.message.includes('input.entity'))).toBe(true);
    const fixtures = [{ entityId: 'task-1', entityTypeId: 'Task', attributes: { title: 'hello' } }];
    const events = [{ type: 'TaskCreated', entityId: 'task-1' }];
    const without = ok(await callWith(acme, 'plugin_test', { artifact: compiled.artifact, manifest: { capabilities: [] }, fixtures, events }));
    expect(without.runs[0].output.saw).toBeNull();
    const granted = ok(await callWith(acme, 'plugin_test', { artifact: compiled.artifact, fixtures, events }));
    expect(granted.plugin.capabilities).toEqual(['readEntities']);
    expect(granted.runs[0].output.saw).toBe('hello');
    // The deploy plan warns when the manifest leaves it out.
    const plan = ok(await callWith(acme, 'plugin_deploy', { manifest: { name: 'Acme.Sees', subscribeTo: ['TaskCreated'], capabilities: [] }, artifact: compiled.artifact, source: { language: 'ts', files: { 'main.ts': SEES } }, dryRun: true }));
    expect(plan.warnings.join('\n')).toContain('input.entity is undefined at run time');
  }, 120_000);

  it('SIM-2 built-in offline models run for real by default; any stubbed model is flagged', async () => {
    const { acme } = site;
    const compiled = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': SCORES } } }));
    const direct = ok(await callWith(acme, 'model_call', { model: 'task.prioritizer.v2', input: { importance: 5, dueInDays: 1 } }));
    const run = ok(await callWith(acme, 'plugin_test', { artifact: compiled.artifact, events: [{ type: 'TaskCreated' }] }));
    expect(run.runs[0].ok).toBe(true);
    expect(run.runs[0].output.real).toEqual(direct.output);
    expect(run.runs[0].stubbedModels).toEqual(['tenant.llm']);
    const stubbed = ok(await callWith(acme, 'plugin_test', { artifact: compiled.artifact, events: [{ type: 'TaskCreated' }], models: 'stub' }));
    expect(stubbed.runs[0].stubbedModels).toEqual(['task.prioritizer.v2', 'tenant.llm']);
    expect(stubbed.runs[0].output.real).not.toEqual(direct.output);
  }, 120_000);
});
