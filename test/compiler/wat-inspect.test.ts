/** WAT toolchain, uploaded-module validation, artifact reports and limits. */
import { describe, expect, it } from 'vitest';
import { compileJs, compileWat, inspectWasm, isUeeErrorLike } from './compile-helpers.js';
import { FakeHost, fixture, load } from './plugin-host.js';

describe('compileWat and inspectWasm', () => {
  it('WAT-1 compiles WAT, reports capabilities, and runs on Extism', async () => {
    const { wasm, report } = await compileWat({ source: await fixture('wat/echo-read.wat') });
    expect(report.language).toBe('wat');
    expect(report.hostFunctions).toEqual(['read_entity']);
    expect(report.capabilities).toEqual(['readEntities']);
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.memory).toEqual({ min: 1, max: 1024 });
    const host = new FakeHost();
    host.addEntity({ entityId: 'e1', version: 2 });
    const p = await load(wasm, host);
    // the WAT plugin passes its input through as the request
    expect(await p.call({ entityId: 'e1' })).toEqual({ ok: true, output: { ok: true, value: { entityId: 'e1', version: 2 } } });
    await p.close();
  });

  it('WAT-2 a WAT syntax error is reported with line and column', async () => {
    const err = await compileWat({ source: '(module\n  (func (export "handle") (result i32)\n    (i32.const)))\n' }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    const d = (err as { details: { diagnostics: { line: number; col: number }[] } }).details.diagnostics[0]!;
    expect(d.line).toBe(3);
    expect(d.col).toBeGreaterThan(0);
  });

  it('INSPECT-1 rejects WASI imports, unknown host functions and a missing entry export, listing each', async () => {
    const { wasm } = await compileWat({ source: await fixture('wat/echo-read.wat') });
    expect(inspectWasm(wasm).capabilities).toEqual(['readEntities']);
    const bad = await compileWat({
      source: `(module (import "extism:host/user" "read_entity" (func (param i64) (result i64))) (func (export "handle") (result i32) (i32.const 0)))`,
    });
    expect(bad.report.exports.map((e) => e.name)).toEqual(['handle']);
    const err = await compileWat({
      source: `(module (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
                       (import "extism:host/user" "launch_missiles" (func (param i64) (result i64)))
                       (func (export "run") (result i32) (i32.const 0)))`,
    }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    const messages = (err as { details: { diagnostics: { message: string }[] } }).details.diagnostics.map((d) => d.message);
    expect(messages.some((m) => m.includes('WASI'))).toBe(true);
    expect(messages.some((m) => m.includes('launch_missiles'))).toBe(true);
    expect(messages.some((m) => m.includes('neither handle nor infer'))).toBe(true);
    expect(() => inspectWasm(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrowError(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(() => inspectWasm(wasm, { maxBytes: 10 })).toThrowError(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
  });

  it('LIMIT-1 source size and entry are checked before any work', async () => {
    const big = await compileJs({ entry: 'main.ts', files: { 'main.ts': 'x'.repeat(2000) }, maxSourceBytes: 1000 }).catch((e: unknown) => e);
    expect(isUeeErrorLike(big, 'PAYLOAD_TOO_LARGE')).toBe(true);
    const noEntry = await compileJs({ entry: 'missing.ts', files: { 'main.ts': '' } }).catch((e: unknown) => e);
    expect(isUeeErrorLike(noEntry, 'VALIDATION_FAILED')).toBe(true);
  });
});
