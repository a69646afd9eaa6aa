/**
 * Shared harness of the router end-to-end suites: a real {@link UeeApp} built from a config object
 * (SQLite store in a temp dir; embedded bus or Redis with a random prefix), plugin fixtures compiled
 * once and cached by content hash, and a bounded poller instead of sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { UeeApp, type UeeAppOptions } from '../../src/app/index.js';
import { loadConfig, type RawSettings } from '../../src/config/index.js';
import { silentLogger, type EntityVersion, type EventEnvelope, type JsonObject } from '../../src/core/index.js';
import type { PluginManifestInput, PluginRecord } from '../../src/registry/index.js';
import { compileJs, ensureEngine } from '../../src/compiler/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';
import { buildWat } from '../runtime/wat.js';

/** The two bus backends every suite runs against. */
export const BACKENDS = [{ name: 'embedded' as const }, { name: 'redis' as const }];
export type BackendName = (typeof BACKENDS)[number]['name'];

/** Settings of one test app: where it lives and which bus it uses. */
export interface AppSite {
  dataDir: string;
  backend: BackendName;
  redisPrefix: string;
}

/** A fresh site (temp dir + random Redis prefix); `dispose()` removes the dir and the Redis keys. */
export function newSite(backend: BackendName, label = 'router'): AppSite & { dispose(): Promise<void> } {
  const dir = tempDir(`uee-${label}`);
  const redisPrefix = randomPrefix(label);
  return {
    dataDir: dir.path,
    backend,
    redisPrefix,
    async dispose() {
      if (backend === 'redis') await deleteRedisKeys(redisPrefix);
      dir[Symbol.dispose]();
    },
  };
}

/** Deletes every Redis key under a prefix. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Raw settings of a site, as the CLI would pass them (an empty environment is used). */
export function siteSettings(site: AppSite, extra: RawSettings = {}): RawSettings {
  return {
    dataDir: site.dataDir,
    ...(site.backend === 'redis' ? { bus: TEST_REDIS_URL, redisPrefix: site.redisPrefix } : {}),
    tenants: 'acme,globex',
    workers: '2',
    logLevel: 'error',
    ...extra,
  };
}

/** Router tuning for tests: fast table refresh, short backoff, and pipelined deliveries (the path with per-entity chaining). */
export const TEST_APP_OPTIONS: UeeAppOptions = { router: { refreshMs: 200, backoffMs: 20, concurrency: 4 } };

