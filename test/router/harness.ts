/**
 * Shared harness of the router end-to-end suites: a real {@link UeeApp} built from a config object
 * (SQLite store in a temp dir; embedded bus or Redis with a random prefix), plugin fixtures compiled
 * once and cached by content hash, a bounded poller instead of sleeps, and the shared setup of the
 * multi-process suites ({@link processSuite}: PostgreSQL + Redis + worker processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { UeeApp, UeeAppOptions } from '../../src/app/index.js';
import type { RawSettings } from '../../src/config/index.js';
import type { EntityVersion, EventEnvelope, JsonObject } from '../../src/core/index.js';
import type { PluginManifestInput, PluginRecord } from '../../src/registry/index.js';
import { queuePlugin } from '../../src/registry/index.js';
import { openEmbeddedBus, type EventBus } from '../../src/bus/index.js';
import { compileJs, ensureEngine } from '../../src/compiler/index.js';
import { DISPATCH_GROUP, type HandleInput, type PluginInvoker, type RouterOptions } from '../../src/router/index.js';
import { assignQueues } from '../../src/router/ownership.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { buildWat } from '../runtime/wat.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { newSite, openApp, type AppSite, type BackendName } from './app-site.js';

export { BACKENDS, TEST_APP_OPTIONS, deleteRedisKeys, newSite, openApp, siteSettings, type AppSite, type BackendName } from './app-site.js';

/**
 * Apps on fresh sites of `backend`, for one test at a time (call inside a `describe`): `open` makes one, and
 * every app a test opened is closed and its site disposed after it.
 */
export function appPerTest(backend: BackendName): { open(label: string, extra?: RawSettings, options?: UeeAppOptions): Promise<UeeApp> } {
  let opened: Array<{ site: AppSite & { dispose(): Promise<void> }; app?: UeeApp }> = [];
  afterEach(async () => {
    const done = opened;
    opened = [];
    for (const { site, app } of done) {
      await app?.close();
      await site.dispose();
    }
  });
  return {
    async open(label, extra = {}, options) {
      const entry: (typeof opened)[number] = { site: newSite(backend, label) };
      opened.push(entry);
      entry.app = await openApp(entry.site, extra, options);
      return entry.app;
    },
  };
}

/** The keys of the test Redis matching `pattern` (what a removal must have left: nothing). */
export async function redisKeys(pattern: string): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    return await redis.keys(pattern);
  } finally {
    await redis.quit();
  }
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

/**
 * The setup of a file whose routers run on PostgreSQL: the probe module loaded before its tests, and
 * the schemas they create (pushed into `schemas`) dropped after them.
 */
export function probeSuite(timeoutMs = 600_000): { probe: Uint8Array; readonly schemas: string[] } {
  const suite: { probe: Uint8Array; schemas: string[] } = { probe: new Uint8Array(0), schemas: [] };
  beforeAll(async () => {
    suite.probe = await probeWasm();
  }, timeoutMs);
  afterAll(() => dropSchemas(suite.schemas));
  return suite;
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
    for (const queue of await queuesOf(app.bus, group)) {
      const info = await app.bus.groupInfo(queue);
      if (info.pending !== 0 || info.lag !== 0) return undefined;
    }
    return true;
  }, timeoutMs);
}

/** The router's plugin invoker (a test wraps its `invoke` to watch or steer the calls the router makes). */
export function routerInvoker(app: UeeApp): PluginInvoker {
  return (app.runtime!.router as unknown as { invoker: PluginInvoker }).invoker;
}

/** Calls `seen` with the input of each call `app`'s router makes from now on, as it starts. */
export function watchRouterCalls(app: UeeApp, seen: (input: HandleInput) => void): void {
  const invoker = routerInvoker(app);
  const invoke = invoker.invoke.bind(invoker);
  invoker.invoke = (plugin, input, options) => {
    seen(input);
    return invoke(plugin, input, options);
  };
}

