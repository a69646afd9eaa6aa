/**
 * In-process type check of TypeScript plugin sources with the TypeScript compiler API, before the
 * (type-stripping) esbuild bundle runs. The program sees only:
 * - the user's files (in memory, under a virtual root),
 * - the SDK (`sdk/ts/*.ts`) as the module `uee:plugin`,
 * - the ES libs of what the engine and its standard library provide ({@link ENGINE_LIBS}: ES2023,
 *   the ES2024/2025 built-ins core-js adds, no SharedArrayBuffer/Atomics, no resizable buffers) plus
 *   the Web APIs of `engine/stdlib` ({@link GLOBALS}); no DOM, no `@types`: plugins have no ambient
 *   authority. test/compiler/stdlib.test.ts checks every declared global exists in the engine.
 * Options are `strict` with `noEmit`. The lib is read without its comments ({@link stripLibComments},
 * cached per TypeScript version under node_modules/.cache/uee/ and primed by `npm ci`): a third of
 * the text, so a fresh thread's first check parses it faster. Parsed lib and SDK `SourceFile`s are
 * cached per process, so a warm check only parses and checks the user's files. `typescript` is
 * imported lazily on first use.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type * as TS from 'typescript';
import { findRepoRoot } from './engine-build.js';
import { loadTypeScript } from './ts-loader.js';
import type { Diagnostic } from './types.js';

type Ts = typeof TS;

/** Virtual root of the user's files. */
const SRC_ROOT = '/uee-src/';
/** Virtual root of the SDK (`uee:plugin` resolves to its index.ts). */
const SDK_ROOT = '/uee-sdk/';
const SDK_INDEX = `${SDK_ROOT}index.ts`;
/** Globals the engine prelude defines for every plugin. */
const GLOBALS_FILE = `${SDK_ROOT}globals.d.ts`;
export const GLOBALS = `/** The engine's console: formats like Node's util.format and writes through the host \`log\` function. */
interface Console {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  trace(...data: unknown[]): void;
  dir(item?: unknown, options?: { depth?: number | null }): void;
  table(...data: unknown[]): void;
  assert(condition?: boolean, ...data: unknown[]): void;
  count(label?: string): void;
  countReset(label?: string): void;
  group(...data: unknown[]): void;
  groupCollapsed(...data: unknown[]): void;
  groupEnd(): void;
  time(label?: string): void;
  timeEnd(label?: string): void;
  timeLog(label?: string, ...data: unknown[]): void;
}
declare var console: Console;
interface TextEncoderEncodeIntoResult { read: number; written: number }
declare class TextEncoder {
  readonly encoding: 'utf-8';
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}
type URLSearchParamsInit = string | URLSearchParams | Record<string, string> | Iterable<[string, string]>;
declare class URLSearchParams implements Iterable<[string, string]> {
  constructor(init?: URLSearchParamsInit);
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  toString(): string;
  forEach(callback: (value: string, key: string, parent: URLSearchParams) => void): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
declare class URL {
  constructor(url: string | URL, base?: string | URL);
  static canParse(url: string | URL, base?: string | URL): boolean;
  static parse(url: string | URL, base?: string | URL): URL | null;
  hash: string; host: string; hostname: string; href: string; readonly origin: string; password: string;
  pathname: string; port: string; protocol: string; search: string; readonly searchParams: URLSearchParams;
  username: string;
  toString(): string;
  toJSON(): string;
}
declare class DOMException extends Error {
  constructor(message?: string, name?: string);
  readonly code: number;
}
declare function atob(data: string): string;
declare function btoa(data: string): string;
declare function structuredClone<T = unknown>(value: T, options?: { transfer?: unknown[] }): T;
declare function queueMicrotask(callback: () => void): void;
/** Random values drawn from the per-event seed (context.randomSeed): replays draw the same; not for secrets. */
declare var crypto: {
  getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T;
  randomUUID(): \`\${string}-\${string}-\${string}-\${string}-\${string}\`;
};
`;
/**
 * The ES lib files plugins are checked against: what the engine (QuickJS 2021-03-27 with BigInt) and
 * its standard library provide. Leaf files only, so no lib pulls in one that is left out.
 */
