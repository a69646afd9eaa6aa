/**
 * Builds the UEE JS engine (QuickJS + the Extism shim in `engine/src`) to wasm32-wasi and caches it
 * under `engine/build/<content-hash>/engine.wasm`. The hash covers every input: the shim, the QuickJS
 * sources, our patch, the flags and the toolchain, so a cached engine is never stale.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UeeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { LIBREGEXP_PATCH, QUICKJS_APPENDIX, QUICKJS_PATCH, applyPatch, patchLibbf, patchLibregexp, patchQuickjs } from './engine-patch.js';
import { LIBBF_PATCH, LIBREGEXP_SEMANTICS_PATCH, QUICKJS_SEMANTICS_PATCH } from './engine-patch-semantics.js';
import { LIBREGEXP_PERF_PATCH, QUICKJS_PERF_PATCH, patchLibregexpPerf, patchQuickjsPerf } from './engine-patch-perf.js';
import { QUICKJS_JSON_PATCH, patchQuickjsJson } from './engine-patch-json.js';
import { LIBREGEXP_REGEX_PATCH, QUICKJS_REGEX_PATCH, patchLibregexpRegex, patchQuickjsRegex } from './engine-patch-regex.js';
import type { CToolchain } from './engine-toolchain.js';
import { SYSROOTS, systemToolchain, yowaspToolchain } from './engine-toolchain.js';
import { readTargetFeatures } from '../core/wasm/index.js';
import { readStamp, writeStamp } from './input-stamp.js';
import { unicodePropsHeader } from './engine-unicode.js';
import { emojiStringsHeader } from './engine-emoji.js';
import { LIBREGEXP_CONFORMANCE_PATCH, QUICKJS_CONFORMANCE_PATCH } from './engine-patch-conformance.js';
import { QUICKJS_OPCODE_PATCH, QUICKJS_STRING_PATCH, patchQuickjsOpcodes, patchQuickjsString } from './engine-patch-string.js';
import { QUICKJS_SPEED_PATCH, patchQuickjsSpeed } from './engine-patch-speed.js';

/** QuickJS sources compiled into the engine (libbf for BigInt). */
const QUICKJS_FILES = ['quickjs.c', 'libregexp.c', 'libunicode.c', 'cutils.c', 'libbf.c'] as const;
const QUICKJS_HEADERS = [
  'quickjs.h', 'quickjs-atom.h', 'quickjs-opcode.h', 'cutils.h', 'list.h', 'libregexp.h', 'libregexp-opcode.h',
  'libunicode.h', 'libunicode-table.h', 'libbf.h', 'VERSION',
] as const;
const QUICKJS_DIR = 'node_modules/qjsc/deps/quickjs_2021_03_27';
const SHIM_FILES = ['uee-shim.c'] as const;

/** Compile flags for every C file. */
export const ENGINE_CFLAGS = [
  '-O2', '-D_GNU_SOURCE', '-DCONFIG_VERSION="2021-03-27"', '-DCONFIG_BIGNUM', '-D_WASI_EMULATED_SIGNAL', '-fno-strict-aliasing',
  '-Wno-everything',
] as const;
/**
 * Link flags: a reactor without crt1 (the shim calls the constructors), a 4 MiB shadow stack (the
 * shim lets JS use 3.5 MiB of it: ~13,000 frames of plain recursion, as Node 20 allows ~11,000-14,000;
 * the host's V8 stack must hold the same frames: the runtime's workers get 16 MB).
 */
export const ENGINE_LDFLAGS = ['-nostartfiles', '-Wl,--no-entry', '-Wl,-z,stack-size=4194304', '-Wl,--strip-debug'] as const;

/** A built engine on disk. */
export interface EngineArtifact {
  /** Content hash of every build input (hex, 16 chars). */
  readonly hash: string;
  /** Path of the engine module. */
  readonly wasmPath: string;
  /** Wasm features the objects use, from the module's `target_features` section. */
  readonly features: readonly string[];
  /** The toolchain that built it. */
  readonly toolchain: string;
  /** Build wall time in ms (0 when it came from the cache). */
  readonly buildMs: number;
}

/** The repository root: the nearest ancestor holding `engine/src/uee-shim.c`. */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'engine', 'src', 'uee-shim.c'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new UeeError('INTERNAL', 'cannot find the UEE repository root (engine/src/uee-shim.c)');
    dir = up;
  }
}

interface Sources {
  readonly files: Record<string, string>;
  readonly hashInput: string;
}

