/**
 * npm packages in JS plugins: a compile request declares pure-JS dependencies (name → version range);
 * this module resolves them (and theirs) from an npm registry into a shared, content-addressed cache
 * and lays them out as a `node_modules` tree that esbuild bundles with the plugin.
 *
 * - Resolution: the registry's abbreviated metadata (`GET <registry>/<name>`), the highest version
 *   satisfying the range (`semver`), npm-style placement (hoisted to the top unless another version is
 *   already there, then nested under the package that needs it).
 * - Tarballs are verified against the metadata's `dist.integrity` (sha512, or the sha1 `shasum`),
 *   unpacked in memory (gzip output capped, regular files only, no path escaping the package) into
 *   `<cacheDir>/pkg/<sha512 hex>/`, once per content. Install scripts never run: a package that
 *   declares one (`hasInstallScript`), ships a `binding.gyp` or `.node` binaries is refused as not pure.
 * - Tarballs come only from the registry's own origin (or an origin on the operator's
 *   `tarballOrigins`): a `dist.tarball` URL elsewhere in the metadata is refused before any request,
 *   so a registry (or a package published to a mirror) cannot point the server at an arbitrary host.
 * - Limits: packages in the tree, unpacked bytes of the tree; an operator allow-list (when non-empty,
 *   only matching names) and deny-list (`name` or `@scope/*`), applied to every package in the tree.
 * - Offline: when the registry cannot be reached, a range is resolved among the versions already in
 *   the cache, so a plugin whose packages were fetched once compiles without the network.
 *
 * Errors are `UeeError`s: `DEPENDENCY_NOT_FOUND`, `DEPENDENCY_DENIED`, `DEPENDENCY_TOO_LARGE`,
 * `DEPENDENCY_NOT_PURE`, `REGISTRY_UNAVAILABLE`, `CORRUPT_DATA` (integrity mismatch),
 * `VALIDATION_FAILED` (a name or range that is not one).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import semver from 'semver';
import { UeeError } from '../core/errors.js';

/** Where packages come from and what is allowed. */
export interface NpmSettings {
  /** Registry base URL. @default "https://registry.npmjs.org" */
  registry: string;
  /** Shared cache of unpacked packages and laid-out trees. @default `<os tmpdir>/uee-npm-cache` */
  cacheDir: string;
  /** When non-empty, only these packages (exact names or `@scope/*`) may be used. @default [] */
  allow: readonly string[];
  /** Packages (exact names or `@scope/*`) that may never be used. @default [] */
  deny: readonly string[];
  /** Packages in one plugin's tree, dependencies of dependencies included. @default 64 */
  maxPackages: number;
  /** Unpacked bytes of one plugin's tree (and of any one package). @default 16 MiB */
  maxBytes: number;
  /** Per registry request. @default 15000 */
  requestTimeoutMs: number;
  /**
   * Origins (`https://host[:port]`) tarballs may be fetched from besides the registry's own, for a
   * registry whose metadata points at a separate file host. @default []
   */
  tarballOrigins: readonly string[];
}

/** Defaults of {@link NpmSettings}. */
export const DEFAULT_NPM_SETTINGS: NpmSettings = {
  registry: 'https://registry.npmjs.org',
  cacheDir: join(tmpdir(), 'uee-npm-cache'),
  allow: [],
  deny: [],
  maxPackages: 64,
  maxBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 15_000,
  tarballOrigins: [],
};

/** One package of a resolved tree, as the artifact report lists it. */
export interface ResolvedPackage {
  readonly name: string;
  readonly version: string;
  /** SPDX expression from its package.json (`license`, or the old `licenses` list), or "UNKNOWN". */
  readonly license: string;
  /** Subresource-integrity string of the tarball (`sha512-…`). */
  readonly integrity: string;
  /** Unpacked bytes. */
  readonly bytes: number;
}

/** A laid-out dependency tree. */
export interface DependencyTree {
  /** Directory holding `node_modules/`; resolve the plugin's bare imports from here. */
  readonly root: string;
  /** Every package in the tree, sorted by name then version. */
  readonly packages: readonly ResolvedPackage[];
  /** Whether metadata came from the cache because the registry could not be reached. */
  readonly offline: boolean;
}

const NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;
const MAX_DECLARED = 32;

interface VersionMeta {
  version: string;
  dependencies?: Record<string, string>;
  hasInstallScript?: boolean;
  gypfile?: boolean;
  dist: { tarball: string; integrity?: string; shasum?: string; unpackedSize?: number };
}

interface Packument {
  name: string;
  'dist-tags'?: Record<string, string>;
  versions: Record<string, VersionMeta>;
}

/** What the cache keeps of an unpacked package (`.uee-package.json`). */
interface CachedPackage extends ResolvedPackage {
  readonly dependencies: Record<string, string>;
  readonly files: readonly string[];
}

/** Whether `name` matches one of `patterns` (exact, or `@scope/*`). */
export function matchesPackage(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p === name || (p.endsWith('/*') && name.startsWith(p.slice(0, -1))));
}

function validate(deps: Record<string, string>): void {
  const entries = Object.entries(deps);
  const issues: { path: string; message: string }[] = [];
  if (entries.length > MAX_DECLARED) issues.push({ path: 'dependencies', message: `at most ${MAX_DECLARED} dependencies` });
  for (const [name, range] of entries) {
    if (!NAME.test(name) || name.length > 214) issues.push({ path: `dependencies.${name}`, message: 'not an npm package name' });
    else if (!semver.validRange(range) && !/^[a-z][\w.-]*$/i.test(range)) {
      issues.push({ path: `dependencies.${name}`, message: `"${range}" is not a semver range or dist-tag (git, file and URL specs are not supported)` });
    }
  }
  if (issues.length > 0) {
    throw new UeeError('VALIDATION_FAILED', `invalid dependencies: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
      details: { issues },
      hint: 'declare dependencies as { "name": "semver range" }, e.g. { "ms": "^2.1.3" }',
    });
  }
}

function checkPolicy(name: string, settings: NpmSettings, requiredBy: string): void {
  const denied = matchesPackage(name, settings.deny);
  const notAllowed = settings.allow.length > 0 && !matchesPackage(name, settings.allow);
  if (denied || notAllowed) {
    throw new UeeError('DEPENDENCY_DENIED', `package "${name}"${requiredBy ? ` (required by ${requiredBy})` : ''} is ${denied ? 'on the operator\'s deny-list' : 'not on the operator\'s allow-list'}`, {
      details: { package: name, requiredBy: requiredBy || null, ...(settings.allow.length > 0 ? { allowed: [...settings.allow] } : {}) },
      hint: settings.allow.length > 0 ? `use one of the allowed packages: ${settings.allow.join(', ')}` : 'pick another package or write the code as a plugin file; the operator sets UEE_NPM_DENY',
    });
  }
}

const encodeName = (name: string): string => name.replace('/', '%2f');
const fileName = (name: string): string => name.replace('/', '+');

class Unreachable extends Error {}

async function fetchWithTimeout(url: string, settings: NpmSettings, accept?: string): Promise<Response> {
  try {
    return await fetch(url, {
      signal: AbortSignal.timeout(settings.requestTimeoutMs),
      ...(accept ? { headers: { accept } } : {}),
    });
  } catch (err) {
    throw new Unreachable(`${url}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
  }
}

function unavailable(settings: NpmSettings, what: string, reason: string): UeeError {
  return new UeeError('REGISTRY_UNAVAILABLE', `the npm registry ${settings.registry} could not be reached for ${what}: ${reason}`, {
    details: { registry: settings.registry, reason },
    hint: 'retry later; packages fetched once are cached and compile offline — or point UEE_NPM_REGISTRY at a reachable registry or mirror',
    retryable: true,
  });
}

/** Resolves, fetches and lays out `dependencies` (name → range); see the module comment. */
export async function resolveDependencies(dependencies: Record<string, string>, options: Partial<NpmSettings> = {}): Promise<DependencyTree> {
  const settings: NpmSettings = { ...DEFAULT_NPM_SETTINGS, ...options };
  validate(dependencies);
  const registry = settings.registry.replace(/\/+$/, '');
  const packuments = new Map<string, Packument | null>();
  let offline = false;

  const packument = async (name: string): Promise<Packument | null> => {
    if (packuments.has(name)) return packuments.get(name)!;
    let p: Packument | null;
    try {
      const res = await fetchWithTimeout(`${registry}/${encodeName(name)}`, settings, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8');
      if (res.status === 404) p = null;
      else if (!res.ok) throw new Unreachable(`HTTP ${res.status}`);
      else p = (await res.json()) as Packument;
    } catch (err) {
      if (!(err instanceof Unreachable)) throw unavailable(settings, name, err instanceof Error ? err.message : String(err));
      p = await cachedPackument(settings, name, err.message);
      offline = true;
    }
    packuments.set(name, p);
    return p;
  };

  interface Node {
    name: string;
    meta: CachedPackage;
    /** Path of its directory inside the tree, e.g. `node_modules/a/node_modules/b`. */
    path: string;
  }
  const placed = new Map<string, Node>(); // by path
  let totalBytes = 0;
  const queue: { name: string; range: string; parentPath: string; requiredBy: string }[] = Object.entries(dependencies)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, range]) => ({ name, range, parentPath: '', requiredBy: '' }));
  while (queue.length > 0) {
    const { name, range, parentPath, requiredBy } = queue.shift()!;
    // names and versions from the registry become cache paths: never trust their shape
    if (!NAME.test(name) || name.length > 214) {
      throw new UeeError('CORRUPT_DATA', `${requiredBy} depends on "${name}", which is not an npm package name`, {
        details: { package: name, requiredBy },
        hint: 'use another version of the package that requires it',
      });
    }
    checkPolicy(name, settings, requiredBy);
    // Already visible from the parent with a satisfying version: reuse it (node's lookup walks up).
    let reused = false;
    let conflict = false;
    for (let dir = parentPath; ; dir = parentDir(dir)) {
      const at = placed.get(join(dir, 'node_modules', name));
      if (at !== undefined) {
        if (satisfies(at.meta.version, range)) reused = true;
        else if (dir === '') conflict = true;
        break;
      }
      if (dir === '') break;
    }
    if (reused) continue;
    const meta = await fetchPackage(name, range, requiredBy, settings, registry, packument);
    const path = conflict || placed.has(join('node_modules', name)) ? join(parentPath, 'node_modules', name) : join('node_modules', name);
    placed.set(path, { name, meta, path });
    totalBytes += meta.bytes;
    if (placed.size > settings.maxPackages) {
      throw new UeeError('DEPENDENCY_TOO_LARGE', `the dependency tree has more than ${settings.maxPackages} packages (at ${name}@${meta.version})`, {
        details: { limit: 'packages', maxPackages: settings.maxPackages, package: name },
        hint: 'depend on fewer or smaller packages (each dependency brings its own); the operator sets UEE_NPM_MAX_PACKAGES',
      });
    }
    if (totalBytes > settings.maxBytes) {
      throw new UeeError('DEPENDENCY_TOO_LARGE', `the dependency tree unpacks to more than ${settings.maxBytes} bytes (at ${name}@${meta.version})`, {
        details: { limit: 'bytes', maxBytes: settings.maxBytes, package: name, bytes: totalBytes },
        hint: 'pick a smaller package or import only what you use from a smaller one; the operator sets UEE_NPM_MAX_BYTES',
      });
    }
    for (const [dep, depRange] of Object.entries(meta.dependencies).sort(([a], [b]) => a.localeCompare(b))) {
      queue.push({ name: dep, range: depRange, parentPath: path, requiredBy: `${name}@${meta.version}` });
    }
  }

  const nodes = [...placed.values()].sort((a, b) => a.path.localeCompare(b.path));
  const treeKey = createHash('sha256').update(JSON.stringify(nodes.map((n) => [n.path, n.meta.integrity]))).digest('hex').slice(0, 32);
  const root = join(settings.cacheDir, 'trees', treeKey);
  if (!existsSync(join(root, '.complete'))) {
    const tmp = `${root}.tmp-${process.pid}-${Date.now()}`;
    for (const n of nodes) {
      const src = packageDir(settings, n.meta.integrity);
      for (const f of n.meta.files) {
        const to = join(tmp, n.path, f);
        await mkdir(dirname(to), { recursive: true });
        await link(join(src, f), to).catch(async () => writeFile(to, await readFile(join(src, f))));
      }
    }
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, '.complete'), '');
    await rm(root, { recursive: true, force: true });
    await rename(tmp, root).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      if (!existsSync(join(root, '.complete'))) throw err;
    });
  }
  const unique = new Map<string, ResolvedPackage>();
  for (const n of nodes) {
    const { name, version, license, integrity, bytes } = n.meta;
    unique.set(`${name}@${version}`, { name, version, license, integrity, bytes });
  }
  const packages = [...unique.values()].sort((a, b) => a.name.localeCompare(b.name) || semver.compare(a.version, b.version));
  return { root, packages, offline };
}

