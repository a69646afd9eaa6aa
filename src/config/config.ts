import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { UeeError } from '../core/index.js';
import { DEFAULT_FILTER_LIMITS } from '../store/filter.js';
import { MCP_SETTING_ENV, parseMcpSettings, type McpConfig } from './mcp-settings.js';
import { parseFrontDoorSettings, parseModelQuotas, type FrontDoorConfig } from './front-door-settings.js';
import type { QuotaConfig } from '../model-gateway/policy/quotas.js';
import type { NpmSettings } from '../compiler/npm-deps.js';
import { parseNpmSettings } from './npm-settings.js';

/** Where entities, read models, config and the outbox live. */
export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'mongodb'; url: string; database: string }
  /** `url` without the `schema` query parameter, which becomes `schema` (default "uee"). */
  | { kind: 'postgres'; url: string; schema: string };

/** Where events flow. */
export type BusConfig = { kind: 'embedded'; path: string } | { kind: 'redis'; url: string; prefix: string };

/** The complete, validated configuration of one UEE process. Built once by {@link loadConfig}. */
export interface UeeConfig {
  /** Directory of the embedded SQLite file and caches. @default "./.uee" */
  dataDir: string;
  store: StoreConfig;
  bus: BusConfig;
  http: { host: string; port: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
  /**
   * Store limits; `queryScanMs` and `queryMaxDocs` bound a filtered scan on the main thread (FilterLimits
   * maxScanMs, maxDocumentsExamined). `maxCompileMs` is the operator ceiling of a compile's wall-clock
   * time (plugin_compile `timeoutMs` may ask for less, never more). @default maxCompileMs 60000
   */
  limits: { maxAttributeBytes: number; queryScanMs: number; queryMaxDocs: number; slowQueryMs: number; maxIndexesPerTenant: number; maxCompileMs: number; maxSubscribersPerType: number; maxPluginsPerTenant: number; maxQueueLength: number; dedupeWindowMs: number; settledDedupeMs: number };
  /** Tenants created at start-up if missing. @default ["default"] */
  bootstrapTenants: string[];
  /** Grace period for draining on SIGINT/SIGTERM before forcing exit. @default 10000 */
  shutdownGraceMs: number;
  /** A proposal claimed "applying" longer ago than this is settled as left by a stopped process. @default 120000 */
  reviewRecoveryGraceMs: number;
  /** The plugin runtime in this process: router + execution host. */
  runtime: {
    enabled: boolean;
    workers: number;
    hopLimit: number;
    /** Per-chain (correlation id) totals: events committed by its plugins, plugin invocations. @default 1000, 2000 */
    chainMaxEvents: number;
    /** TTL of a router process's heartbeat on Redis (ms; 0 = off): a crashed process's leases and entries move within ~1.5× it. */
    heartbeatMs: number;
    chainMaxInvocations: number;
    /** Hard cap on the workers one tenant's calls may hold (below it, each active tenant gets its fair part). @default workers */
    maxWorkersPerTenant: number;
    /** Deliveries the router holds in memory at once across its queues (0: the router's default, 2 × (concurrency + batchSize) = 640). @default 0 */
    maxInHand: number;
    /** µs the main thread polls the workers' host calls after one (0: off; every host call a message). @default 1000 */
    hostCallSpinUs: number;
    /** Operator upper bounds on manifest budgets, checked at deploy and load. @default { timeoutMs: 10000, memoryPages: 4096 } */
    budgetCeiling: { timeoutMs: number; memoryPages: number };
  };
  /** MCP server: tokens, stdio identity, DNS-rebinding allow-lists. */
  mcp: McpConfig;
  /** Per-principal limits of the front door: sessions, streams, request rate, sandboxes (environment only). */
  frontDoor: FrontDoorConfig;
  /** Model gateway quotas per tenant and plugin (`UEE_MODEL_QUOTAS`, JSON). @default none */
  modelQuotas: QuotaConfig | undefined;
  /** Invocation records: kept this many hours, then purged; 0 records nothing. @default 72 */
  records: { retentionHours: number };
  /** Event journal: entries kept this many hours, then purged; 0 keeps them forever (projections rebuild from it). @default 0 */
  journal: { retentionHours: number };
  /** Idempotency keys of committed deliveries and commits: kept this long, then purged (0: forever). */
  idempotency: { retentionHours: number };
  /** Declarative projections: documents one projection of one tenant may hold (past it, it stops with LIMIT_EXCEEDED). @default 1000000 */
  projections: { maxDocuments: number };
  /** npm dependencies of JS plugins: registry, cache, allow/deny lists, limits (environment only, `UEE_NPM_*`). */
  npm: NpmSettings;
}

/** Raw settings as they come from flags and environment (all optional strings). */
export interface RawSettings {
  dataDir?: string | undefined;
  store?: string | undefined;
  bus?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  logLevel?: string | undefined;
  maxAttributeBytes?: string | undefined;
  redisPrefix?: string | undefined;
  mongoDatabase?: string | undefined;
  tenants?: string | undefined;
  shutdownGraceMs?: string | undefined;
  reviewRecoveryGraceMs?: string | undefined;
  /** `on` (default) or `off`: whether this process runs plugins. */
  runtime?: string | undefined;
  /** Worker threads of the execution host. */
  workers?: string | undefined;
  /** Max depth of plugin event chains. */
  hopLimit?: string | undefined;
  /** Total events one chain's plugins may commit. */
  chainMaxEvents?: string | undefined;
  heartbeatMs?: string | undefined;
  /** Total plugin invocations one chain may cause. */
  chainMaxInvocations?: string | undefined;
  /** Workers one tenant's plugin calls may hold at once. */
  maxWorkersPerTenant?: string | undefined;
  /** Deliveries the router holds at once across its queues (0: its default). */
  maxInHand?: string | undefined;
  /** µs the main thread polls the workers' host calls after one (0: off). */
  hostCallSpinUs?: string | undefined;
  /** Hours invocation records are kept (0: none are written). */
  recordsRetentionHours?: string | undefined;
  /** Hours event-journal entries are kept (0: forever). */
  journalRetentionHours?: string | undefined;
  /** Hours the idempotency keys of committed deliveries and commits are kept (0: forever). */
  idempotencyRetentionHours?: string | undefined;
  projectionMaxDocuments?: string | undefined;
  /** Upper bound on a manifest's `maximumResourceBudget.timeoutMs`. */
  maxTimeoutMs?: string | undefined;
  /** Upper bound on a manifest's `maximumResourceBudget.memoryPages`. */
  maxMemoryPages?: string | undefined;
  /** Main-thread milliseconds one filtered query may scan for (then QUERY_TOO_COSTLY). */
  queryScanMs?: string | undefined;
  /** Documents one filtered query may examine to fill a page (then QUERY_TOO_COSTLY). */
  queryMaxDocs?: string | undefined;
  /** Queries slower than this go to the tenant's slow-query log. @default 25 */
  slowQueryMs?: string | undefined;
  /** Query indexes one tenant may declare. @default 8 */
  maxIndexesPerTenant?: string | undefined;
  maxSubscribersPerType?: string | undefined;
  /** Logical plugins (event and workflow) with an enabled version one tenant may have. @default 256 */
  maxPluginsPerTenant?: string | undefined;
  /** Entries one plugin's queue holds undelivered before its oldest are dead-lettered (QUEUE_OVERFLOW). */
  maxQueueLength?: string | undefined;
  /** How long the bus remembers a published, not yet settled event id (a crashed relay's republish is recognised within it). @default 86400000 */
  dedupeWindowMs?: string | undefined;
  /** How long the bus still remembers a settled event id (bounds the de-duplication state in steady use). @default 60000 */
  settledDedupeMs?: string | undefined;
  /** Upper bound on a compile's wall-clock time (plugin_compile timeoutMs). @default 60000 */
  maxCompileMs?: string | undefined;
  /** MCP bearer tokens: JSON or `token=admin,token2=tenant:acme:ro`. */
  tokens?: string | undefined;
  /** Principal of HTTP MCP requests without a token (`none`, `admin`, `tenant:<id>[:ro]`). */
  mcpAnonymous?: string | undefined;
  /** Principal of `uee mcp` (stdio). */
  identity?: string | undefined;
  /** A configured token whose principal `uee mcp` (stdio) acts as. */
  token?: string | undefined;
  mcpAllowedHosts?: string | undefined;
  mcpAllowedOrigins?: string | undefined;
  mcpConformanceFixtures?: string | undefined;
  mcpTaskTtlMs?: string | undefined;
}

/** Environment variable behind each setting: the name error messages quote. */
export const SETTING_ENV: Record<keyof RawSettings, string> = {
  dataDir: 'UEE_DATA_DIR',
  store: 'UEE_STORE',
  bus: 'UEE_BUS',
  host: 'UEE_HOST',
  port: 'UEE_PORT',
  logLevel: 'UEE_LOG_LEVEL',
  maxAttributeBytes: 'UEE_MAX_ATTRIBUTE_BYTES',
  redisPrefix: 'UEE_REDIS_PREFIX',
  mongoDatabase: 'UEE_MONGO_DATABASE',
  tenants: 'UEE_TENANTS',
  shutdownGraceMs: 'UEE_SHUTDOWN_GRACE_MS',
  reviewRecoveryGraceMs: 'UEE_REVIEW_RECOVERY_GRACE_MS',
  runtime: 'UEE_RUNTIME',
  workers: 'UEE_WORKERS',
  hopLimit: 'UEE_HOP_LIMIT',
  chainMaxEvents: 'UEE_CHAIN_MAX_EVENTS',
  heartbeatMs: 'UEE_HEARTBEAT_MS',
  chainMaxInvocations: 'UEE_CHAIN_MAX_INVOCATIONS',
  maxWorkersPerTenant: 'UEE_MAX_WORKERS_PER_TENANT',
  maxInHand: 'UEE_MAX_IN_HAND',
  hostCallSpinUs: 'UEE_HOST_CALL_SPIN_US',
  recordsRetentionHours: 'UEE_RECORDS_RETENTION_HOURS',
  journalRetentionHours: 'UEE_JOURNAL_RETENTION_HOURS',
  idempotencyRetentionHours: 'UEE_IDEMPOTENCY_RETENTION_HOURS',
  projectionMaxDocuments: 'UEE_PROJECTION_MAX_DOCUMENTS',
  maxTimeoutMs: 'UEE_MAX_TIMEOUT_MS',
  maxMemoryPages: 'UEE_MAX_MEMORY_PAGES',
  queryScanMs: 'UEE_QUERY_SCAN_MS',
  queryMaxDocs: 'UEE_QUERY_MAX_DOCS',
  slowQueryMs: 'UEE_SLOW_QUERY_MS',
  maxIndexesPerTenant: 'UEE_MAX_INDEXES_PER_TENANT',
  maxSubscribersPerType: 'UEE_MAX_SUBSCRIBERS_PER_TYPE',
  maxPluginsPerTenant: 'UEE_MAX_PLUGINS_PER_TENANT',
  maxQueueLength: 'UEE_MAX_QUEUE_LENGTH',
  dedupeWindowMs: 'UEE_DEDUPE_WINDOW_MS',
  settledDedupeMs: 'UEE_SETTLED_DEDUPE_MS',
  maxCompileMs: 'UEE_MAX_COMPILE_MS',
  tokens: MCP_SETTING_ENV.tokens,
  mcpAnonymous: MCP_SETTING_ENV.anonymous,
  identity: MCP_SETTING_ENV.identity,
  token: MCP_SETTING_ENV.token,
  mcpAllowedHosts: MCP_SETTING_ENV.allowedHosts,
  mcpAllowedOrigins: MCP_SETTING_ENV.allowedOrigins,
  mcpConformanceFixtures: MCP_SETTING_ENV.conformanceFixtures,
  mcpTaskTtlMs: MCP_SETTING_ENV.taskTtlMs,
};

/** Reads every setting from an environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  for (const [key, name] of Object.entries(SETTING_ENV) as Array<[keyof RawSettings, string]>) {
    const value = env[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

function settingError(key: keyof RawSettings, flag: string, message: string, hint: string): UeeError {
  return new UeeError('CONFIG_INVALID', `setting --${flag} (${SETTING_ENV[key]}): ${message}`, {
    details: { setting: key, flag: `--${flag}`, env: SETTING_ENV[key] },
    hint,
  });
}

const intSetting = (key: keyof RawSettings, flag: string, min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `--${flag} (${SETTING_ENV[key]}) must be an integer in ${min}..${max}, got "${raw}"` });
      return z.NEVER;
    }
    return n;
  });

/**
 * Completes raw settings with defaults and validates them once. Flags win over environment. A bad
 * value is a `CONFIG_INVALID` error naming the flag and the environment variable, never a stack trace.
 */
export function loadConfig(flags: RawSettings, env: NodeJS.ProcessEnv = process.env): UeeConfig {
  const raw: RawSettings = { ...settingsFromEnv(env), ...stripUndefined(flags) };
  const dataDir = resolve(raw.dataDir ?? '.uee');
  const embeddedPath = resolve(dataDir, 'uee.db');

  const parsed = {
    port: parseWith(intSetting('port', 'port', 0, 65535), raw.port ?? '7070', 'port'),
    maxAttributeBytes: parseWith(intSetting('maxAttributeBytes', 'max-attribute-bytes', 1024, 64 * 1024 * 1024), raw.maxAttributeBytes ?? String(1024 * 1024), 'maxAttributeBytes'),
    shutdownGraceMs: parseWith(intSetting('shutdownGraceMs', 'shutdown-grace-ms', 0, 600_000), raw.shutdownGraceMs ?? '10000', 'shutdownGraceMs'),
    reviewRecoveryGraceMs: parseWith(intSetting('reviewRecoveryGraceMs', 'review-recovery-grace-ms', 0, 86_400_000), raw.reviewRecoveryGraceMs ?? '120000', 'reviewRecoveryGraceMs'),
    workers: parseWith(intSetting('workers', 'workers', 1, 64), raw.workers ?? String(Math.max(1, Math.min(availableParallelism(), 8))), 'workers'),
    hopLimit: parseWith(intSetting('hopLimit', 'hop-limit', 1, 256), raw.hopLimit ?? '16', 'hopLimit'),
    chainMaxEvents: parseWith(intSetting('chainMaxEvents', 'chain-max-events', 1, 10_000_000), raw.chainMaxEvents ?? '1000', 'chainMaxEvents'),
    heartbeatMs: parseWith(intSetting('heartbeatMs', 'heartbeat-ms', 0, 600_000), raw.heartbeatMs ?? '5000', 'heartbeatMs'),
    chainMaxInvocations: parseWith(intSetting('chainMaxInvocations', 'chain-max-invocations', 1, 10_000_000), raw.chainMaxInvocations ?? '2000', 'chainMaxInvocations'),
    maxInHand: parseWith(intSetting('maxInHand', 'max-in-hand', 0, 1_000_000), raw.maxInHand ?? '0', 'maxInHand'),
    hostCallSpinUs: parseWith(intSetting('hostCallSpinUs', 'host-call-spin-us', 0, 100_000), raw.hostCallSpinUs ?? '1000', 'hostCallSpinUs'),
    recordsRetentionHours: parseWith(intSetting('recordsRetentionHours', 'records-retention-hours', 0, 24 * 366), raw.recordsRetentionHours ?? '72', 'recordsRetentionHours'),
    journalRetentionHours: parseWith(intSetting('journalRetentionHours', 'journal-retention-hours', 0, 24 * 366 * 10), raw.journalRetentionHours ?? '0', 'journalRetentionHours'),
    idempotencyRetentionHours: parseWith(intSetting('idempotencyRetentionHours', 'idempotency-retention-hours', 0, 24 * 366 * 10), raw.idempotencyRetentionHours ?? '168', 'idempotencyRetentionHours'),
    projectionMaxDocuments: parseWith(intSetting('projectionMaxDocuments', 'projection-max-documents', 1, 1_000_000_000), raw.projectionMaxDocuments ?? '1000000', 'projectionMaxDocuments'),
    maxTimeoutMs: parseWith(intSetting('maxTimeoutMs', 'max-timeout-ms', 1, 60_000), raw.maxTimeoutMs ?? '10000', 'maxTimeoutMs'),
    maxMemoryPages: parseWith(intSetting('maxMemoryPages', 'max-memory-pages', 1, 16_384), raw.maxMemoryPages ?? '4096', 'maxMemoryPages'),
    queryScanMs: parseWith(intSetting('queryScanMs', 'query-scan-ms', 1, 60_000), raw.queryScanMs ?? String(DEFAULT_FILTER_LIMITS.maxScanMs), 'queryScanMs'),
    queryMaxDocs: parseWith(intSetting('queryMaxDocs', 'query-max-docs', 1, 10_000_000), raw.queryMaxDocs ?? String(DEFAULT_FILTER_LIMITS.maxDocumentsExamined), 'queryMaxDocs'),
    slowQueryMs: parseWith(intSetting('slowQueryMs', 'slow-query-ms', 1, 600_000), raw.slowQueryMs ?? '25', 'slowQueryMs'),
    maxIndexesPerTenant: parseWith(intSetting('maxIndexesPerTenant', 'max-indexes-per-tenant', 1, 256), raw.maxIndexesPerTenant ?? '8', 'maxIndexesPerTenant'),
    maxSubscribersPerType: parseWith(intSetting('maxSubscribersPerType', 'max-subscribers-per-type', 1, 10_000), raw.maxSubscribersPerType ?? '64', 'maxSubscribersPerType'),
    maxPluginsPerTenant: parseWith(intSetting('maxPluginsPerTenant', 'max-plugins-per-tenant', 1, 100_000), raw.maxPluginsPerTenant ?? '256', 'maxPluginsPerTenant'),
    maxQueueLength: parseWith(intSetting('maxQueueLength', 'max-queue-length', 1, 100_000_000), raw.maxQueueLength ?? '100000', 'maxQueueLength'),
    maxCompileMs: parseWith(intSetting('maxCompileMs', 'max-compile-ms', 1000, 600_000), raw.maxCompileMs ?? '60000', 'maxCompileMs'),
    dedupeWindowMs: parseWith(intSetting('dedupeWindowMs', 'dedupe-window-ms', 1_000, 30 * 86_400_000), raw.dedupeWindowMs ?? '86400000', 'dedupeWindowMs'),
    settledDedupeMs: parseWith(intSetting('settledDedupeMs', 'settled-dedupe-ms', 1_000, 30 * 86_400_000), raw.settledDedupeMs ?? '60000', 'settledDedupeMs'),
  };
  if (parsed.settledDedupeMs > parsed.dedupeWindowMs) {
    throw settingError(
      'settledDedupeMs',
      'settled-dedupe-ms',
      `must not exceed --dedupe-window-ms (${parsed.dedupeWindowMs}), got ${parsed.settledDedupeMs}`,
      'a settled event id is remembered at most as long as an unsettled one: lower --settled-dedupe-ms or raise --dedupe-window-ms',
    );
  }
  const maxWorkersPerTenant = parseWith(
    intSetting('maxWorkersPerTenant', 'max-workers-per-tenant', 1, 64),
    raw.maxWorkersPerTenant ?? String(parsed.workers),
    'maxWorkersPerTenant',
  );
  const runtimeSwitch = raw.runtime ?? 'on';
  if (runtimeSwitch !== 'on' && runtimeSwitch !== 'off') {
    throw settingError('runtime', 'runtime', `must be "on" or "off", got "${runtimeSwitch}"`, 'use --runtime off for a process that only serves MCP and HTTP');
  }
  const level = raw.logLevel ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw settingError('logLevel', 'log-level', `unknown level "${level}"`, 'use one of debug, info, warn, error');
  }
  const tenants = (raw.tenants ?? 'default').split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  for (const t of tenants) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/.test(t)) {
      throw settingError('tenants', 'tenants', `invalid tenant id "${t}"`, 'tenant ids are 1-64 letters, digits, "_" or "-"');
    }
  }

  return {
    dataDir,
    store: parseStore(raw.store, embeddedPath, raw.mongoDatabase ?? 'uee'),
    bus: parseBus(raw.bus, embeddedPath, raw.redisPrefix ?? 'uee:'),
    http: { host: raw.host ?? '127.0.0.1', port: parsed.port },
    log: { level: level as UeeConfig['log']['level'] },
    limits: {
      maxAttributeBytes: parsed.maxAttributeBytes,
      queryScanMs: parsed.queryScanMs,
      queryMaxDocs: parsed.queryMaxDocs,
      slowQueryMs: parsed.slowQueryMs,
      maxIndexesPerTenant: parsed.maxIndexesPerTenant,
      maxSubscribersPerType: parsed.maxSubscribersPerType,
      maxPluginsPerTenant: parsed.maxPluginsPerTenant,
      maxQueueLength: parsed.maxQueueLength,
      dedupeWindowMs: parsed.dedupeWindowMs,
      settledDedupeMs: parsed.settledDedupeMs,
      maxCompileMs: parsed.maxCompileMs,
    },
    bootstrapTenants: tenants,
    shutdownGraceMs: parsed.shutdownGraceMs,
    reviewRecoveryGraceMs: parsed.reviewRecoveryGraceMs,
    runtime: {
      enabled: runtimeSwitch === 'on',
      workers: parsed.workers,
      hopLimit: parsed.hopLimit,
      chainMaxEvents: parsed.chainMaxEvents,
      heartbeatMs: parsed.heartbeatMs,
      chainMaxInvocations: parsed.chainMaxInvocations,
      maxWorkersPerTenant,
      maxInHand: parsed.maxInHand,
      hostCallSpinUs: parsed.hostCallSpinUs,
      budgetCeiling: { timeoutMs: parsed.maxTimeoutMs, memoryPages: parsed.maxMemoryPages },
    },
    mcp: parseMcpSettings({
      tokens: raw.tokens,
      anonymous: raw.mcpAnonymous,
      identity: raw.identity,
      token: raw.token,
      allowedHosts: raw.mcpAllowedHosts,
      allowedOrigins: raw.mcpAllowedOrigins,
      conformanceFixtures: raw.mcpConformanceFixtures,
      taskTtlMs: raw.mcpTaskTtlMs,
      host: raw.host ?? '127.0.0.1',
    }),
    frontDoor: parseFrontDoorSettings(env),
    modelQuotas: parseModelQuotas(env),
    records: { retentionHours: parsed.recordsRetentionHours },
    journal: { retentionHours: parsed.journalRetentionHours },
    idempotency: { retentionHours: parsed.idempotencyRetentionHours },
    projections: { maxDocuments: parsed.projectionMaxDocuments },
    npm: parseNpmSettings(env, dataDir),
  };
}

