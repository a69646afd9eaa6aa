/**
 * NPM-*: npm packages in JS plugins. A compile declares dependencies (name → range); they are resolved
 * from a registry (a tiny one served by this test from tarballs made here, and once the real
 * registry.npmjs.org), verified, cached by content, bundled, and listed in the artifact report. Bad
 * cases fail with typed errors; cached packages compile without the network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import type { CompileJsOptions } from '../../src/compiler/index.js';
import { tempDir } from '../helpers.js';
import { FakeHost, load, sharedEngine } from './plugin-host.js';
import { startRegistry, tarball, type FakeRegistry } from './npm-registry.js';
import { untar } from '../../src/compiler/npm-deps.js';
import { gunzipSync } from 'node:zlib';

let registry: FakeRegistry;
/** Another origin serving a tarball that `registry`'s metadata points at. */
let fileHost: FakeRegistry;
const cache = tempDir('uee-npm-cache');

const OFFSITE = { files: { 'index.js': 'module.exports = "offsite";' }, main: 'index.js' };

beforeAll(async () => {
  fileHost = await startRegistry({ offsite: { '1.0.0': OFFSITE } });
  registry = await startRegistry({
    offsite: { '1.0.0': { ...OFFSITE, tarballBase: fileHost.url } },
    'pad-lite': {
      '1.0.0': { files: { 'index.js': "module.exports = (s, n) => String(s).padStart(n, '0'); module.exports.v = '1.0.0';" }, main: 'index.js' },
      '1.1.0': { files: { 'index.js': "module.exports = (s, n) => String(s).padStart(n, '0'); module.exports.v = '1.1.0';" }, main: 'index.js', license: 'ISC' },
    },
    greeter: {
      '2.0.0': {
        files: {
          'index.mjs': "import pad from 'pad-lite';\nexport const greet = (name, n) => `hello ${name} #${pad(n, 3)} (pad ${pad.v})`;\n",
          'index.cjs': 'throw new Error("the CommonJS build must not be picked");',
        },
        module: 'index.mjs',
        main: 'index.cjs',
        dependencies: { 'pad-lite': '^1.1.0' },
        license: 'Apache-2.0',
      },
    },
    'uses-fs': { '1.0.0': { files: { 'index.js': "const fs = require('fs'); module.exports = () => fs.readFileSync('/etc/passwd');" }, main: 'index.js' } },
    'has-install': { '1.0.0': { files: { 'index.js': 'module.exports = 1;' }, main: 'index.js', hasInstallScript: true } },
    huge: { '1.0.0': { files: { 'index.js': `module.exports = ${JSON.stringify('x'.repeat(300_000))};` }, main: 'index.js' } },
    evil: { '1.0.0': { files: { 'index.js': 'module.exports = 1;' }, main: 'index.js' } },
    'needs-evil': { '1.0.0': { files: { 'index.js': "module.exports = require('evil');" }, main: 'index.js', dependencies: { evil: '^1.0.0' } } },
    tampered: { '1.0.0': { files: { 'index.js': 'module.exports = "good";' }, main: 'index.js', tamper: true } },
    'typed-add': {
      '1.0.0': {
        files: { 'index.js': 'exports.add = (a, b) => a + b;', 'index.d.ts': 'export declare function add(a: number, b: number): number;\n' },
        main: 'index.js',
      },
    },
    'path-escape': { '1.0.0': { files: { 'index.js': 'module.exports = 1;' }, main: 'index.js', dependencies: { '../../../x': '1.0.0' } } },
  });
}, 60_000);
afterAll(async () => {
  await registry?.close();
  await fileHost?.close();
  cache[Symbol.dispose]();
});

const PLUGIN = `
import { greet } from 'greeter';
import pad from 'pad-lite';
export function handle(input) { return { greeting: greet(input.event.payload.name, 7), pad: pad.v + ':' + pad(5, 2) }; }
`;

async function compile(files: Record<string, string>, dependencies: Record<string, string>, npm: CompileJsOptions['npm'] = {}) {
  return compileJs({ files, entry: 'main.js', dependencies, npm: { registry: registry.url, cacheDir: cache.path, ...npm }, engine: await sharedEngine() });
}

async function run(wasm: Uint8Array, payload: unknown): Promise<unknown> {
  const loaded = await load(wasm, new FakeHost());
  try {
    const out = await loaded.call({ event: { type: 'T', payload } });
    if (!out.ok) throw new Error(`${out.error.code}: ${out.error.message}`);
    return out.output;
  } finally {
    await loaded.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; hint?: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string; hint?: string; details: Record<string, unknown> };
  }
  throw new Error('expected the compile to fail');
}

