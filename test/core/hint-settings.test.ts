import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MCP_SETTING_ENV, SETTING_ENV } from '../../src/config/index.js';
import { RESOURCE_BUDGET_FIELDS, budgetHint } from '../../src/registry/index.js';
import { errorCatalogue } from '../../src/tools/error-catalogue.js';
import { errorOut } from '../../src/tools/plugin-tools/sandbox.js';
import { UeeError } from '../../src/core/index.js';
import { makeEvent, openRuntime } from '../runtime/setup.js';
import { buildWat } from '../runtime/wat.js';
import { DEFAULT_FILTER_LIMITS } from '../../src/store/index.js';
import { CLI_OPTIONS } from '../../src/cli/options.js';

/**
 * Hints must name settings that exist. Every hint, message and document an agent or operator reads
 * is scanned for setting paths — `maximumResourceBudget.<field>`, `context.budget…`, environment
 * variables `UEE_…`, filter limits — and each is checked against the manifest schema and the
 * configuration, so a hint pointing at a setting nobody can set fails here.
 */

const ROOT = new URL('../../', import.meta.url).pathname;

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path, ext));
    else if (ext.test(name)) out.push(path);
  }
  return out;
}

/** Everything user-facing: source (hints, messages, tool descriptions, the error catalogue), docs, README. */
const SURFACES: Array<{ file: string; text: string }> = [
  ...files(join(ROOT, 'src'), /\.ts$/),
  ...files(join(ROOT, 'docs'), /\.md$/),
  join(ROOT, 'README.md'),
].map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }));
SURFACES.push({ file: 'error catalogue', text: JSON.stringify(errorCatalogue()) });

/**
 * Environment variables something actually reads: the config's tables (every `'UEE_…'` literal in
 * src/config), direct environment reads in the source, the tests, the benches, the evals and the scripts (test-only variables such as a
 * PostgreSQL URL). `UEE_INIT_ERROR` is the JS engine's stderr marker and `UEE_EXPORT` the C SDK's export macro, not variables.
 */
