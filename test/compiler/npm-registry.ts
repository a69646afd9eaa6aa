/**
 * A tiny npm registry for tests: packuments in the registry's abbreviated format and gzipped tarballs
 * made in memory from `{ path: text }` maps, served over HTTP on 127.0.0.1.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** One version of a package: its files (package.json is generated from the rest unless given). */
export interface FakeVersion {
  files: Record<string, string>;
  dependencies?: Record<string, string>;
  license?: string;
  main?: string;
  module?: string;
  hasInstallScript?: boolean;
  /** Serve bytes that do not match the advertised integrity. */
  tamper?: boolean;
  /** Advertise the tarball at this base URL (another origin) instead of the registry's own. */
  tarballBase?: string;
}

/** A ustar archive with every file under `package/`. */
export function tarball(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, text] of Object.entries(files)) {
    const data = Buffer.from(text, 'utf8');
    const h = Buffer.alloc(512);
    h.write(`package/${path}`, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A running fake registry; `close()` it after the tests. */
export interface FakeRegistry {
  url: string;
  /** Requests served, by path. */
  hits: string[];
  close(): Promise<void>;
}

/** Serves `packages` (name → version → contents). */
export async function startRegistry(packages: Record<string, Record<string, FakeVersion>>): Promise<FakeRegistry> {
  const tarballs = new Map<string, Buffer>();
  const hits: string[] = [];
  let base = '';
  const packument = (name: string): unknown => {
    const versions: Record<string, unknown> = {};
    for (const [version, v] of Object.entries(packages[name] ?? {})) {
      const pkgJson = { name, version, license: v.license ?? 'MIT', ...(v.main ? { main: v.main } : {}), ...(v.module ? { module: v.module } : {}), ...(v.dependencies ? { dependencies: v.dependencies } : {}) };
      const tgz = tarball({ 'package.json': JSON.stringify(pkgJson), ...v.files });
      const file = `${name}/-/${name.split('/').pop()}-${version}.tgz`;
      tarballs.set(`/${file}`, v.tamper ? tarball({ 'package.json': JSON.stringify(pkgJson), 'index.js': 'module.exports = "evil";' }) : tgz);
      versions[version] = {
        name,
        version,
        ...(v.dependencies ? { dependencies: v.dependencies } : {}),
        ...(v.hasInstallScript ? { hasInstallScript: true } : {}),
        dist: { tarball: `${v.tarballBase ?? base}/${file}`, integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}` },
      };
    }
    const latest = Object.keys(versions).pop();
    return { name, 'dist-tags': latest ? { latest } : {}, versions };
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '/');
    hits.push(path);
    const tgz = tarballs.get(path);
    if (tgz) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tgz);
      return;
    }
    const name = path.slice(1);
    if (packages[name]) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument(name)));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // packuments are built lazily per request, after `base` is known; build them once so tarballs exist
  for (const name of Object.keys(packages)) packument(name);
  return {
    url: base,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
