/**
 * C toolchains able to build the engine for wasm32-wasi: a system `clang-16` with `wasm-ld` and a
 * wasi-libc sysroot when present, else `@yowasp/clang` from npm (clang as wasm, with wasi-libc).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UeeError } from '../core/errors.js';

const run = promisify(execFile);

/** A C compiler + linker targeting wasm32-wasi. */
export interface CToolchain {
  /** Stable identity (kind and version), part of the engine's content hash. */
  readonly id: string;
  /** Compiles one C file of `files` to an object file. */
  compile(files: Record<string, string>, source: string, flags: readonly string[]): Promise<Uint8Array>;
  /** Links objects into a module. */
  link(objects: Record<string, Uint8Array>, flags: readonly string[]): Promise<Uint8Array>;
}

/** Where a wasi-libc sysroot for the system clang may be. */
export const SYSROOTS = ['/usr/share/wasi-sysroot', '/usr/lib/wasi-sysroot', '/opt/wasi-sdk/share/wasi-sysroot'];

async function which(cmd: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('which', [cmd]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The system clang-16 toolchain, or undefined when clang-16 or a wasi sysroot is missing. */
export async function systemToolchain(workDir: string): Promise<CToolchain | undefined> {
  const clang = await which('clang-16');
  const sysroot = SYSROOTS.find((p) => existsSync(p));
  if (clang === undefined || sysroot === undefined) return undefined;
  const { stdout } = await run(clang, ['--version']);
  const target = ['--target=wasm32-wasi', `--sysroot=${sysroot}`];
  const stage = async (files: Record<string, string | Uint8Array>): Promise<void> => {
    await mkdir(workDir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(workDir, name), text);
  };
  return {
    id: `system:${stdout.split('\n')[0] ?? 'clang-16'}:${sysroot}`,
    async compile(files, source, flags) {
      await stage(files);
      const out = `${source}.o`;
      await runTool(clang, [...target, ...flags, '-c', source, '-o', out], workDir);
      return readFile(join(workDir, out));
    },
    async link(objects, flags) {
      await stage(objects);
      await runTool(clang, [...target, ...flags, ...Object.keys(objects), '-o', 'engine.wasm'], workDir);
      return readFile(join(workDir, 'engine.wasm'));
    },
  };
}

async function runTool(cmd: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new UeeError('INTERNAL', `engine build failed: ${cmd} ${args.join(' ')}`, {
      details: { stderr: stderr.slice(0, 4000) },
      cause: err,
    });
  }
}

interface YowaspModule {
  runClang(args: string[], files: Record<string, unknown>, options?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** `@yowasp/clang` (clang 22 + wasi-libc compiled to wasm): works on any machine with npm alone. */
export async function yowaspToolchain(root: string): Promise<CToolchain> {
  const mod = (await import('@yowasp/clang')) as unknown as YowaspModule;
  const pkg = JSON.parse(
    await readFile(join(root, 'node_modules/@yowasp/clang/package.json'), 'utf8').catch(() => '{}'),
  ) as { version?: string };
  const invoke = async (args: string[], files: Record<string, unknown>, output: string): Promise<Uint8Array> => {
    let stderr = '';
    const decoder = new TextDecoder();
    try {
      const out = await mod.runClang(args, files, {
        stderr: (b: Uint8Array | null) => {
          if (b) stderr += decoder.decode(b);
        },
        fetchProgress: () => undefined,
      });
      const bytes = out[output];
      if (!(bytes instanceof Uint8Array)) throw new Error(`no ${output} produced`);
      return bytes;
    } catch (err) {
      throw new UeeError('INTERNAL', `engine build failed: ${args.join(' ')}`, {
        details: { stderr: stderr.slice(0, 4000) },
        cause: err,
      });
    }
  };
  return {
    id: `yowasp-clang:${pkg.version ?? 'unknown'}`,
    compile: (files, source, flags) =>
      invoke(['clang', '--target=wasm32-wasip1', ...flags, '-c', source, '-o', `${source}.o`], files, `${source}.o`),
    link: (objects, flags) =>
      invoke(['clang', '--target=wasm32-wasip1', ...flags, ...Object.keys(objects), '-o', 'engine.wasm'], objects, 'engine.wasm'),
  };
}