export const ENGINE_LIBS = [
  'es5', 'es2015.core', 'es2015.collection', 'es2015.generator', 'es2015.iterable', 'es2015.promise', 'es2015.proxy',
  'es2015.reflect', 'es2015.symbol', 'es2015.symbol.wellknown', 'es2016.array.include', 'es2017.object',
  'es2017.string', 'es2017.intl', 'es2017.typedarrays', 'es2018.asyncgenerator', 'es2018.asynciterable',
  'es2018.intl', 'es2018.promise', 'es2018.regexp', 'es2022.regexp', 'es2024.regexp', 'es2019.array', 'es2019.object', 'es2019.string', 'es2019.symbol',
  'es2019.intl', 'es2020.bigint', 'es2020.date', 'es2020.promise', 'es2020.string', 'es2020.symbol.wellknown',
  'es2020.intl', 'es2020.number', 'es2021.promise', 'es2021.string', 'es2021.weakref', 'es2021.intl', 'es2022.array',
  'es2022.error', 'es2022.intl', 'es2022.object', 'es2022.string', 'es2023.array', 'es2023.collection',
  'es2024.collection', 'es2024.object', 'es2024.promise', 'es2024.string', 'esnext.collection', 'esnext.iterator',
].map((l) => `lib.${l}.d.ts`);

const CHECKED = /\.(ts|tsx|mts|cts)$/;

let tsModule: Ts | undefined;
/** Cached parsed files (lib, SDK, globals), by virtual or absolute file name. */
const shared = new Map<string, TS.SourceFile>();
/** SDK sources by virtual file name, read once. */
let sdkSources: Map<string, string> | undefined;
let sdkRootSeen: string | undefined;

function loadTs(): Promise<Ts> {
  // not import(): typescript is CommonJS, and through a loader hook (tsx) its 9 MB source is re-read
  tsModule ??= loadTypeScript();
  return Promise.resolve(tsModule);
}

function compilerOptions(ts: Ts): TS.CompilerOptions {
  return {
    strict: true,
    noEmit: true,
    // ES2024: the syntax the engine parses (RegExp v flag; TypeScript gates regex flags on the target)
    target: ts.ScriptTarget.ES2024,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ENGINE_LIBS,
    types: [],
    allowJs: true,
    checkJs: false,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    noLib: false,
    useDefineForClassFields: true,
  };
}

function readSdk(sdkRoot: string): Map<string, string> {
  if (sdkSources && sdkRootSeen === sdkRoot) return sdkSources;
  const dir = join(sdkRoot, 'ts');
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) if (name.endsWith('.ts')) out.set(`${SDK_ROOT}${name}`, readFileSync(join(dir, name), 'utf8'));
  out.set(GLOBALS_FILE, GLOBALS);
  sdkSources = out;
  sdkRootSeen = sdkRoot;
  for (const key of [...shared.keys()]) if (key.startsWith(SDK_ROOT)) shared.delete(key);
  return out;
}

/**
 * A lib file's text without its comments (kept: `///` directives), which parses in less than half
 * the time (the lib is 490 KB, two thirds of it JSDoc). Types and declarations are untouched; only
 * positions inside lib files move, and lib diagnostics are never reported.
 */
export function stripLibComments(ts: Ts, text: string): string {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  const out: string[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    const token = scanner.getTokenText();
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia) {
      if (token.startsWith('///')) out.push(token);
    } else if (kind === ts.SyntaxKind.MultiLineCommentTrivia) out.push(' ');
    else out.push(token);
  }
  return out.join('');
}

let strippedLibs: Map<string, string> | undefined;

/**
 * The {@link ENGINE_LIBS} without comments, by file name: from `node_modules/.cache/uee/`
 * (keyed by the TypeScript version; `npm ci` primes it), else stripped now and cached there.
 */
