/**
 * Bundles in-memory TS/JS files (ES modules) into one script for the engine with esbuild. Imports
 * resolve inside `files` (relative paths, with or without extension, `index.*`), plus `uee:plugin`
 * (the SDK runtime in `sdk/ts`), plus — when the compile declared npm dependencies — bare imports from
 * the `node_modules` tree `npm-deps.ts` laid out for them. Node built-ins are never reachable.
 */
import { isBuiltin } from 'node:module';
import { join, posix } from 'node:path';
import type { Message, Plugin } from 'esbuild';
import { build } from 'esbuild';
import type { Diagnostic } from './types.js';

const NS = 'uee-src';
const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '.jsx', '/index.ts', '/index.js'];
const WRAPPER = '\0uee-entry.js';

/** Result of bundling. */
export interface BundleResult {
  /** The IIFE script evaluated by the engine after its prelude (strict mode, names kept). */
  readonly code: string;
  /** Where each line of `code` came from, for stacks that name the author's files ({@link LineMap}). */
  readonly lineMap: LineMap;
  /** Names the entry module exports. */
  readonly entryExports: readonly string[];
  readonly warnings: readonly Diagnostic[];
}

/** Bundling failed; `diagnostics` say where. */
export class BundleError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file ?? ''}:${d.line ?? 0}:${d.col ?? 0}: ${d.message}`).join('\n'));
  }
}

const normal = (p: string): string => posix.normalize(p.replace(/\\/g, '/')).replace(/^\.?\//, '');

function toDiagnostic(m: Message, severity: Diagnostic['severity']): Diagnostic {
  const loc = m.location;
  const file = loc?.file.replace(`${NS}:`, '');
  let hint: string | undefined;
  const detail = m.detail as { uee?: string } | undefined;
  if (detail?.uee === 'not-pure') {
    hint = 'plugins run without Node built-ins: pick a pure-JS package (or one with a browser build)';
  } else if (/Could not resolve/.test(m.text)) {
    hint = 'Relative imports between the given files, "uee:plugin" and declared npm dependencies resolve: declare the package in source.dependencies ({ "name": "range" }) or add the code as a file.';
  }
  const note = m.notes[0]?.text;
  return {
    severity,
    ...(file ? { file } : {}),
    ...(loc ? { line: loc.line, col: loc.column + 1, lineText: loc.lineText } : {}),
    message: m.text,
    ...(detail?.uee === 'not-pure' ? { code: 'DEPENDENCY_NOT_PURE' } : {}),
    ...(hint ? { hint } : note ? { hint: note } : {}),
  };
}

/** Both passes bundle the author's files, so each of their warnings comes twice. */
function uniqueDiagnostics(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.file ?? ''}:${d.line ?? 0}:${d.col ?? 0}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const isBare = (p: string): boolean => !p.startsWith('.') && !p.startsWith('/') && !/^[a-z]+:/i.test(p.replace(/^node:/, ''));

function memoryPlugin(files: Record<string, string>, sdkEntry: string, wrapper: string | undefined, modulesRoot: string | undefined): Plugin {
  const find = (p: string): string | undefined => EXTENSIONS.map((e) => normal(p + e)).find((c) => c in files);
  const builtin = (spec: string, by: string): { errors: { text: string; detail: unknown }[] } => ({
    errors: [{ text: `"${spec}" is a Node built-in, which plugins do not have (imported by ${by})`, detail: { uee: 'not-pure', module: spec, importer: by } }],
  });
  const packageOf = (path: string): string => {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path.replace(/\\/g, '/'));
    return m?.[1] ?? path;
  };
  return {
    name: 'uee-memory',
    setup(b) {
      b.onResolve({ filter: /^uee:plugin$/ }, () => ({ path: sdkEntry }));
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.path === WRAPPER) return { path: WRAPPER, namespace: NS };
        if (args.namespace === 'file') {
          // inside the SDK or an npm package: normal resolution, Node built-ins refused
          if (modulesRoot !== undefined && args.importer.startsWith(modulesRoot) && isBare(args.path) && isBuiltin(args.path)) {
            return builtin(args.path, packageOf(args.importer));
          }
          return undefined;
        }
        const base = args.importer && args.importer !== WRAPPER ? posix.dirname(args.importer) : '';
        const isRelative = args.path.startsWith('.') || args.path.startsWith('/');
        if (!isRelative && args.kind !== 'entry-point' && modulesRoot !== undefined && isBare(args.path)) {
          if (isBuiltin(args.path)) return builtin(args.path, args.importer);
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: modulesRoot, importer: join(modulesRoot, 'plugin.js'), namespace: 'file' });
          if (r.errors.length > 0) {
            return { errors: [{ text: `Could not resolve "${args.path}" (not among the declared dependencies)` }] };
          }
          return { path: r.path, namespace: r.namespace, ...(r.sideEffects === false ? { sideEffects: false } : {}) };
        }
        const found = isRelative || args.kind === 'entry-point' ? find(posix.join(base, args.path)) : undefined;
        if (found === undefined) {
          return {
            errors: [{ text: `Could not resolve "${args.path}"${isRelative ? '' : ' (npm packages must be declared in dependencies)'}` }],
          };
        }
        return { path: found, namespace: NS };
      });
      b.onLoad({ filter: /.*/, namespace: NS }, (args) => {
        if (args.path === WRAPPER) return { contents: wrapper ?? '', loader: 'js', resolveDir: '/' };
        const ext = posix.extname(args.path);
        const loader = ext === '.ts' || ext === '.mts' ? 'ts' : ext === '.tsx' ? 'tsx' : ext === '.jsx' ? 'jsx' : 'js';
        return { contents: files[args.path] ?? '', loader };
      });
    },
  };
}

/**
 * Bundles `files` from `entry`. `wrapper(entry, exports)` is the generated entry that imports the user's and
 * registers its exports. Throws {@link BundleError} with positioned diagnostics.
 */
export async function bundleJs(
  files: Record<string, string>,
  entry: string,
  sdkRoot: string,
  wrapper: (entryPath: string, exports: readonly string[]) => string,
  modulesRoot?: string,
): Promise<BundleResult> {
  const normFiles: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) normFiles[normal(k)] = v;
  const entryPath = normal(entry);
  const sdkEntry = join(sdkRoot, 'ts', 'index.ts');
  const common = {
    bundle: true,
    write: false,
    platform: 'neutral',
    // QuickJS 2021-03-27 parses ES2020 (BigInt included); newer syntax is lowered by esbuild
    target: 'es2020',
    // class and function names survive bundling: two files' `class Item` stay "Item", not "Item2"
    keepNames: true,
    logLevel: 'silent',
    treeShaking: true,
    legalComments: 'none',
    charset: 'utf8',
    // npm packages: ESM builds first, then CommonJS (esbuild's neutral platform has no default)
    mainFields: ['module', 'main'] as string[],
    ...(modulesRoot === undefined ? {} : { define: { 'process.env.NODE_ENV': '"production"' } }),
  } as const;
  try {
    // pass 1: learn what the entry exports (the metafile lists exports of ESM outputs)
    const meta = await build({
      ...common,
      entryPoints: [entryPath],
      format: 'esm',
      metafile: true,
      plugins: [memoryPlugin(normFiles, sdkEntry, undefined, modulesRoot)],
    });
    const entryExports = Object.values(meta.metafile.outputs)[0]?.exports ?? [];
    // pass 2: the script the engine evaluates
    const out = await build({
      ...common,
      entryPoints: [WRAPPER],
      format: 'iife',
      // ES modules are strict; an IIFE script is not unless it says so
      banner: { js: "'use strict';" },
      sourcemap: 'external',
      sourcesContent: false,
      outdir: '/uee-out',
      plugins: [memoryPlugin(normFiles, sdkEntry, wrapper(`./${entryPath}`, entryExports), modulesRoot)],
    });
    const code = out.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
    const map = out.outputFiles.find((f) => f.path.endsWith('.map'))?.text;
    const lineMap = map ? lineMapOf(JSON.parse(map) as RawSourceMap, sdkRoot) : { sources: [], lines: [] };
    return { code, lineMap, entryExports, warnings: uniqueDiagnostics([...meta.warnings, ...out.warnings].map((w) => toDiagnostic(w, 'warning'))) };
  } catch (err) {
    const failure = err as { errors?: Message[]; warnings?: Message[] };
    if (Array.isArray(failure.errors)) {
      throw new BundleError([
        ...failure.errors.map((e) => toDiagnostic(e, 'error')),
        ...(failure.warnings ?? []).map((w) => toDiagnostic(w, 'warning')),
      ]);
    }
    throw err;
  }
}

/**
 * Per generated line of the bundle, the author's file and line it came from: `lines[i]` (line i+1 of
 * the bundle) is `source * 65536 + line`, or -1. QuickJS stacks name lines, not columns, so the first
 * mapped segment of each line is enough.
 */
export interface LineMap {
  readonly sources: readonly string[];
  readonly lines: readonly number[];
}

interface RawSourceMap {
  readonly sources: readonly string[];
  readonly mappings: string;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/** Reduces an esbuild source map to a {@link LineMap} with the author's file names. */
export function lineMapOf(map: RawSourceMap, sdkRoot: string): LineMap {
  const sdk = join(sdkRoot, 'ts').replace(/\\/g, '/');
  const sources = map.sources.map((s) => {
    const name = s.replace(/^.*uee-src:/, '');
    const abs = name.replace(/^(\.\.\/)+/, '/');
    if (abs.startsWith(sdk)) return `uee:plugin/${abs.slice(sdk.length + 1)}`;
    // an npm package: name it from its node_modules folder, not from the shared cache's path
    const nm = name.indexOf('node_modules/');
    return nm >= 0 ? name.slice(nm) : name;
  });
  const lines: number[] = [];
  let src = 0;
  let line = 0;
  for (const text of map.mappings.split(';')) {
    let first = -1;
    for (const seg of text.split(',')) {
      if (seg === '') continue;
      const f = decodeVlq(seg);
      if (f.length < 4) continue;
      src += f[1] ?? 0;
      line += f[2] ?? 0;
      if (first < 0) first = src * 65536 + line + 1;
    }
    lines.push(first);
  }
  return { sources, lines };
}

/** Host functions a bundle names (`Host.<name>`); a dynamic `Host[...]` access keeps them all. */
export function usedHostFunctions(code: string, all: readonly string[]): Set<string> {
  if (/\bHost\s*\[/.test(code)) return new Set(all);
  const used = new Set<string>();
  for (const m of code.matchAll(/\bHost\s*\.\s*([A-Za-z_$][\w$]*)/g)) if (m[1] && all.includes(m[1])) used.add(m[1]);
  if (/\bconsole\s*\./.test(code)) used.add('log');
  return used;
}