const ENV_NAMES = new Set<string>([...Object.values(SETTING_ENV), ...Object.values(MCP_SETTING_ENV), 'UEE_INIT_ERROR', 'UEE_EXPORT']);
for (const file of files(join(ROOT, 'src', 'config'), /\.ts$/)) {
  for (const m of readFileSync(file, 'utf8').matchAll(/['"](UEE_[A-Z0-9_]+)['"]/g)) ENV_NAMES.add(m[1]!);
}
// The engine patches' C macros and named patch blocks (`UEE_PERF_FMOD`, `UEE_RE_HAS_INDICES`, …) are C names, not variables.
for (const file of files(join(ROOT, 'src', 'compiler'), /^engine-patch.*\.ts$/)) {
  for (const m of readFileSync(file, 'utf8').matchAll(/\b(UEE_[A-Z0-9_]*[A-Z0-9])\b/g)) ENV_NAMES.add(m[1]!);
}
for (const file of ['src', 'test', 'bench', 'evals', 'scripts'].flatMap((dir) => files(join(ROOT, dir), /\.ts$/))) {
  // `process.env.X`, `env.X` where `env` is the environment handed in (evals), and `env['X']`.
  for (const m of readFileSync(file, 'utf8').matchAll(/\benv(?:\.|\[')(UEE_[A-Z0-9_]+)/g)) ENV_NAMES.add(m[1]!);
}

function occurrences(pattern: RegExp): Array<{ file: string; match: string; name: string }> {
  const out: Array<{ file: string; match: string; name: string }> = [];
  for (const { file, text } of SURFACES) for (const m of text.matchAll(pattern)) out.push({ file, match: m[0], name: m[1] ?? m[0] });
  return out;
}

describe('hints name settings that exist', () => {
  it('HINT-1 every maximumResourceBudget.<field> mentioned is a field of the manifest schema', () => {
    const found = occurrences(/maximumResourceBudget\.([A-Za-z]+)/g);
    expect(found.length).toBeGreaterThan(0);
    const bad = found.filter((o) => !RESOURCE_BUDGET_FIELDS.includes(o.name)).map((o) => `${o.file}: ${o.match}`);
    expect(bad).toEqual([]);
  });

  it('HINT-2 no hint or document names a context.budget field to set (the runtime never passes one)', () => {
    expect(occurrences(/context\.budget\.\w+/g).map((o) => `${o.file}: ${o.match}`)).toEqual([]);
  });

  it('HINT-3 every UEE_* environment variable mentioned is one the process reads', () => {
    const bad = occurrences(/\b(UEE_[A-Z0-9_]*[A-Z0-9])\b/g)
      .filter((o) => !ENV_NAMES.has(o.name))
      .map((o) => `${o.file}: ${o.match}`);
    expect([...new Set(bad)]).toEqual([]);
  });

  it('HINT-8 every command-line flag the configuration and the CLI name is one `uee` parses', () => {
    const sources = [...files(join(ROOT, 'src', 'config'), /\.ts$/), join(ROOT, 'src', 'cli', 'main.ts')];
    const named = sources.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/(?<![\w-])--([a-z][a-z-]*[a-z])\b/g)].map((m) => `${relative(ROOT, file)}: --${m[1]!}`));
    expect(named.length).toBeGreaterThan(10);
    expect([...new Set(named.filter((n) => !(n.split(': --')[1]! in CLI_OPTIONS)))]).toEqual([]);
  });

  it('HINT-4 filter limits named in docs and hints are fields of FilterLimits', () => {
    const names = new Set(Object.keys(DEFAULT_FILTER_LIMITS));
    const bad = occurrences(/\b(max(?:Steps\w+|Documents\w+|BytesExamined\w*|Scan[A-Z]\w*|Nodes\w*|ArrayItems\w*|StringLength\w*|RegexLength\w*|QueryMs\w*))\b/g)
      .filter((o) => !names.has(o.name))
      .map((o) => `${o.file}: ${o.match}`);
    expect([...new Set(bad)]).toEqual([]);
  });

  it('HINT-5 a budget hint names maximumResourceBudget only for fields a manifest can set', () => {
    for (const field of RESOURCE_BUDGET_FIELDS) expect(budgetHint(field)).toContain(`maximumResourceBudget.${field}`);
    for (const fixed of ['memoryBlocks', 'fuel', 'heapBytes', undefined]) expect(budgetHint(fixed)).not.toContain('maximumResourceBudget');
  });

  it('HINT-6 plugin_test hints for budget breaches on platform-fixed limits name no manifest field', () => {
    const fixed = errorOut(new UeeError('BUDGET_EXCEEDED', 'more than 30000 memory blocks in one call', { details: { limit: 'memoryBlocks' } }), { name: 'P' });
    expect(fixed.hint).not.toMatch(/maximumResourceBudget\.memoryBlocks/);
    const settable = errorOut(new UeeError('BUDGET_EXCEEDED', 'too many host calls', { details: { limit: 'hostCalls' } }), { name: 'P' });
    expect(settable.hint).toContain('maximumResourceBudget.hostCalls');
  });

  it('HINT-7 the JS engine’s fixed-budget failures reach users re-worded, naming only settings that exist', async () => {
    const rt = await openRuntime({ workers: 1 });
    try {
      for (const [code, engineText] of [
        ['FUEL_EXHAUSTED', 'the plugin ran out of fuel (interrupt budget): look for an unbounded loop or raise context.budget.fuel'],
        ['OUT_OF_MEMORY', 'the plugin exceeded its JS heap limit (context.budget.heapBytes): keep less data in memory'],
      ] as const) {
        const wasm = await buildWat('fail-with', { ERROR: JSON.stringify({ code, message: engineText }) });
        await rt.host.load({ id: code, name: code, version: '1', kind: 'event', capabilities: [], wasm });
        const r = await rt.host.invoke(code, { event: makeEvent('acme') });
        if (r.ok) throw new Error('expected a failure');
        expect(r.error.details.pluginCode).toBe(code);
        expect(`${r.error.message} ${r.error.hint ?? ''}`).not.toMatch(/context\.budget/);
        for (const m of `${r.error.hint ?? ''}`.matchAll(/maximumResourceBudget\.(\w+)/g)) expect(RESOURCE_BUDGET_FIELDS).toContain(m[1]);
      }
    } finally {
      await rt.close();
    }
  });
});
