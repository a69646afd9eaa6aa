export { DEFAULT_STORE_LIMITS, TIMER_INDEX_TYPE } from './port.js';
export type {
  CommitBatch,
  CommitResult,
  EntityHead,
  ScopedDoc,
  EntityQuery,
  EntityStore,
  GetOptions,
  HistoryOptions,
  Outbox,
  OutboxEntry,
  ReadModelDoc,
  ReadModelStore,
  StoreLimits,
  StoreLimitsInput,
  TenantConfigStore,
  TenantRecord,
  TenantRegistry,
} from './port.js';
export { InvocationRecordSchema, RECORD_CAPS, PURGE_BATCH, prepareInvocationRecord } from './invocations.js';
export type { InvocationRecord, InvocationRecordDraft, InvocationQuery, InvocationRecordStore } from './invocations.js';
export { openSqliteStore } from './sqlite/index.js';
export type { SqliteStoreOptions } from './sqlite/index.js';
export { validateFilter, filterLimits, DEFAULT_FILTER_LIMITS, MAX_FILTER_DEPTH, MAX_REGEX_LENGTH } from './filter.js';
export type { FilterLimits } from './filter.js';
export { compileFilter, matchesSubscription } from './filter-compile.js';
export type { CompiledFilter, FilterScan, ScanStats } from './filter-compile.js';
export { openMongoStore } from './mongodb/index.js';
export type { MongoStoreOptions } from './mongodb/index.js';
export { openPostgresStore } from './postgres/index.js';
export type { PostgresStoreOptions } from './postgres/index.js';
export { filterShape, probesOf, suggestIndex } from './query-index.js';
export type { ExplainRequest, IndexInfo, IndexSpec, IndexTarget, QueryIndexStore, QueryPlan, SlowQuery, SlowQueryShape } from './query-index.js';
export { fenceDecision, fencedError } from './fence.js';
export type { CommitFence } from './fence.js';
export { JOURNAL_PURGE_BATCH, JOURNAL_SCAN_SPAN, journalNewestFirst } from './journal.js';
export { IDEMPOTENCY_PURGE_BATCH } from './shared.js';
export type { EventJournal, JournalEntry, JournalInfo, JournalPage, JournalQuery, JournalSpan } from './journal.js';
