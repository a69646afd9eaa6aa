/**
 * The seed plugins (TaskPrioritizer and the Draft→InProgress→Done workflow) in TS and in
 * AssemblyScript, run on Extism with the same fake host: same outputs, same effects, same errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAssemblyScript, compileJs, compileRust } from './compile-helpers.js';
import { eventInput, FakeHost, fixture, load, sharedEngine } from './plugin-host.js';
import type { EngineArtifact } from '../../src/compiler/index.js';

let engine: EngineArtifact;
beforeAll(async () => {
  engine = await sharedEngine();
}, 20 * 60_000);

async function buildBoth(name: string): Promise<{ ts: Uint8Array; as: Uint8Array }> {
  const ts = await compileJs({
    engine,
    entry: `${name}.ts`,
    files: { [`${name}.ts`]: await fixture(`ts/${name}.ts`), 'features.ts': await fixture('ts/features.ts') },
  });
  const as = await compileAssemblyScript({ entry: `${name}.ts`, files: { [`${name}.ts`]: await fixture(`as/${name}.ts`) } });
  expect(ts.report.capabilities).toEqual(as.report.capabilities);
  return { ts: ts.wasm, as: as.wasm };
}

const task = (over: object = {}) => ({
  entityId: 'task-1', entityTypeId: 'task', tenantId: 't1', ownerId: 'u1', version: 3,
  attributes: { title: 'Write report', priority: 'high', energy: 'high', estimateHours: 2 },
  metadata: { source: 'import' }, createdAt: '2026-11-26T10:00:00.000Z', createdBy: 'u1', causationId: null,
  ...over,
});

describe('seed plugins in TS, AssemblyScript and Rust', () => {
  it('SEED-1 TaskPrioritizer: model score into metadata, read model, suggestion; identical in TS, AssemblyScript and Rust', async () => {
    const { ts, as } = await buildBoth('task-prioritizer');
    const rust = await compileRust({ entry: 'lib.rs', files: { 'lib.rs': await fixture('rust/task-prioritizer.rs') } });
    expect(rust.report.capabilities).toEqual(['invokeModels', 'readEntities', 'updateReadModels', 'writeEntities', 'emitEvents'].sort());
    const results = [];
    for (const wasm of [ts, as, rust.wasm]) {
      for (const modelAnswer of [0.91234, 'not-a-number']) {
        const host = new FakeHost();
        host.modelAnswer = modelAnswer;
        host.addEntity(task());
        const p = await load(wasm, host);
        const outcome = await p.call(eventInput('TaskUpdated', { settings: { model: 'ml/task/priority-v2' } }));
        const ignored = await p.call(eventInput('SomethingElse'));
        await p.close();
        expect(ignored).toEqual({ ok: true, output: null });
        results.push({ outcome, effects: host.effects, calls: host.calls.map((c) => c.fn) });
      }
    }
    const [tsModel, tsHeuristic, asModel, asHeuristic, rustModel, rustHeuristic] = results;
    expect(tsModel!.outcome).toEqual({ ok: true, output: { entityId: 'task-1', score: 0.912, version: 4 } });
    expect(tsModel!.effects).toEqual([
      {
        fn: 'write_entity',
        request: {
          entityId: 'task-1', entityTypeId: 'task', expectedVersion: 3,
          attributes: task().attributes, metadata: { source: 'import', priorityScore: 0.912 }, eventType: 'TaskPrioritized',
        },
      },
      { fn: 'update_read_model', request: { op: 'upsert', view: 'task-priorities', id: 'task-1', doc: { title: 'Write report', score: 0.912 } } },
      { fn: 'emit_event', request: { type: 'NextActionSuggested', entityId: 'task-1', payload: { suggestion: 'do-today', score: 0.912 } } },
    ]);
    // heuristic: (3/3) * 1.5 / (1 + 2/8) = 1.2 → capped at 1
    expect(tsHeuristic!.outcome).toEqual({ ok: true, output: { entityId: 'task-1', score: 1, version: 4 } });
    expect(asModel).toEqual(tsModel);
    expect(asHeuristic).toEqual(tsHeuristic);
    expect(rustModel).toEqual(tsModel);
    expect(rustHeuristic).toEqual(tsHeuristic);
  }, 240_000);

  it('SEED-2 workflow: Draft→InProgress→Done allowed, Draft→Done refused with INVALID_TRANSITION, in both languages', async () => {
    const { ts, as } = await buildBoth('workflow');
    const runs = [];
    for (const wasm of [ts, as]) {
      const host = new FakeHost();
      host.addEntity(task({ attributes: { title: 'x', status: 'Draft' } }));
      const p = await load(wasm, host);
      const step = async (to: string) => {
        const r = await p.call(eventInput('TaskStatusChangeRequested', { event: { payload: { to } } }));
        if (r.ok) {
          const cur = host.entities.get('task-1');
          host.addEntity({ ...cur, version: r.output.version, attributes: { ...cur.attributes, status: to } });
        }
        return r;
      };
      const trace = [await step('Done'), await step('InProgress'), await step('InProgress'), await step('Done')];
      const missing = await p.call(eventInput('TaskStatusChangeRequested', { event: { entityId: 'nope', payload: { to: 'Done' } } }));
      await p.close();
      runs.push({ trace, missing, effects: host.effects });
    }
    const [tsRun, asRun] = runs;
    expect(tsRun!.trace).toEqual([
      { ok: false, error: { code: 'INVALID_TRANSITION', message: 'Draft → Done is not allowed (allowed: InProgress)' } },
      { ok: true, output: { entityId: 'task-1', from: 'Draft', to: 'InProgress', version: 4 } },
      { ok: false, error: { code: 'INVALID_TRANSITION', message: 'InProgress → InProgress is not allowed (allowed: Done)' } },
      { ok: true, output: { entityId: 'task-1', from: 'InProgress', to: 'Done', version: 5 } },
    ]);
    expect(tsRun!.missing).toEqual({ ok: false, error: { code: 'ENTITY_NOT_FOUND', message: 'entity nope is not visible' } });
    expect(tsRun!.effects.map((e) => e.fn)).toEqual([
      'write_entity', 'emit_event', 'update_read_model', 'write_entity', 'emit_event', 'update_read_model',
    ]);
    expect(asRun).toEqual(tsRun);
  });
});