/** Opens the real composition root on a site. */
export function openApp(site: AppSite, extra: RawSettings = {}, options: UeeAppOptions = TEST_APP_OPTIONS): Promise<UeeApp> {
  return UeeApp.create(loadConfig(siteSettings(site, extra), {}), silentLogger, options);
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` with `what`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** Every latest version of one entity type visible to a tenant (all pages). */
export async function allOfType(app: UeeApp, tenantId: string | null, entityTypeId: string): Promise<EntityVersion[]> {
  const out: EntityVersion[] = [];
  let cursor: string | undefined;
  do {
    const page = await app.store.query({ tenantId, actor: 'test' }, { entityTypeId, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** `Mark` entities written by the probe plugin, as plain attribute records. */
export async function marks(app: UeeApp, tenantId: string | null): Promise<Array<JsonObject & { entityId: string; causationId: string | null }>> {
  return (await allOfType(app, tenantId, 'Mark')).map((m) => ({ ...m.attributes, entityId: m.entityId, causationId: m.causationId }));
}

const CACHE = join(tmpdir(), 'uee-router-fixtures');

/** Compiles `test/fixtures/plugins/ts/<name>.ts` (plus helper files) once per content hash. */
export async function compiledTs(name: string, helpers: string[] = []): Promise<Uint8Array> {
  const dir = new URL('../fixtures/plugins/ts/', import.meta.url);
  const files: Record<string, string> = { [`${name}.ts`]: readFileSync(new URL(`${name}.ts`, dir), 'utf8') };
  for (const h of helpers) files[`${h}.ts`] = readFileSync(new URL(`${h}.ts`, dir), 'utf8');
  const engine = await ensureEngine();
  const key = createHash('sha256').update(engine.hash).update(JSON.stringify(files)).digest('hex').slice(0, 24);
  const path = join(CACHE, `${name}-${key}.wasm`);
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  const { wasm } = await compileJs({ engine, entry: `${name}.ts`, files });
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(`${path}.${process.pid}`, wasm);
  // rename is atomic: parallel test files never read a half-written module.
  renameSync(`${path}.${process.pid}`, path);
  return wasm;
}

/** The probe module (test/fixtures/plugins/ts/router-probe.ts). */
export function probeWasm(): Promise<Uint8Array> {
  return compiledTs('router-probe');
}

/** A WAT fixture module (test/fixtures/wat). */
export function watModule(name: string): Promise<Uint8Array> {
  return buildWat(name);
}

/** Capabilities the probe module imports. */
export const PROBE_CAPABILITIES = ['readEntities', 'writeEntities', 'emitEvents'] as const;

/** Deploys the probe with a manifest; `settings` select its behaviour. */
export async function deployProbe(
  app: UeeApp,
  wasm: Uint8Array,
  manifest: Omit<PluginManifestInput, 'capabilities'> & { capabilities?: PluginManifestInput['capabilities'] },
): Promise<PluginRecord> {
  const result = await app.registry.deploy('user:test', { manifest: { capabilities: [...PROBE_CAPABILITIES], ...manifest }, wasm, language: 'ts' });
  return result.plugin;
}

/** Makes the router pick up deploys now instead of at its next periodic refresh. */
export async function refresh(app: UeeApp): Promise<void> {
  await app.runtime?.router.refresh();
}

/** A consumer group reading the whole stream from the start: what the bus carried, in order. */
export class Observer {
  readonly events: EventEnvelope[] = [];
  readonly #group = `test:observer:${Math.random().toString(16).slice(2, 8)}`;
  #ready: Promise<void>;

  constructor(private readonly app: UeeApp) {
    this.#ready = app.bus.ensureGroup(this.#group, 'earliest');
  }

  /** Reads everything new on the bus; returns all events seen so far. */
  async poll(): Promise<Observer['events']> {
    await this.#ready;
    for (;;) {
      const batch = await this.app.bus.read(this.#group, 'observer', { count: 500 });
      if (batch.length === 0) return this.events;
      await this.app.bus.ack(this.#group, batch.map((d) => d.id));
      this.events.push(...batch.map((d) => d.event));
    }
  }
}

/**
 * Waits until a plugin's queue has nothing pending and nothing undelivered — after the outbox is
 * empty and the dispatcher has routed everything on the stream (else an event still on its way to
 * the queue would be missed).
 */
export async function drained(app: UeeApp, group: string, timeoutMs = 20_000): Promise<void> {
  await until(`group ${group} to drain`, async () => {
    await app.relay.flush();
    if ((await app.store.outbox.size()) !== 0) return undefined;
    const dispatch = await app.bus.groupInfo(DISPATCH_GROUP);
    if (dispatch.pending !== 0 || dispatch.lag !== 0) return undefined;
    const info = await app.bus.groupInfo(group);
    return info.pending === 0 && info.lag === 0 ? true : undefined;
  }, timeoutMs);
}

/** What a child printed after its ready word (e.g. chaos-child's router consumer name). */
export const readyLines = new WeakMap<ChildProcess, string>();

/**
 * Runs `script` (a TypeScript file) in a child Node process with `arg` as its JSON argument, and
 * resolves once it prints `readyLine`; rejects with its stderr if it exits first.
 */
export async function spawnChild(script: string, arg: unknown, readyLine: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line !== readyLine && !line.startsWith(`${readyLine} `)) return;
      readyLines.set(child, line.slice(readyLine.length).trim());
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`child ${script} exited ${code}: ${stderr}`)));
  });
  return child;
}

/** SIGKILLs a child process (if still running) and resolves once it has exited. */
export function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}
