// PLAN-GRAPH: the deploy planner's subscribe→emit graph sees write-backs, implicit entity events and
// timers, honours subscription entity-type filters, and warns only about chains that can loop.
import { describe, expect, it } from 'vitest';
import { graphWarnings, scanOutputs, type GraphNode } from '../../src/tools/plugin-tools/index.js';

const node = (key: string, subscribeTo: string[], source: string, entityTypes?: string[]): GraphNode => {
  const outputs = scanOutputs({ 'main.ts': source });
  return { key, subscribeTo, emits: [...new Set(outputs.map((o) => o.type))], outputs, ...(entityTypes ? { entityTypes } : {}) };
};

describe('deploy plan graph', () => {
  it('PLAN-GRAPH-1 a write-back of a subscribed type (implicit EntityUpdated) is a cycle', () => {
    const p = node('Touch', ['EntityUpdated'], "on('EntityUpdated', (i) => { writeEntity({ entityId: i.event.entityId, entityTypeId: 'Task', attributes: { touched: true } }); });", ['Task']);
    expect(p.outputs).toEqual([{ type: 'EntityCreated', entityTypeId: 'Task' }, { type: 'EntityUpdated', entityTypeId: 'Task' }]);
    expect(graphWarnings(p, []).warnings.join('\n')).toContain('cycle: Touch emits EntityUpdated');
  });

  it('PLAN-GRAPH-2 writing another entity type than the subscription filter admits cannot loop: no warning', () => {
    const p = node('Notes', ['EntityCreated'], "writeEntity({ entityTypeId: 'Note', attributes: { text: { nested: '}' } } });", ['Task']);
    expect(graphWarnings(p, []).warnings).toEqual([]);
  });

  it('PLAN-GRAPH-3 a timer firing a subscribed type is a cycle; an eventType after nested braces is found', () => {
    const timer = node('Remind', ['Reminder'], "scheduleTimer({ delayMs: 60_000, type: 'Reminder', payload: { n: 1 } });");
    expect(graphWarnings(timer, []).warnings.join('\n')).toContain('cycle: Remind emits Reminder');
    expect(scanOutputs({ 'a.ts': "writeEntity({ attributes: { a: { b: 1 } }, eventType: 'TaskMoved', entityTypeId: 'Task' })" })).toEqual([{ type: 'TaskMoved', entityTypeId: 'Task' }]);
  });

  it('PLAN-GRAPH-4 a chain that cannot loop is listed in triggers, not warned about; a two-plugin loop is', () => {
    const a = node('A', ['TaskCreated'], "emitEvent({ type: 'Scored', payload: {} });");
    const b = node('B', ['Scored'], "writeEntity({ entityTypeId: 'Note', attributes: {} });");
    const chain = graphWarnings(a, [b]);
    expect(chain.triggers).toEqual(['B']);
    expect(chain.warnings).toEqual([]);
    const loop = node('C', ['EntityCreated'], "emitEvent({ type: 'TaskCreated', payload: {} });", ['Note']);
    expect(graphWarnings(a, [b, loop]).warnings.join('\n')).toContain('cycle: A → B → C → A');
  });
});