function engineLibs(ts: Ts, libDir: string): Map<string, string> {
  if (strippedLibs) return strippedLibs;
  const file = join(findRepoRoot(), 'node_modules', '.cache', 'uee', `ts-libs-${ts.version}.json`);
  let texts: Record<string, string> | undefined;
  try {
    texts = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    if (ENGINE_LIBS.some((l) => typeof texts![l] !== 'string')) texts = undefined;
  } catch {
    texts = undefined;
  }
  if (texts === undefined) {
    texts = Object.fromEntries(ENGINE_LIBS.map((l) => [l, stripLibComments(ts, readFileSync(join(libDir, l), 'utf8'))]));
    try {
      mkdirSync(dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(temp, JSON.stringify(texts));
      renameSync(temp, file);
    } catch {
      // read-only install: strip again next process
    }
  }
  strippedLibs = new Map(Object.entries(texts).map(([l, t]) => [`${libDir}/${l}`, t]));
  return strippedLibs;
}

const toOptions = (v: TS.ScriptTarget | TS.CreateSourceFileOptions): TS.CreateSourceFileOptions => (typeof v === 'number' ? { languageVersion: v } : v);

const normal = (p: string): string => posix.normalize(p.replace(/\\/g, '/')).replace(/^\.?\//, '');

/** Result of {@link typeCheckTs}. */
export interface TypeCheckResult {
  /** Errors (and warnings) in the user's files, 1-based positions, `code` = `TS<number>`. */
  readonly diagnostics: readonly Diagnostic[];
  /** Wall time in ms. */
  readonly ms: number;
}

/** Hints for the TS errors agents hit most, keyed by code. */
const HINTS: Record<number, string> = {
  2307: 'Only relative imports between the given files, "uee:plugin" and declared npm dependencies resolve: declare the package in source.dependencies ({ "name": "range" }); Node modules are not available.',
  2304: 'Plugins see ES2023 built-ins, console, TextEncoder/TextDecoder, URL, atob/btoa, structuredClone, crypto and queueMicrotask (no DOM, no Node, no timers or fetch); import what you need from "uee:plugin".',
  2353: 'Remove or rename the property: the request types of "uee:plugin" are in sdk/ts/types.ts.',
  2561: 'Rename the property as suggested: the request types of "uee:plugin" are in sdk/ts/types.ts.',
  2551: 'Use the suggested name.',
  2339: 'Check the property name against the type (SDK types are in sdk/ts/types.ts), or narrow the value first.',
  2345: 'Pass a value of the parameter type (SDK types are in sdk/ts/types.ts), or convert it (String(x), Number(x)).',
  2322: 'Assign a value of the declared type (SDK types are in sdk/ts/types.ts), or convert it.',
  7006: 'Annotate the parameter, e.g. (input: HandleInput) with `import type { HandleInput } from "uee:plugin"`.',
  7031: 'Annotate the parameter, e.g. (input: HandleInput) with `import type { HandleInput } from "uee:plugin"`.',
  18048: 'Check for undefined first (if (x === undefined) …), or give a default with ??.',
  18047: 'Check for null first (if (x === null) …), or give a default with ??.',
};
const DEFAULT_HINT = 'Fix the type error and compile again (or pass typeCheck: false to skip the check).';

/**
 * Type-checks the TypeScript files reachable from `entry` (a `.ts`/`.tsx`/`.mts` file). `.js` files
 * are read for their inferred types but not checked. Diagnostics of the SDK and lib are not reported.
 * `packages` (the compile's declared npm dependencies) resolve from `typesRoot` (the laid-out
 * `node_modules` tree) when they ship TypeScript declarations; otherwise they are untyped modules (`any`).
 */
export async function typeCheckTs(
  files: Record<string, string>,
  entry: string,
  sdkRoot: string,
  packages: readonly string[] = [],
  typesRoot?: string,
): Promise<TypeCheckResult> {
  const ts = await loadTs();
  const started = performance.now();
  const options = compilerOptions(ts);
  const sdk = readSdk(sdkRoot);
  const user = new Map<string, string>();
  for (const [k, v] of Object.entries(files)) user.set(SRC_ROOT + normal(k), v);
  const libDir = posix.dirname(ts.getDefaultLibFilePath(options).replace(/\\/g, '/'));
  const libs = engineLibs(ts, libDir);
  const typesDir = typesRoot === undefined ? undefined : `${typesRoot.replace(/\\/g, '/').replace(/\/$/, '')}/`;
  const inTypes = (f: string): boolean => typesDir !== undefined && f.startsWith(typesDir);
  const declares = (file: string | undefined): boolean => file !== undefined && /\.d\.[cm]?ts$/.test(file);
  // a package without declarations is an untyped module; the checker prefers an ambient declaration
  // over a resolved file, so only those get one
  const untyped = packages.filter(
    (p) => typesDir === undefined || !declares(ts.resolveModuleName(p, `${typesDir}index.ts`, options, ts.sys).resolvedModule?.resolvedFileName),
  );
  const depsFile = `${SRC_ROOT}__uee_npm_dependencies.d.ts`;
  const roots = untyped.length > 0 ? [depsFile] : [];
  if (untyped.length > 0) user.set(depsFile, untyped.map((p) => `declare module ${JSON.stringify(p)};\ndeclare module ${JSON.stringify(`${p}/*`)};\n`).join(''));
  const contents = (fileName: string): string | undefined => {
    const f = fileName.replace(/\\/g, '/');
    if (inTypes(f)) return ts.sys.readFile(f);
    return user.get(f) ?? sdk.get(f) ?? (f.startsWith(`${libDir}/`) ? (libs.get(f) ?? ts.sys.readFile(f)) : undefined);
  };
  const host: TS.CompilerHost = {
    getSourceFile(fileName, languageVersion) {
      const f = fileName.replace(/\\/g, '/');
      const isUser = user.has(f);
      if (!isUser) {
        const cached = shared.get(f);
        if (cached) return cached;
      }
      const text = contents(f);
      if (text === undefined) return undefined;
      // JSDoc never changes a TypeScript file's type errors; not parsing it saves ~15% of the lib parse
      const sf = ts.createSourceFile(f, text, { ...toOptions(languageVersion), jsDocParsingMode: ts.JSDocParsingMode.ParseForTypeErrors }, false);
      if (!isUser) shared.set(f, sf);
      return sf;
    },
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    getDefaultLibLocation: () => libDir,
    writeFile: () => undefined,
    getCurrentDirectory: () => SRC_ROOT,
    getDirectories: () => [],
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (f) => contents(f) !== undefined,
    readFile: (f) => contents(f),
    directoryExists: (d) => {
      const dir = d.replace(/\\/g, '/').replace(/\/?$/, '/');
      if (typesDir !== undefined && (dir.startsWith(typesDir) || typesDir.startsWith(dir))) return ts.sys.directoryExists(dir);
      return dir === SRC_ROOT || dir === SDK_ROOT || [...user.keys()].some((k) => k.startsWith(dir)) || dir.startsWith(`${libDir}/`);
    },
    resolveModuleNameLiterals(literals, containingFile, _redirect, opts) {
      return literals.map((lit) => {
        if (lit.text === 'uee:plugin') {
          return { resolvedModule: { resolvedFileName: SDK_INDEX, extension: ts.Extension.Ts, isExternalLibraryImport: false } };
        }
        // relative imports resolve (like the bundler); bare names only into the npm tree, and only to
        // declarations (a package without them is the ambient untyped module); others stay TS2307
        if (!lit.text.startsWith('.') && !lit.text.startsWith('/')) {
          if (typesDir === undefined || (inTypes(containingFile) === false && !packages.some((p) => lit.text === p || lit.text.startsWith(`${p}/`)))) {
            return { resolvedModule: undefined };
          }
          const r = ts.resolveModuleName(lit.text, inTypes(containingFile) ? containingFile : `${typesDir}index.ts`, opts, host);
          const file = r.resolvedModule?.resolvedFileName ?? '';
          return declares(file) ? r : { resolvedModule: undefined };
        }
        return ts.resolveModuleName(lit.text, containingFile, opts, host);
      });
    },
  };
  const entryName = SRC_ROOT + normal(entry);
  const program = ts.createProgram({ rootNames: [entryName, GLOBALS_FILE, ...roots], options, host });
  const found: TS.Diagnostic[] = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const sf of program.getSourceFiles()) {
    if (!user.has(sf.fileName) || !CHECKED.test(sf.fileName)) continue;
    found.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
  }
  const diagnostics = found
    .filter((d) => d.category === ts.DiagnosticCategory.Error || d.category === ts.DiagnosticCategory.Warning)
    .filter((d) => d.file === undefined || user.has(d.file.fileName))
    .map((d) => toDiagnostic(ts, d));
  return { diagnostics, ms: Math.round((performance.now() - started) * 10) / 10 };
}

function toDiagnostic(ts: Ts, d: TS.Diagnostic): Diagnostic {
  let message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  const related = d.relatedInformation?.find((r) => r.file && r.start !== undefined);
  if (related?.file && related.start !== undefined) {
    const at = related.file.getLineAndCharacterOfPosition(related.start);
    const where = related.file.fileName.startsWith(SDK_ROOT)
      ? `sdk/ts/${related.file.fileName.slice(SDK_ROOT.length)}`
      : related.file.fileName.slice(SRC_ROOT.length);
    message += `\n  ${where}:${at.line + 1}:${at.character + 1}: ${ts.flattenDiagnosticMessageText(related.messageText, '\n  ')}`;
  }
  const base = {
    severity: d.category === ts.DiagnosticCategory.Warning ? ('warning' as const) : ('error' as const),
    code: `TS${d.code}`,
    message,
    hint: HINTS[d.code] ?? DEFAULT_HINT,
  };
  if (!d.file || d.start === undefined) return base;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const lineStarts = d.file.getLineStarts();
  const end = line + 1 < lineStarts.length ? lineStarts[line + 1] : d.file.text.length;
  const lineText = d.file.text.slice(lineStarts[line], end).replace(/\r?\n$/, '');
  return { ...base, file: d.file.fileName.slice(SRC_ROOT.length), line: line + 1, col: character + 1, lineText };
}