async function loadSources(root: string): Promise<Sources> {
  const files: Record<string, string> = {};
  const qdir = join(root, QUICKJS_DIR);
  if (!existsSync(qdir)) {
    throw new UeeError('INTERNAL', `QuickJS sources not found at ${QUICKJS_DIR}`, { hint: 'Run npm ci (package qjsc).' });
  }
  for (const f of [...QUICKJS_FILES, ...QUICKJS_HEADERS]) files[f] = await readFile(join(qdir, f), 'utf8');
  files['quickjs.c'] = patchQuickjsSpeed(patchQuickjsString(applyPatch(patchQuickjsRegex(patchQuickjsJson(patchQuickjsPerf(patchQuickjs(files['quickjs.c'] ?? '')))), QUICKJS_CONFORMANCE_PATCH)));
  files['quickjs-opcode.h'] = patchQuickjsOpcodes(files['quickjs-opcode.h'] ?? '');
  files['libregexp.c'] = applyPatch(patchLibregexpRegex(patchLibregexpPerf(patchLibregexp(files['libregexp.c'] ?? ''))), LIBREGEXP_CONFORMANCE_PATCH);
  files['libbf.c'] = patchLibbf(files['libbf.c'] ?? '');
  files['uee-unicode-props.h'] = unicodePropsHeader(root, files['libunicode-table.h'] ?? '');
  files['uee-emoji-strings.h'] = emojiStringsHeader(root);
  for (const f of SHIM_FILES) files[f] = await readFile(join(root, 'engine', 'src', f), 'utf8');
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) h.update(name).update('\0').update(files[name] ?? '').update('\0');
  h.update(JSON.stringify([ENGINE_CFLAGS, ENGINE_LDFLAGS, QUICKJS_PATCH.length, LIBREGEXP_PATCH.length, QUICKJS_APPENDIX]));
  return { files, hashInput: h.digest('hex') };
}

/** Picks the toolchain: system clang-16 when usable, else @yowasp/clang. */
export async function pickToolchain(root: string): Promise<CToolchain> {
  return (await systemToolchain(join(root, 'engine', 'build', 'tmp-system'))) ?? (await yowaspToolchain(root));
}

function engineDir(root: string, hash: string): string {
  return join(root, 'engine', 'build', hash);
}

/** Options for {@link buildEngine} and {@link ensureEngine}. */
export interface EngineBuildOptions {
  /** Repository root. @default found from this file's location */
  root?: string;
  /** Progress lines. @default silentLogger */
  logger?: Logger;
  /** Rebuild even when cached. @default false */
  force?: boolean;
}

async function readCached(root: string, hash: string): Promise<EngineArtifact | undefined> {
  const dir = engineDir(root, hash);
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Omit<EngineArtifact, 'wasmPath' | 'buildMs'>;
    await stat(join(dir, 'engine.wasm'));
    return { ...meta, wasmPath: join(dir, 'engine.wasm'), buildMs: 0 };
  } catch {
    return undefined;
  }
}

/** Content hash of the engine that {@link buildEngine} would produce on this machine. */
export async function engineHash(root: string = findRepoRoot()): Promise<{ hash: string; toolchain: CToolchain; sources: Sources }> {
  const sources = await loadSources(root);
  const toolchain = await pickToolchain(root);
  const hash = createHash('sha256').update(sources.hashInput).update(toolchain.id).digest('hex').slice(0, 16);
  return { hash, toolchain, sources };
}

/** What {@link pickToolchain} decides on, without running anything: where clang-16 and a wasi sysroot are. */
function toolchainProbe(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  return [...dirs.map((d) => join(d, 'clang-16')), ...SYSROOTS].filter((p) => existsSync(p));
}

/**
 * {@link engineHash} without reading and hashing the sources when nothing changed since the last
 * time (an input stamp: sizes and mtimes of the sources and the toolchain's files, the in-code flags
 * and patch, PATH). Saves ~0.2 s of CPU per process; a miss recomputes from content.
 */
export async function engineHashQuick(root: string = findRepoRoot()): Promise<string> {
  const stampPath = join(root, 'engine', 'build', 'hash.stamp.json');
  const salt = createHash('sha256')
    .update(JSON.stringify([root, ENGINE_CFLAGS, ENGINE_LDFLAGS, QUICKJS_PATCH, LIBREGEXP_PATCH, QUICKJS_SEMANTICS_PATCH, LIBREGEXP_SEMANTICS_PATCH, LIBBF_PATCH, QUICKJS_PERF_PATCH, LIBREGEXP_PERF_PATCH, QUICKJS_JSON_PATCH, QUICKJS_REGEX_PATCH, LIBREGEXP_REGEX_PATCH, QUICKJS_CONFORMANCE_PATCH, LIBREGEXP_CONFORMANCE_PATCH, QUICKJS_STRING_PATCH, QUICKJS_OPCODE_PATCH, QUICKJS_SPEED_PATCH, QUICKJS_APPENDIX, toolchainProbe(), process.versions.unicode, process.versions.icu]))
    .digest('hex');
  const inputs = [
    ...[...QUICKJS_FILES, ...QUICKJS_HEADERS].map((f) => join(root, QUICKJS_DIR, f)),
    ...SHIM_FILES.map((f) => join(root, 'engine', 'src', f)),
    join(root, 'node_modules', '@yowasp', 'clang', 'package.json'),
  ];
  const stamped = readStamp<string>(stampPath, salt, inputs);
  if (stamped !== undefined) return stamped;
  const { hash } = await engineHash(root);
  writeStamp(stampPath, salt, inputs, hash);
  return hash;
}