function parseWith<T>(schema: z.ZodType<T, string>, value: string, key: keyof RawSettings): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new UeeError('CONFIG_INVALID', result.error.issues[0]?.message ?? `invalid ${key}`, {
    details: { setting: key, env: SETTING_ENV[key] },
    hint: `fix ${SETTING_ENV[key]} or the matching flag`,
  });
}

function parseStore(value: string | undefined, embeddedPath: string, database: string): StoreConfig {
  if (value === undefined || value === 'sqlite' || value === 'embedded') return { kind: 'sqlite', path: embeddedPath };
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\//, '');
    if (path === '') throw settingError('store', 'store', 'sqlite URL has no path', 'use sqlite:./path/to/file.db');
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  if (value.startsWith('mongodb://') || value.startsWith('mongodb+srv://')) {
    const url = parseUrl('store', 'store', value);
    const db = url.pathname.replace(/^\//, '') || database;
    return { kind: 'mongodb', url: value, database: db };
  }
  if (value.startsWith('postgres://') || value.startsWith('postgresql://')) {
    const url = parseUrl('store', 'store', value);
    const schema = url.searchParams.get('schema') ?? 'uee';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw settingError('store', 'store', `invalid PostgreSQL schema "${schema.slice(0, 64)}"`, 'use ?schema= with a lower-case identifier such as uee');
    }
    url.searchParams.delete('schema');
    return { kind: 'postgres', url: url.toString(), schema };
  }
  throw settingError('store', 'store', `unsupported store URL "${redact(value)}"`, 'use sqlite:<path> (default: the embedded file), postgres://user@host:5432/db or mongodb://host:port/db');
}

function parseBus(value: string | undefined, embeddedPath: string, prefix: string): BusConfig {
  if (value === undefined || value === 'embedded' || value === 'sqlite') return { kind: 'embedded', path: embeddedPath };
  if (value.startsWith('redis://') || value.startsWith('rediss://')) {
    parseUrl('bus', 'bus', value);
    return { kind: 'redis', url: value, prefix };
  }
  throw settingError('bus', 'bus', `unsupported bus URL "${redact(value)}"`, 'use "embedded" (default) or redis://host:port');
}

function parseUrl(key: keyof RawSettings, flag: string, value: string): URL {
  try {
    const url = new URL(value);
    if (url.hostname === '') throw new Error('no host');
    return url;
  } catch {
    throw settingError(key, flag, `"${redact(value)}" is not a valid URL`, `check the host and port in --${flag}`);
  }
}

/** Hides a password in a URL before it reaches a message or a log. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@/]+)@/, '//$1:***@');
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