describe('npm dependencies from a local registry', () => {
  it('NPM-1 an ESM package with a dependency of its own and a CommonJS package are bundled and run; the report lists exact versions and licences', async () => {
    const { wasm, report } = await compile({ 'main.js': PLUGIN }, { greeter: '^2.0.0', 'pad-lite': '1.0.0' });
    // pad-lite 1.0.0 at the top for the plugin; greeter needs ^1.1.0, nested under it
    expect(await run(wasm, { name: 'ada' })).toEqual({ greeting: 'hello ada #007 (pad 1.1.0)', pad: '1.0.0:05' });
    expect(report.dependencies?.map(({ name, version, license }) => ({ name, version, license }))).toEqual([
      { name: 'greeter', version: '2.0.0', license: 'Apache-2.0' },
      { name: 'pad-lite', version: '1.0.0', license: 'MIT' },
      { name: 'pad-lite', version: '1.1.0', license: 'ISC' },
    ]);
    for (const d of report.dependencies ?? []) expect(d.integrity).toMatch(/^sha512-/);
    expect(report.timings.dependencies).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('NPM-2 not found: an unknown package, and a range no version satisfies', async () => {
    const missing = await rejection(compile({ 'main.js': "import x from 'no-such-pkg'; export const handle = () => x;" }, { 'no-such-pkg': '^1.0.0' }));
    expect(missing.code).toBe('DEPENDENCY_NOT_FOUND');
    expect(missing.hint).toMatch(/spelling/);
    const range = await rejection(compile({ 'main.js': "import p from 'pad-lite'; export const handle = () => p(1, 2);" }, { 'pad-lite': '^3.0.0' }));
    expect(range).toMatchObject({ code: 'DEPENDENCY_NOT_FOUND', details: { package: 'pad-lite', range: '^3.0.0', latest: '1.1.0' } });
    expect(range.hint).toContain('^1.1.0');
    const undeclared = await rejection(compile({ 'main.js': "import p from 'greeter'; export const handle = () => p;" }, { 'pad-lite': '^1.0.0' }));
    expect(undeclared.code).toBe('COMPILE_FAILED');
    expect(undeclared.message).toMatch(/greeter/);
  }, 60_000);

  it('NPM-3 denied: by the deny-list (also deep in the tree), and outside an allow-list', async () => {
    const denied = await rejection(compile({ 'main.js': "import e from 'evil'; export const handle = () => e;" }, { evil: '1.0.0' }, { deny: ['evil'] }));
    expect(denied).toMatchObject({ code: 'DEPENDENCY_DENIED', details: { package: 'evil' } });
    const deep = await rejection(compile({ 'main.js': "import e from 'needs-evil'; export const handle = () => e;" }, { 'needs-evil': '1.0.0' }, { deny: ['evil'] }));
    expect(deep).toMatchObject({ code: 'DEPENDENCY_DENIED', details: { package: 'evil', requiredBy: 'needs-evil@1.0.0' } });
    const notAllowed = await rejection(compile({ 'main.js': "import e from 'evil'; export const handle = () => e;" }, { evil: '1.0.0' }, { allow: ['pad-lite', '@acme/*'] }));
    expect(notAllowed).toMatchObject({ code: 'DEPENDENCY_DENIED', details: { allowed: ['pad-lite', '@acme/*'] } });
    expect(notAllowed.hint).toContain('pad-lite');
  }, 60_000);

  it('NPM-4 too large: unpacked bytes over the limit, and more packages than allowed', async () => {
    const big = await rejection(compile({ 'main.js': "import h from 'huge'; export const handle = () => h.length;" }, { huge: '1.0.0' }, { maxBytes: 100_000 }));
    expect(big).toMatchObject({ code: 'DEPENDENCY_TOO_LARGE', details: { limit: 'bytes', package: 'huge' } });
    const many = await rejection(compile({ 'main.js': PLUGIN }, { greeter: '^2.0.0' }, { maxPackages: 1 }));
    expect(many).toMatchObject({ code: 'DEPENDENCY_TOO_LARGE', details: { limit: 'packages' } });
  }, 60_000);

  it('NPM-5 not pure: a package importing a Node built-in, a package with an install script; a tampered tarball is CORRUPT_DATA', async () => {
    const fs = await rejection(compile({ 'main.js': "import f from 'uses-fs'; export const handle = () => f();" }, { 'uses-fs': '1.0.0' }));
    expect(fs.code).toBe('DEPENDENCY_NOT_PURE');
    expect(fs.message).toMatch(/"fs" is a Node built-in.*uses-fs/);
    const install = await rejection(compile({ 'main.js': "import f from 'has-install'; export const handle = () => f;" }, { 'has-install': '1.0.0' }));
    expect(install).toMatchObject({ code: 'DEPENDENCY_NOT_PURE', details: { package: 'has-install' } });
    const tampered = await rejection(compile({ 'main.js': "import t from 'tampered'; export const handle = () => t;" }, { tampered: '1.0.0' }));
    expect(tampered).toMatchObject({ code: 'CORRUPT_DATA', details: { package: 'tampered' } });
    // a registry naming a dependency that would become a path outside the cache
    const escape = await rejection(compile({ 'main.js': "import t from 'path-escape'; export const handle = () => t;" }, { 'path-escape': '1.0.0' }));
    expect(escape).toMatchObject({ code: 'CORRUPT_DATA', details: { package: '../../../x', requiredBy: 'path-escape@1.0.0' } });
  }, 60_000);

  it('NPM-6 offline: cached packages compile with the registry unreachable; an uncached one is REGISTRY_UNAVAILABLE', async () => {
    const online = await compile({ 'main.js': PLUGIN }, { greeter: '^2.0.0', 'pad-lite': '1.0.0' });
    const dead = 'http://127.0.0.1:9'; // discard port: connection refused
    const offline = await compile({ 'main.js': PLUGIN }, { greeter: '^2.0.0', 'pad-lite': '1.0.0' }, { registry: dead });
    expect(offline.report.dependencies).toEqual(online.report.dependencies);
    expect(await run(offline.wasm, { name: 'bo' })).toEqual({ greeting: 'hello bo #007 (pad 1.1.0)', pad: '1.0.0:05' });
    const uncached = await rejection(compile({ 'main.js': "import e from 'evil'; export const handle = () => e;" }, { evil: '1.0.0' }, { registry: dead }));
    expect(uncached).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true });
    expect(uncached.hint).toMatch(/cached/);
  }, 60_000);

  it('NPM-10 a tarball the metadata places on another origin is DEPENDENCY_DENIED before any request to it, unless the operator allows that origin', async () => {
    const files = { 'main.js': "import o from 'offsite'; export const handle = () => o;" };
    const denied = await rejection(compile(files, { offsite: '1.0.0' }));
    expect(denied).toMatchObject({ code: 'DEPENDENCY_DENIED', details: { package: 'offsite', tarballOrigin: fileHost.url, allowedOrigins: [registry.url] } });
    expect(denied.hint).toContain('UEE_NPM_TARBALL_ORIGINS');
    expect(fileHost.hits.filter((h) => h.endsWith('.tgz'))).toEqual([]);
    const allowed = await compile(files, { offsite: '1.0.0' }, { tarballOrigins: [fileHost.url] });
    expect(await run(allowed.wasm, {})).toBe('offsite');
    expect(fileHost.hits.filter((h) => h.endsWith('.tgz'))).toEqual(['/offsite/-/offsite-1.0.0.tgz']);
  }, 60_000);

  it('NPM-8 a tarball entry that leaves the package is CORRUPT_DATA; regular entries unpack without the package/ prefix', () => {
    expect([...untar(gunzipSync(tarball({ 'a.js': '1', 'lib/b.js': '2' })), 'x@1').keys()]).toEqual(['a.js', 'lib/b.js']);
    expect(() => untar(gunzipSync(tarball({ '../../evil.js': 'x' })), 'x@1')).toThrow(expect.objectContaining({ code: 'CORRUPT_DATA' }));
  });

  it('NPM-9 TypeScript sees a package\'s own declarations (a misuse is a type error); a package without them is untyped', async () => {
    const files = (call: string) => ({ 'main.ts': `import { add } from 'typed-add';\nimport pad from 'pad-lite';\nexport function handle(): string { return pad(${call}, 4); }\n` });
    const deps = { 'typed-add': '1.0.0', 'pad-lite': '1.1.0' };
    const ok = await compileJs({ files: files('add(1, 2)'), entry: 'main.ts', dependencies: deps, npm: { registry: registry.url, cacheDir: cache.path }, engine: await sharedEngine() });
    expect(await run(ok.wasm, {})).toBe('0003');
    const bad = await rejection(compileJs({ files: files("add(1, 'two')"), entry: 'main.ts', dependencies: deps, npm: { registry: registry.url, cacheDir: cache.path }, engine: await sharedEngine() }));
    expect(bad.code).toBe('COMPILE_FAILED');
    expect(bad.message).toMatch(/main\.ts:3:\d+: TS2345/);
  }, 60_000);

  it('NPM-7 invalid declarations are VALIDATION_FAILED naming the entry', async () => {
    const bad = await rejection(compile({ 'main.js': 'export const handle = () => 1;' }, { 'Bad Name': '1.0.0', ok: 'git+https://x/y.git' }));
    expect(bad.code).toBe('VALIDATION_FAILED');
    expect(bad.message).toMatch(/Bad Name/);
    expect(bad.message).toMatch(/git\+https/);
  });
});

describe('npm dependencies from the real registry (registry.npmjs.org; fails if unreachable)', () => {
  it('NPM-REAL-1 ms@^2.1.3 is fetched, verified, bundled and runs', async () => {
    const real = tempDir('uee-npm-real');
    try {
      const { wasm, report } = await compileJs({
        files: { 'main.js': "import ms from 'ms';\nexport function handle() { return { twoDays: ms('2 days'), short: ms(90_000) }; }" },
        entry: 'main.js',
        dependencies: { ms: '^2.1.3' },
        npm: { cacheDir: real.path },
        engine: await sharedEngine(),
      });
      expect(report.dependencies).toEqual([{ name: 'ms', version: expect.stringMatching(/^2\.1\.\d+$/), license: 'MIT', integrity: expect.stringMatching(/^sha512-/) }]);
      expect(await run(wasm, {})).toEqual({ twoDays: 172_800_000, short: '2m' });
    } finally {
      real[Symbol.dispose]();
    }
  }, 120_000);
});