/** A plugin's queues on the bus: `group` itself and, for a global plugin, its tenants' lanes (`laneGroup`). */
export async function queuesOf(bus: EventBus, group: string): Promise<string[]> {
  const lanes = (await bus.queues!()).filter((q) => q !== group && queuePlugin(q)?.group === group);
  return [group, ...lanes.sort()];
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

/** What a worker process of the multi-process suites (chaos-child.ts) is started with. */
export interface WorkerProcessOptions {
  /** Router option overrides (over chaos-child's test tuning). */
  router?: Partial<RouterOptions>;
  /** Setting overrides (over {@link siteSettings}), e.g. `workers`. */
  settings?: RawSettings;
}

/** A producer app (no runtime) on a fresh PostgreSQL schema and Redis prefix, and worker processes beside it. */
export interface ProcessCluster {
  /** Writes and deploys; routes and handles nothing (runtime off). */
  producer: UeeApp;
  site: AppSite;
  /** The store URL every process of the cluster uses. */
  store: string;
  /** A fresh data dir for one more process on the cluster (its local files), removed after the test. */
  dataDir: () => string;
  /** Starts a chaos-child worker process on the cluster, tracked in {@link ProcessSuite.workers}. */
  startWorker: (options?: WorkerProcessOptions) => Promise<ChildProcess>;
}

/** The per-file state {@link processSuite} sets up and tears down. */
export interface ProcessSuite {
  /** The probe module, compiled once for the file (beforeAll). */
  readonly probe: Uint8Array;
  /** Worker processes still running: SIGKILLed after each test (a test removes the ones it stops itself). */
  readonly workers: Set<ChildProcess>;
  /** Runs `dispose` after the current test, in reverse order of registration. */
  defer: (dispose: () => Promise<void> | void) => void;
  /** A {@link ProcessCluster}; `serverOptions` are PostgreSQL settings for every connection (`-c name=value`). */
  cluster(label: string, options?: { serverOptions?: string; settings?: RawSettings }): Promise<ProcessCluster>;
}

/**
 * The setup every multi-process suite (PostgreSQL store + Redis bus + worker processes) shares,
 * registered as the calling file's hooks: the probe compiled once (beforeAll); after each test every
 * worker process still running SIGKILLed (a SIGSTOPped one too) and the test's disposers run
 * (afterEach); the test schemas dropped (afterAll).
 */
export function processSuite(): ProcessSuite {
  let probe: Uint8Array | undefined;
  const schemas: string[] = [];
  const disposers: Array<() => Promise<void> | void> = [];
  const workers = new Set<ChildProcess>();
  beforeAll(async () => {
    probe = await probeWasm();
  }, 600_000);
  afterEach(async () => {
    for (const w of workers) await killChild(w);
    workers.clear();
    for (const d of disposers.splice(0).reverse()) await d();
  });
  afterAll(() => dropSchemas(schemas));
  const defer = (dispose: () => Promise<void> | void): void => void disposers.push(dispose);
  return {
    get probe() {
      if (probe === undefined) throw new Error('processSuite: the probe is compiled in beforeAll');
      return probe;
    },
    workers,
    defer,
    async cluster(label, options = {}) {
      const schema = randomSchema(label);
      schemas.push(schema);
      const store = options.serverOptions === undefined ? schemaUrl(schema) : `${schemaUrl(schema)}&options=${encodeURIComponent(options.serverOptions)}`;
      const site = newSite('redis', label);
      defer(() => site.dispose());
      const producer = await openApp(site, { store, runtime: 'off', ...options.settings });
      defer(() => producer.close());
      const dataDir = (): string => {
        const dir = tempDir(`uee-${label}-worker`);
        defer(() => dir[Symbol.dispose]());
        return dir.path;
      };
      const startWorker = async (worker: WorkerProcessOptions = {}): Promise<ChildProcess> => {
        const child = await spawnChild(CHAOS_CHILD, { site: { ...site, dataDir: dataDir() }, store, ...worker }, 'READY');
        workers.add(child);
        return child;
      };
      return { producer, site, store, dataDir, startWorker };
    },
  };
}

const CHAOS_CHILD = join(import.meta.dirname, 'chaos-child.ts');

/** One test's temporary embedded bus ({@link embeddedBusSuite}). */
export interface TestBus {
  bus: EventBus;
  /** Stops `stop` (a router part using the bus) after the test, before the bus is closed. */
  stopFirst: (stop: () => Promise<void> | void) => void;
}

/**
 * Per-test temporary embedded buses (in a temp dir) for router-part tests without an app. After each
 * test the parts registered with `stopFirst` are stopped, last first, and only then are the buses
 * closed and their directories removed (also when a stop fails): a part stopped after its bus is
 * closed leaks timers and fails intermittently.
 */
export function embeddedBusSuite(label: string): () => Promise<TestBus> {
  const stops: Array<() => Promise<void> | void> = [];
  const closes: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    try {
      for (const stop of stops.splice(0).reverse()) await stop();
    } finally {
      for (const close of closes.splice(0).reverse()) await close();
    }
  });
  return async () => {
    const dir = tempDir(label);
    closes.push(() => dir[Symbol.dispose]());
    const bus = await openEmbeddedBus({ path: join(dir.path, 'bus.db') });
    closes.push(() => bus.close());
    return { bus, stopFirst: (stop) => void stops.push(stop) };
  };
}

