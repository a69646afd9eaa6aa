import { parseArgs } from 'node:util';
import { createLogger, toUeeError, UeeError } from '../core/index.js';
import { loadConfig, type RawSettings } from '../config/index.js';
import { runStart } from './start.js';
import { runWorker } from './worker.js';
import { runStatus } from './status.js';
import { runMcp } from './mcp.js';
import { runProposals } from './proposals.js';
import { readLocalToken } from './local-token.js';
import { resolve } from 'node:path';
import { CLI_OPTIONS } from './options.js';

const USAGE = `Usage: uee <command> [options]

Commands:
  start     run the UEE server (embedded SQLite store and event log by default)
  worker    run plugin work only (router + runtime, no HTTP/MCP front door) on a shared
            Redis bus and store; any number of workers and front ends share the work
  status    ask a running server for its status
  proposals review agents' change proposals on a running server:
            list [--status S] [--tenant T] | show ID | approve ID [--comment C] | reject ID --comment C | rebase ID
  mcp       serve MCP over stdio (for MCP clients that spawn a command)
  help      show this text

Options (each also read from the environment variable shown):
  --data-dir DIR            UEE_DATA_DIR             embedded data directory (default ./.uee)
  --store URL               UEE_STORE                sqlite:<path> (default), postgres://user@host/db[?schema=uee] or mongodb://host/db
  --bus URL                 UEE_BUS                  embedded (default) or redis://host:port
  --host HOST               UEE_HOST                 HTTP bind address (default 127.0.0.1)
  --port N                  UEE_PORT                 HTTP port (default 7070)
  --log-level LEVEL         UEE_LOG_LEVEL            debug | info | warn | error (default info)
  --max-attribute-bytes N   UEE_MAX_ATTRIBUTE_BYTES  cap on one entity's attributes (default 1048576)
  --redis-prefix P          UEE_REDIS_PREFIX         key prefix on Redis (default uee:)
  --tenants A,B             UEE_TENANTS              tenants created at start (default "default")
  --shutdown-grace-ms N     UEE_SHUTDOWN_GRACE_MS    drain time on SIGINT/SIGTERM before forcing (default 10000)
  --review-recovery-grace-ms N  UEE_REVIEW_RECOVERY_GRACE_MS  a proposal "applying" longer than this was left by a stopped process (default 120000)
  --runtime on|off          UEE_RUNTIME              run plugins in this process (default on)
  --workers N               UEE_WORKERS              execution-host worker threads (default: cores, max 8)
  --hop-limit N             UEE_HOP_LIMIT            max depth of plugin event chains (default 16)
  --chain-max-events N      UEE_CHAIN_MAX_EVENTS     max events one chain's plugins may commit (default 1000)
  --heartbeat-ms N          UEE_HEARTBEAT_MS         TTL of a router process's heartbeat on Redis; a crashed one's queues move within ~1.5x (default 5000, 0 = off)
  --chain-max-invocations N UEE_CHAIN_MAX_INVOCATIONS max plugin invocations of one chain (default 2000)
  --max-workers-per-tenant N UEE_MAX_WORKERS_PER_TENANT hard cap on workers one tenant's calls hold (default: workers; each active tenant gets its fair part)
  --max-in-hand N           UEE_MAX_IN_HAND          deliveries the router holds in memory at once across its queues; a tenant's queues hold at most half (default 0: 640)
  --host-call-spin-us N     UEE_HOST_CALL_SPIN_US    µs the main thread polls the workers' host calls after one, while a core is spare (default 1000; 0 = off)
  --records-retention-hours N UEE_RECORDS_RETENTION_HOURS hours invocation records are kept; 0 records none (default 72)
  --journal-retention-hours N UEE_JOURNAL_RETENTION_HOURS hours event-journal entries are kept; 0 keeps them (default 0)
  --idempotency-retention-hours N UEE_IDEMPOTENCY_RETENTION_HOURS hours commits' idempotency keys are kept; 0 keeps them (default 168)
  --projection-max-documents N UEE_PROJECTION_MAX_DOCUMENTS documents per projection per tenant (default 1000000)
  --max-timeout-ms N        UEE_MAX_TIMEOUT_MS       upper bound on a manifest's timeoutMs (default 10000)
  --max-memory-pages N      UEE_MAX_MEMORY_PAGES     upper bound on a manifest's memoryPages (default 4096 = 256 MiB)
  --query-scan-ms N         UEE_QUERY_SCAN_MS        main-thread ms one filtered query may scan before QUERY_TOO_COSTLY (default 100)
  --query-max-docs N        UEE_QUERY_MAX_DOCS       documents one filtered query may examine before QUERY_TOO_COSTLY (default 20000)
  --slow-query-ms N         UEE_SLOW_QUERY_MS        queries slower than this go to the tenant's slow-query log (default 25)
  --max-indexes-per-tenant N UEE_MAX_INDEXES_PER_TENANT query indexes one tenant may declare (default 8)
  --max-subscribers-per-type N UEE_MAX_SUBSCRIBERS_PER_TYPE plugins one tenant may subscribe to one event type (default 64; the global scope is not limited)
  --max-plugins-per-tenant N UEE_MAX_PLUGINS_PER_TENANT event and workflow plugins one tenant may have enabled, each a queue (default 256; the global scope is not limited)
  --max-queue-length N      UEE_MAX_QUEUE_LENGTH     entries one plugin's queue holds undelivered; past it the oldest are dead-lettered (QUEUE_OVERFLOW, redrivable) (default 100000)
  --dedupe-window-ms N      UEE_DEDUPE_WINDOW_MS     ms the bus remembers a published event id until the relay settles it: a relay that
                                                     crashed before marking its batch republishes it without doubling within this (default 86400000)
  --settled-dedupe-ms N     UEE_SETTLED_DEDUPE_MS    ms a settled event id is still remembered; bounds the bus's de-duplication state to
                                                     ~publish rate x this; relay and bus clocks must agree within half (default 60000)
  --max-compile-ms N        UEE_MAX_COMPILE_MS       ceiling of a compile's wall-clock time; plugin_compile timeoutMs may ask for less (default 60000)
  --url URL                 UEE_URL                  server to query with "status" / "proposals" (default http://127.0.0.1:7070)
                            UEE_TOKEN                "status" / "proposals": bearer token (default: the local admin token in the data dir)

MCP (HTTP at /mcp and /sse with "start"; stdio with "mcp"):
                            UEE_TOKENS               bearer tokens: token=admin,token2=tenant:acme:ro (or JSON); unset:
                                                     "start" generates a local admin token (DATA_DIR/local-admin-token)
                            UEE_MCP_ANONYMOUS        principal for requests without a token (default none = 401)
  --token TOKEN             UEE_MCP_TOKEN            "mcp": act as this configured token's principal; "status": the admin token to ask with
  --identity P              UEE_MCP_IDENTITY         "mcp": act as admin | tenant:<id> | tenant:<id>:ro (default admin)
                            UEE_MCP_ALLOWED_HOSTS    extra Host names accepted (DNS-rebinding allow-list)
                            UEE_MCP_ALLOWED_ORIGINS  extra Origins accepted
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: CLI_OPTIONS,
    });
  } catch (err) {
    throw new UeeError('CONFIG_INVALID', (err as Error).message, { hint: 'run "uee help" for the options' });
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? 'help';
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const flags: RawSettings = {
    dataDir: values['data-dir'],
    store: values.store,
    bus: values.bus,
    host: values.host,
    port: values.port,
    logLevel: values['log-level'],
    maxAttributeBytes: values['max-attribute-bytes'],
    redisPrefix: values['redis-prefix'],
    tenants: values.tenants,
    shutdownGraceMs: values['shutdown-grace-ms'],
    reviewRecoveryGraceMs: values['review-recovery-grace-ms'],
    runtime: values.runtime,
    workers: values.workers,
    hopLimit: values['hop-limit'],
    chainMaxEvents: values['chain-max-events'],
    heartbeatMs: values['heartbeat-ms'],
    recordsRetentionHours: values['records-retention-hours'],
    journalRetentionHours: values['journal-retention-hours'],
    idempotencyRetentionHours: values['idempotency-retention-hours'],
    projectionMaxDocuments: values['projection-max-documents'],
    chainMaxInvocations: values['chain-max-invocations'],
    maxWorkersPerTenant: values['max-workers-per-tenant'],
    maxInHand: values['max-in-hand'],
    hostCallSpinUs: values['host-call-spin-us'],
    maxTimeoutMs: values['max-timeout-ms'],
    maxMemoryPages: values['max-memory-pages'],
    queryScanMs: values['query-scan-ms'],
    queryMaxDocs: values['query-max-docs'],
    slowQueryMs: values['slow-query-ms'],
    maxIndexesPerTenant: values['max-indexes-per-tenant'],
    maxSubscribersPerType: values['max-subscribers-per-type'],
    maxPluginsPerTenant: values['max-plugins-per-tenant'],
    maxQueueLength: values['max-queue-length'],
    dedupeWindowMs: values['dedupe-window-ms'],
    settledDedupeMs: values['settled-dedupe-ms'],
    maxCompileMs: values['max-compile-ms'],
    token: values.token,
    identity: values.identity,
  };
  switch (command) {
    case 'start': {
      const config = loadConfig(flags);
      const logger = createLogger({ level: config.log.level, fields: { service: 'uee' } });
      return runStart(config, logger);
    }
    case 'worker': {
      const config = loadConfig(flags);
      const logger = createLogger({ level: config.log.level, fields: { service: 'uee', role: 'worker' } });
      return runWorker(config, logger);
    }
    case 'mcp': {
      const config = loadConfig(flags);
      const logger = createLogger({ level: config.log.level, fields: { service: 'uee', transport: 'stdio' } });
      return runMcp(config, logger);
    }
    case 'status': {
      // --token, else UEE_TOKEN / UEE_MCP_TOKEN, else the local admin token of `uee start` (when it generated one)
      const token = values.token ?? process.env.UEE_TOKEN ?? process.env.UEE_MCP_TOKEN ?? readLocalToken(resolve(values['data-dir'] ?? process.env.UEE_DATA_DIR ?? '.uee'));
      return runStatus(values.url ?? process.env.UEE_URL ?? 'http://127.0.0.1:7070', token);
    }
    case 'proposals': {
      const token = values.token ?? process.env.UEE_TOKEN ?? process.env.UEE_MCP_TOKEN ?? readLocalToken(resolve(values['data-dir'] ?? process.env.UEE_DATA_DIR ?? '.uee'));
      return runProposals(values.url ?? process.env.UEE_URL ?? 'http://127.0.0.1:7070', token, positionals.slice(1), { status: values.status, tenant: values.tenant, comment: values.comment });
    }
    default:
      throw new UeeError('CONFIG_INVALID', `unknown command "${command}"`, { hint: 'run "uee help" for the commands' });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const error = toUeeError(err);
    process.stderr.write(`uee: ${error.code}: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
    if (error.code === 'INTERNAL' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    process.exitCode = error.code === 'CONFIG_INVALID' ? 2 : 1;
  },
);