function parentDir(path: string): string {
  // node_modules/a/node_modules/b → node_modules/a ; node_modules/a → ''
  const i = path.lastIndexOf('/node_modules/');
  if (i >= 0) return path.slice(0, i);
  return '';
}

function satisfies(version: string, range: string): boolean {
  return semver.validRange(range) !== null && semver.satisfies(version, range, { includePrerelease: false });
}

function packageDir(settings: NpmSettings, integrity: string): string {
  const hex = Buffer.from(integrity.replace(/^sha\d+-/, ''), 'base64').toString('hex');
  return join(settings.cacheDir, 'pkg', `${integrity.split('-')[0]}-${hex.slice(0, 64)}`);
}

/**
 * The tarball URL of `name@version`, resolved against the registry; refused with `DEPENDENCY_DENIED`
 * unless it is http(s) on the registry's origin or on one of `settings.tarballOrigins`.
 */
export function tarballUrl(name: string, version: string, tarball: string, settings: NpmSettings, registry = settings.registry): string {
  let url: URL | undefined;
  try {
    url = new URL(tarball, `${registry.replace(/\/+$/, '')}/`);
  } catch {
    url = undefined;
  }
  const allowed = [new URL(registry).origin, ...settings.tarballOrigins.map((o) => new URL(o).origin)];
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || !allowed.includes(url.origin)) {
    const origin = url === undefined ? null : url.origin;
    throw new UeeError('DEPENDENCY_DENIED', `the registry's tarball for ${name}@${version} is not on the registry's origin: ${origin ?? tarball.slice(0, 200)}`, {
      details: { package: name, version, tarball: tarball.slice(0, 500), tarballOrigin: origin, allowedOrigins: allowed },
      hint: `use a registry that serves its own tarballs; the operator may allow that origin with UEE_NPM_TARBALL_ORIGINS`,
    });
  }
  return url.href;
}

