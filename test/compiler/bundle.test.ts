import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { bundleJs } from '../../src/compiler/bundle-js.js';
import { entryWrapper } from '../../src/compiler/js-prelude.js';

const SDK_ROOT = fileURLToPath(new URL('../../sdk', import.meta.url));

describe('bundling a JS plugin', () => {
  it('BUNDLE-1 warnings name only the author’s files, once each: an event plugin without infer (or a model plugin without handle) gets none from the generated entry', async () => {
    for (const [source, registered] of [
      ['export function handle(input) { return input; }', 'handle'],
      ['export function infer(input) { return input; }', 'infer'],
    ] as const) {
      const quiet = await bundleJs({ 'main.ts': source }, 'main.ts', SDK_ROOT, entryWrapper);
      expect(quiet.warnings).toEqual([]);
      expect(quiet.code).toContain(`r.${registered} = ${registered};`);
    }
    const noisy = await bundleJs({ 'main.ts': 'export function handle(i) { return i == -0 ? 1 : 2; }' }, 'main.ts', SDK_ROOT, entryWrapper);
    expect(noisy.warnings.map((w) => [w.file, w.line])).toEqual([['main.ts', 1]]);
  });
});