/** SIGTERMs a worker process (a graceful stop: it finishes what is in flight) and resolves with its exit code. */
export function stopChild(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

/** Every `Order` record the probe's append mode wrote in these tenants: `seqs` by `marker:entity`. */
export async function appendRecords(app: UeeApp, tenants: readonly string[]): Promise<Map<string, number[]>> {
  const got = new Map<string, number[]>();
  for (const tenantId of tenants) {
    for (const v of await allOfType(app, tenantId, 'Order')) got.set(`${String(v.attributes.marker)}:${String(v.attributes.entity)}`, v.attributes.seqs as number[]);
  }
  return got;
}

/**
 * The records of `got` that are not exactly `expected` (same keys): a lost, doubled or reordered
 * event shows as a difference, described by its lengths and first differing position.
 */
export function recordMismatches(expected: ReadonlyMap<string, readonly number[]>, got: ReadonlyMap<string, readonly number[]>): string[] {
  const wrong: string[] = [];
  for (const [key, seqs] of expected) {
    const list = got.get(key) ?? [];
    if (list.length !== seqs.length || list.some((s, i) => s !== seqs[i])) {
      const at = list.findIndex((s, i) => s !== seqs[i]);
      wrong.push(`${key}: ${list.length} of ${seqs.length}, first difference at ${at < 0 ? Math.min(list.length, seqs.length) : at}: ${JSON.stringify(list.slice(Math.max(0, at - 2), at + 6))}`);
    }
  }
  for (const key of got.keys()) if (!expected.has(key)) wrong.push(`${key}: not expected`);
  return wrong;
}

/** A process's pause as it looks from outside: once `pause()`d, its heartbeats stop reaching the bus until `wake()`. */
export interface PausableHeartbeat {
  pause: () => void;
  wake: () => void;
  /** Settles at `wake()`. */
  woken: Promise<void>;
}

/** Wraps `app`'s bus heartbeat so a test can pause it (a GC pause, SIGSTOP or a network cut, seen from the bus). */
export function pausableHeartbeat(app: UeeApp): PausableHeartbeat {
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  let paused = false;
  const beat = app.bus.heartbeat!.bind(app.bus);
  app.bus.heartbeat = async (owner, ttlMs) => {
    if (paused) await woken;
    return beat(owner, ttlMs);
  };
  return { pause: () => void (paused = true), wake, woken };
}

/**
 * Router names (`consumerName`) for two processes on one bus such that the split of the queues among
 * them gives `group` to the first: for tests where the first process must hold the queue until the
 * test pauses it (the split would otherwise hand it to the second one half the time).
 */
export function firstOwns(group: string): { first: string; second: string } {
  const first = `first-${randomBytes(4).toString('hex')}`;
  for (let i = 0; ; i++) {
    const second = `second-${i}-${randomBytes(2).toString('hex')}`;
    if (assignQueues([first, second], [group]).get(group) === first) return { first, second };
  }
}
