/**
 * compileJs type-checks TypeScript plugins (strict, ES2020, `uee:plugin` typed by sdk/ts) and fails
 * with COMPILE_FAILED and positioned `TS<code>` diagnostics; `typeCheck: false` and `.js` skip it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileJs, isUeeErrorLike } from './compile-helpers.js';
import { eventInput, FakeHost, fixture, load, sharedEngine } from './plugin-host.js';
import type { Diagnostic, EngineArtifact } from '../../src/compiler/index.js';

let engine: EngineArtifact;
beforeAll(async () => {
  engine = await sharedEngine();
}, 20 * 60_000);

const BAD = [
  "import { writeEntity, log } from 'uee:plugin';",
  "import type { HandleInput } from 'uee:plugin';",
  'export function handle(input: HandleInput) {',
  "  log('info', 'seen', { id: input.event.eventId });",
  "  return writeEntity({ entityTypeId: 'note', atributes: { text: 'hi' } });",
  '}',
  '',
].join('\n');

const diagnosticsOf = (err: unknown): Diagnostic[] => (err as { details: { diagnostics: Diagnostic[] } }).details.diagnostics;

describe('compileJs type check', () => {
  it('TC-1 a type error fails the compile with file:line:col, TS code and message', async () => {
    const err = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': BAD } }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    const [d, ...rest] = diagnosticsOf(err);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ severity: 'error', file: 'main.ts', line: 5, col: 46, code: 'TS2561' });
    expect(d!.message).toMatch(/'atributes' does not exist in type 'WriteEntityRequest'.*'attributes'/);
    expect(d!.lineText).toContain('atributes');
    expect((err as Error).message).toMatch(/^main\.ts:5:46: TS2561: /);
    expect((err as { hint?: string }).hint).toMatch(/sdk\/ts\/types\.ts/);
  });

  it('TC-2 errors in an imported file, several at once: wrong argument types, misspelled property, no Node globals', async () => {
    const files = {
      'main.ts': "import { score } from './lib/score';\nexport function handle() { return score('3'); }\n",
      'lib/score.ts': [
        "import { log, readEntity } from 'uee:plugin';",
        'export function score(n: number): number {',
        "  log('info', 42);",
        "  const e = readEntity('t1');",
        '  setTimeout(() => undefined, 1);',
        '  return n * (e?.verison ?? 1);',
        '}',
        '',
      ].join('\n'),
    };
    const err = await compileJs({ engine, entry: 'main.ts', files }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    const got = diagnosticsOf(err).map((d) => `${d.file}:${d.line}:${d.col} ${d.code}`);
    expect(got.sort()).toEqual(
      ['main.ts:2:41 TS2345', 'lib/score.ts:3:15 TS2345', 'lib/score.ts:5:3 TS2304', 'lib/score.ts:6:18 TS2551'].sort(),
    );
    expect((err as Error).message).toMatch(/\(\+3 more errors\)$/);
  });

  it('TC-3 a correct plugin using the SDK passes and reports the type-check time', async () => {
    const src = `import { emitEvent, on, PluginError, readEntity, writeEntity } from 'uee:plugin';
      import type { HandleInput } from 'uee:plugin';
      on('Rename', (input: HandleInput<{ title: string }>) => {
        const e = readEntity<{ title: string }>(input.event.entityId ?? '');
        if (e === null) throw new PluginError('NOT_FOUND', 'no entity');
        const w = writeEntity({ entityId: e.entityId, entityTypeId: e.entityTypeId, expectedVersion: e.version,
                                attributes: { ...e.attributes, title: input.event.payload.title } });
        emitEvent({ type: 'Renamed', entityId: w.entityId, payload: { version: w.version } });
        console.info('renamed', w.version);
        return { version: w.version };
      });`;
    const { wasm, report } = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': src } });
    expect(report.diagnostics.filter((d) => d.code?.startsWith('TS'))).toEqual([]);
    expect(typeof report.timings.typecheck).toBe('number');
    const host = new FakeHost();
    host.addEntity({ entityId: 'task-1', entityTypeId: 'task', version: 2, attributes: { title: 'a' }, metadata: {} });
    const p = await load(wasm, host);
    expect(await p.call(eventInput('Rename', { event: { payload: { title: 'b' } } }))).toEqual({ ok: true, output: { version: 3 } });
    await p.close();
  });

  it('TC-4 typeCheck: false skips the check; .js entries are not type-checked', async () => {
    const skipped = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': BAD }, typeCheck: false });
    expect(skipped.report.timings.typecheck).toBeUndefined();
    const js = await compileJs({
      engine,
      entry: 'main.js',
      files: { 'main.js': "import { log } from 'uee:plugin';\nexport function handle() { log('info', 42); return 1; }\n" },
    });
    expect(js.report.timings.typecheck).toBeUndefined();
  });

  it('TC-5 the seed fixtures type-check without @ts-nocheck', async () => {
    const names = ['task-prioritizer', 'task-prioritizer-gateway', 'workflow', 'router-probe'];
    const features = await fixture('ts/features.ts');
    for (const name of names) {
      const source = await fixture(`ts/${name}.ts`);
      expect(source).not.toMatch(/@ts-nocheck|@ts-ignore|@ts-expect-error/);
      const { report } = await compileJs({ engine, entry: `${name}.ts`, files: { [`${name}.ts`]: source, 'features.ts': features } });
      expect(report.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(report.timings.typecheck).toBeGreaterThan(0);
    }
  });
});