/** The cached metadata of a package when the registry is unreachable: the versions in the cache. */
async function cachedPackument(settings: NpmSettings, name: string, reason: string): Promise<Packument> {
  const dir = join(settings.cacheDir, 'index', fileName(name));
  const files = await readdir(dir).catch(() => [] as string[]);
  const versions: Record<string, VersionMeta> = {};
  for (const f of files) {
    if (!f.endsWith('.json')) continue;
    const entry = JSON.parse(await readFile(join(dir, f), 'utf8')) as { version: string; integrity: string };
    versions[entry.version] = { version: entry.version, dist: { tarball: '', integrity: entry.integrity } };
  }
  if (Object.keys(versions).length === 0) throw unavailable(settings, name, `${reason} (and no version of ${name} is in the cache)`);
  return { name, versions };
}

async function fetchPackage(
  name: string,
  range: string,
  requiredBy: string,
  settings: NpmSettings,
  registry: string,
  packument: (name: string) => Promise<Packument | null>,
): Promise<CachedPackage> {
  const p = await packument(name);
  const where = requiredBy ? ` (required by ${requiredBy})` : '';
  if (p === null) {
    throw new UeeError('DEPENDENCY_NOT_FOUND', `package "${name}"${where} does not exist on ${settings.registry}`, {
      details: { package: name, registry: settings.registry, requiredBy: requiredBy || null },
      hint: 'check the spelling of the package name (npm names are lower-case)',
    });
  }
  const tagged = p['dist-tags']?.[range];
  const version = tagged !== undefined ? semver.valid(tagged) : semver.maxSatisfying(Object.keys(p.versions).filter((v) => semver.valid(v) !== null), range);
  const v = version === null ? undefined : p.versions[version];
  if (version === null || v === undefined) {
    const latest = p['dist-tags']?.latest;
    throw new UeeError('DEPENDENCY_NOT_FOUND', `no version of "${name}" satisfies "${range}"${where}`, {
      details: { package: name, range, latest: latest ?? null, versions: Object.keys(p.versions).slice(-10) },
      hint: latest ? `use a range that includes an existing version, e.g. "^${latest}"` : 'use a range that includes an existing version',
    });
  }
  if (v.hasInstallScript === true || v.gypfile === true) {
    throw notPure(name, version, 'it runs an install script (native build)');
  }
  if (v.dist.unpackedSize !== undefined && v.dist.unpackedSize > settings.maxBytes) {
    throw tooBig(name, version, v.dist.unpackedSize, settings);
  }
  const integrity = v.dist.integrity ?? (v.dist.shasum ? `sha1-${Buffer.from(v.dist.shasum, 'hex').toString('base64')}` : undefined);
  if (integrity === undefined) {
    throw new UeeError('CORRUPT_DATA', `the registry lists no integrity for ${name}@${version}`, {
      details: { package: name, version },
      hint: 'use another version, or a registry that publishes dist.integrity',
    });
  }
  const dir = packageDir(settings, integrity);
  const cached = await readFile(join(dir, '.uee-package.json'), 'utf8').then((t) => JSON.parse(t) as CachedPackage, () => undefined);
  if (cached !== undefined) return cached;
  if (v.dist.tarball === '') throw unavailable(settings, `${name}@${version}`, 'offline and the tarball is not cached');
  const url = tarballUrl(name, version, v.dist.tarball, settings, registry);
  let res: Response;
  try {
    res = await fetchWithTimeout(url, settings);
  } catch (err) {
    throw unavailable(settings, `${name}@${version}`, err instanceof Error ? err.message : String(err));
  }
  if (!res.ok) throw unavailable(settings, `${name}@${version}`, `tarball answered HTTP ${res.status}`);
  const tgz = await readCapped(res, settings.maxBytes, () => tooBig(name, version, undefined, settings));
  const [algo, expected] = [integrity.slice(0, integrity.indexOf('-')), integrity.slice(integrity.indexOf('-') + 1)];
  const actual = createHash(algo === 'sha1' ? 'sha1' : algo).update(tgz).digest('base64');
  if (actual !== expected) {
    throw new UeeError('CORRUPT_DATA', `${name}@${version}: the tarball does not match its integrity ${integrity}`, {
      details: { package: name, version, expected: integrity, actual: `${algo}-${actual}` },
      hint: 'the registry or a proxy altered the package; retry, or use another registry',
    });
  }
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: settings.maxBytes + 1024 * 1024 });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooBig(name, version, undefined, settings);
    throw new UeeError('CORRUPT_DATA', `${name}@${version}: the tarball is not gzip`, { details: { package: name, version }, hint: 'use another version' });
  }
  const files = untar(tar, `${name}@${version}`);
  let bytes = 0;
  for (const f of files.values()) bytes += f.length;
  if (bytes > settings.maxBytes) throw tooBig(name, version, bytes, settings);
  for (const path of files.keys()) {
    if (path.endsWith('.node') || posix.basename(path) === 'binding.gyp') throw notPure(name, version, `it ships ${path} (a native addon)`);
  }
  const pkgJson = files.get('package.json');
  const manifest = (pkgJson ? JSON.parse(pkgJson.toString('utf8')) : {}) as { license?: unknown; licenses?: unknown; dependencies?: Record<string, string>; scripts?: Record<string, string> };
  const scripts = manifest.scripts ?? {};
  if (['preinstall', 'install', 'postinstall'].some((s) => typeof scripts[s] === 'string')) throw notPure(name, version, 'it declares an install script');
  const entry: CachedPackage = {
    name,
    version,
    license: licenseOf(manifest),
    integrity,
    bytes,
    dependencies: { ...(v.dependencies ?? manifest.dependencies ?? {}) },
    files: [...files.keys()].sort(),
  };
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  for (const [path, data] of files) {
    await mkdir(dirname(join(tmp, path)), { recursive: true });
    await writeFile(join(tmp, path), data);
  }
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, '.uee-package.json'), JSON.stringify(entry));
  await mkdir(dirname(dir), { recursive: true });
  await rename(tmp, dir).catch(async () => rm(tmp, { recursive: true, force: true }));
  const indexDir = join(settings.cacheDir, 'index', fileName(name));
  await mkdir(indexDir, { recursive: true });
  await writeFile(join(indexDir, `${version}.json`), JSON.stringify({ version, integrity }));
  return entry;
}