/** Builds the engine in this process (minutes with @yowasp/clang; blocks the event loop meanwhile). */
export async function buildEngine(options: EngineBuildOptions = {}): Promise<EngineArtifact> {
  const root = options.root ?? findRepoRoot();
  const log = options.logger ?? silentLogger;
  const { hash, toolchain, sources } = await engineHash(root);
  if (!options.force) {
    const cached = await readCached(root, hash);
    if (cached) return cached;
  }
  const started = Date.now();
  const objects: Record<string, Uint8Array> = {};
  // objects are cached by their own inputs, so editing the shim does not recompile QuickJS
  const headers = Object.keys(sources.files).filter((f) => !f.endsWith('.c')).sort();
  const objDir = join(root, 'engine', 'build', 'objects');
  await mkdir(objDir, { recursive: true });
  for (const file of [...SHIM_FILES, ...QUICKJS_FILES]) {
    const h = createHash('sha256').update(toolchain.id).update(JSON.stringify(ENGINE_CFLAGS)).update(sources.files[file] ?? '');
    for (const name of headers) h.update(name).update(sources.files[name] ?? '');
    const objPath = join(objDir, `${file}-${h.digest('hex').slice(0, 16)}.o`);
    const cachedObj = options.force ? undefined : await readFile(objPath).catch(() => undefined);
    if (cachedObj) {
      objects[`${file}.o`] = new Uint8Array(cachedObj);
      continue;
    }
    const t0 = Date.now();
    const obj = await toolchain.compile(sources.files, file, ENGINE_CFLAGS);
    await writeFile(objPath, obj);
    objects[`${file}.o`] = obj;
    log.info('engine: compiled', { file, ms: Date.now() - t0, toolchain: toolchain.id });
  }
  const wasm = await toolchain.link(objects, ENGINE_LDFLAGS);
  const features = readTargetFeatures(wasm);
  const dir = engineDir(root, hash);
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  const meta = { hash, features, toolchain: toolchain.id };
  await writeFile(join(tmp, 'engine.wasm'), wasm);
  await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const buildMs = Date.now() - started;
  log.info('engine: built', { hash, bytes: wasm.length, ms: buildMs, features });
  return { ...meta, wasmPath: join(dir, 'engine.wasm'), buildMs };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Returns the cached engine, building it first when missing. The build runs in a child process
 * (`node --import tsx engine/build.ts`) under a lock file, so concurrent callers (test workers,
 * several compilers) build once and the caller's event loop stays free. `onBuild` is called when the
 * engine is not cached (it is being built, here or by another process).
 */
export async function ensureEngine(
  options: EngineBuildOptions & { timeoutMs?: number; onBuild?: () => void } = {},
): Promise<EngineArtifact> {
  const root = options.root ?? findRepoRoot();
  const hash = await engineHashQuick(root);
  const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
  for (;;) {
    const cached = await readCached(root, hash);
    if (cached) return cached;
    options.onBuild?.();
    await mkdir(join(root, 'engine', 'build'), { recursive: true });
    const lockPath = join(root, 'engine', 'build', `${hash}.lock`);
    let lock;
    try {
      lock = await open(lockPath, 'wx');
    } catch {
      const age = Date.now() - (await stat(lockPath).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 30 * 60_000) await rm(lockPath, { force: true });
      if (Date.now() > deadline) throw new UeeError('TIMEOUT', 'timed out waiting for another engine build');
      await sleep(1000);
      continue;
    }
    try {
      await new Promise<void>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', join(root, 'engine', 'build.ts')],
          { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: Math.max(1000, deadline - Date.now()) },
          (err, _stdout, stderr) => {
            if (err) {
              reject(new UeeError('INTERNAL', 'engine build failed', { details: { stderr: stderr.slice(-4000) }, cause: err }));
            } else resolve();
          },
        );
      });
    } finally {
      await lock.close();
      await rm(lockPath, { force: true });
    }
    const built = await readCached(root, hash);
    if (built) return built;
    throw new UeeError('INTERNAL', 'engine build finished without producing the engine', { details: { hash } });
  }
}

let shared: Promise<EngineArtifact> | undefined;
let sharedReady: EngineArtifact | undefined;
let building = false;
const buildListeners = new Set<() => void>();

/**
 * Calls `listener` if and when the shared engine turns out to need a build (at once when a build is
 * under way). Returns a function that removes the listener.
 */
export function onEngineBuild(listener: () => void): () => void {
  if (building) {
    listener();
    return () => undefined;
  }
  buildListeners.add(listener);
  return () => buildListeners.delete(listener);
}

/**
 * The process-wide engine: one {@link ensureEngine} shared by every compile, started early by a
 * server ({@link warmCompiler}) so a missing engine is built in the background at start. A failed
 * build is forgotten, so the next caller tries again.
 */
export function sharedEngine(options: EngineBuildOptions = {}): Promise<EngineArtifact> {
  if (sharedReady) return Promise.resolve(sharedReady);
  shared ??= ensureEngine({
    ...options,
    onBuild: () => {
      building = true;
      for (const l of buildListeners) l();
      buildListeners.clear();
    },
  }).then(
    (engine) => {
      building = false;
      return (sharedReady = engine);
    },
    (err: unknown) => {
      building = false;
      shared = undefined;
      throw err;
    },
  );
  return shared;
}