function licenseOf(manifest: { license?: unknown; licenses?: unknown }): string {
  if (typeof manifest.license === 'string' && manifest.license !== '') return manifest.license;
  if (typeof manifest.license === 'object' && manifest.license !== null && typeof (manifest.license as { type?: unknown }).type === 'string') {
    return (manifest.license as { type: string }).type;
  }
  if (Array.isArray(manifest.licenses)) {
    const types = manifest.licenses.map((l: unknown) => (typeof l === 'object' && l !== null ? (l as { type?: unknown }).type : undefined)).filter((t): t is string => typeof t === 'string');
    if (types.length > 0) return types.length === 1 ? types[0]! : `(${types.join(' OR ')})`;
  }
  return 'UNKNOWN';
}

function notPure(name: string, version: string, why: string): UeeError {
  return new UeeError('DEPENDENCY_NOT_PURE', `${name}@${version} is not a pure-JS package: ${why}`, {
    details: { package: name, version, reason: why },
    hint: 'plugins run in a sandboxed JS engine without Node built-ins or native code: pick a pure-JS alternative (no install scripts, no .node files, no fs/net/child_process)',
  });
}

function tooBig(name: string, version: string, bytes: number | undefined, settings: NpmSettings): UeeError {
  return new UeeError('DEPENDENCY_TOO_LARGE', `${name}@${version} unpacks to more than ${settings.maxBytes} bytes`, {
    details: { limit: 'bytes', package: name, version, maxBytes: settings.maxBytes, ...(bytes === undefined ? {} : { bytes }) },
    hint: 'pick a smaller package (or a smaller version); the operator sets UEE_NPM_MAX_BYTES',
  });
}

async function readCapped(res: Response, max: number, over: () => UeeError): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) throw over();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The regular files of a tar archive by path, the first path component (npm's `package/`) removed.
 * Understands ustar, pax (`path` records) and GNU long names; links and devices are skipped; a path
 * that would leave the package (`..`, absolute) fails the package.
 */
export function untar(tar: Buffer, label: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  let longName: string | undefined;
  const str = (start: number, len: number): string => {
    const raw = tar.subarray(start, start + len);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? len : end).toString('utf8');
  };
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(str(off + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = str(off + 345, 155);
    let path = longName ?? (prefix ? `${prefix}/${str(off, 100)}` : str(off, 100));
    longName = undefined;
    const dataStart = off + 512;
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') continue;
    path = path.replace(/\\/g, '/');
    const rel = path.split('/').slice(1).join('/');
    const norm = posix.normalize(rel);
    if (rel === '' || norm.startsWith('..') || posix.isAbsolute(norm) || norm.split('/').includes('..')) {
      throw new UeeError('CORRUPT_DATA', `${label}: the tarball has an entry outside the package: ${path}`, {
        details: { entry: path },
        hint: 'use another version of the package',
      });
    }
    if (norm === '.uee-package.json') continue;
    files.set(norm, Buffer.from(data));
  }
  return files;
}
