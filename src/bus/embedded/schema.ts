import type { Database, Statement } from 'better-sqlite3';

/**
 * Tables of the embedded event log, prefixed `bus_` because they share the SQLite file of the entity
 * store. `n` is the log position (AUTOINCREMENT: never reused, contiguous because only a prefix is
 * ever trimmed); an entry's id is `ms-n`, so ids are ordered like Redis stream ids and an id maps to
 * its row without a lookup. A plain group's pending entries list (PEL) is `bus_leased`: one row per
 * run of consecutive log positions delivered together (a read makes one run, whatever its size; an
 * ack or claim of part of a run splits it), so reading and acking a batch writes one row, not one per
 * entry. A queue's (a group with `routed = 1`) PEL is `bus_pending`, one row per entry (its entries
 * are not consecutive in the log); `bus_queued` holds the entries routed into a queue and not yet read.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS bus_entries (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  ms INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_dedupe (
  event_id TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bus_dedupe_at ON bus_dedupe (at);
CREATE TABLE IF NOT EXISTS bus_groups (
  grp TEXT PRIMARY KEY,
  last_ms INTEGER NOT NULL,
  last_n INTEGER NOT NULL,
  routed INTEGER NOT NULL DEFAULT 0,
  advisory INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_queued (
  grp TEXT NOT NULL,
  n INTEGER NOT NULL,
  ms INTEGER NOT NULL,
  PRIMARY KEY (grp, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_consumers (
  grp TEXT NOT NULL,
  consumer TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (grp, consumer)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_pending (
  grp TEXT NOT NULL,
  n INTEGER NOT NULL,
  ms INTEGER NOT NULL,
  consumer TEXT NOT NULL,
  delivered_at INTEGER NOT NULL,
  deliveries INTEGER NOT NULL,
  PRIMARY KEY (grp, n)
) WITHOUT ROWID;
-- Pending runs of plain groups: positions lo..hi (those still in the log) delivered to consumer.
CREATE TABLE IF NOT EXISTS bus_leased (
  grp TEXT NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL,
  consumer TEXT NOT NULL,
  delivered_at INTEGER NOT NULL,
  deliveries INTEGER NOT NULL,
  PRIMARY KEY (grp, lo)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The process behind each consumer and lease owner name, so a process sharing the file can tell a
-- crashed one (its pid gone) from a slow one without waiting for leases and claims to lapse.
CREATE TABLE IF NOT EXISTS bus_processes (
  name TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  boot TEXT NOT NULL,
  pidns TEXT NOT NULL,
  pid INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_counters (
  name TEXT PRIMARY KEY,
  n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_dead (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  ms INTEGER NOT NULL,
  grp TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_dead_by_group ON bus_dead (grp, n);
`;

/** Opens the tables (idempotent) with the same durability settings as the store: WAL, NORMAL sync. */
export function applyBusSchema(db: Database, path: string): void {
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.transaction(() => {
    db.exec(DDL);
    // Files created before queues existed: add the column (the table is WITHOUT ROWID; ADD COLUMN works).
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(bus_groups)').all();
    if (!columns.some((c) => c.name === 'routed')) db.exec('ALTER TABLE bus_groups ADD COLUMN routed INTEGER NOT NULL DEFAULT 0');
    if (!columns.some((c) => c.name === 'advisory')) db.exec('ALTER TABLE bus_groups ADD COLUMN advisory INTEGER NOT NULL DEFAULT 0');
    // Files written before plain groups kept runs: their per-entry PEL rows become one-entry runs.
    db.exec(`INSERT OR IGNORE INTO bus_leased (grp, lo, hi, consumer, delivered_at, deliveries)
               SELECT p.grp, p.n, p.n, p.consumer, p.delivered_at, p.deliveries FROM bus_pending p JOIN bus_groups g ON g.grp = p.grp WHERE g.routed = 0;
             DELETE FROM bus_pending WHERE grp IN (SELECT grp FROM bus_groups WHERE routed = 0);`);
  }).immediate();
}

/** Row shapes returned by {@link prepareBusStatements}. */
export interface EntryRow {
  n: number;
  ms: number;
  data: string;
}
export interface PendingRow {
  n: number;
  ms: number;
  consumer: string;
  delivered_at: number;
  deliveries: number;
}
/** One pending run of a plain group: log positions `lo..hi` delivered together. */
export interface RunRow {
  lo: number;
  hi: number;
  consumer: string;
  delivered_at: number;
  deliveries: number;
}
export interface GroupRow {
  last_ms: number;
  last_n: number;
  routed: number;
}

/** Every statement the embedded bus runs, prepared once per connection. */
export function prepareBusStatements(db: Database) {
  const s = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
  return {
    lastEntry: s<[], { n: number; ms: number }>('SELECT n, ms FROM bus_entries ORDER BY n DESC LIMIT 1'),
    firstEntry: s<[], { n: number }>('SELECT n FROM bus_entries ORDER BY n ASC LIMIT 1'),
    dedupe: s<[string, number, number]>(
      'INSERT INTO bus_dedupe (event_id, at) VALUES (?, ?) ON CONFLICT (event_id) DO UPDATE SET at = excluded.at WHERE bus_dedupe.at < ?',
    ),
    insertEntry: s<[number, string]>('INSERT INTO bus_entries (ms, data) VALUES (?, ?)'),
    trimEntries: s<[number]>('DELETE FROM bus_entries WHERE n <= ?'),
    purgeDedupe: s<[number]>('DELETE FROM bus_dedupe WHERE at < ?'),
    hasAfter: s<[number], { n: number }>('SELECT n FROM bus_entries WHERE n > ? LIMIT 1'),
    entriesAfter: s<[number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n > ? ORDER BY n LIMIT ?'),
    entriesFrom: s<[number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n >= ? ORDER BY n LIMIT ?'),
    entryData: s<[number], { data: string }>('SELECT data FROM bus_entries WHERE n = ?'),
    countAfter: s<[number], { c: number }>('SELECT count(*) AS c FROM bus_entries WHERE n > ?'),
    group: s<[string], GroupRow>('SELECT last_ms, last_n, routed FROM bus_groups WHERE grp = ?'),
    createQueue: s<[string, number, number]>('INSERT INTO bus_groups (grp, last_ms, last_n, routed) VALUES (?, ?, ?, 1) ON CONFLICT (grp) DO NOTHING'),
    // A plain group turned into a queue keeps what it has not read yet: its unread tail is queued.
    queueUnread: s<[string, number]>('INSERT OR IGNORE INTO bus_queued (grp, n, ms) SELECT ?, n, ms FROM bus_entries WHERE n > ?'),
    markRouted: s<[string]>('UPDATE bus_groups SET routed = 1 WHERE grp = ?'),
    enqueue: s<[string, number, number]>('INSERT OR IGNORE INTO bus_queued (grp, n, ms) VALUES (?, ?, ?)'),
    hasQueued: s<[string], { n: number }>('SELECT n FROM bus_queued WHERE grp = ? LIMIT 1'),
    queuedEntries: s<[string, number], EntryRow>(
      'SELECT q.n AS n, q.ms AS ms, e.data AS data FROM bus_queued q JOIN bus_entries e ON e.n = q.n WHERE q.grp = ? ORDER BY q.n LIMIT ?',
    ),
    deliverQueued: s<[string, number, string, number]>(
      'INSERT OR REPLACE INTO bus_pending (grp, n, ms, consumer, delivered_at, deliveries) SELECT grp, n, ms, ?, ?, 1 FROM bus_queued WHERE grp = ? AND n <= ?',
    ),
    dequeue: s<[string, number]>('DELETE FROM bus_queued WHERE grp = ? AND n <= ?'),
    countQueued: s<[string], { c: number }>('SELECT count(*) AS c FROM bus_queued WHERE grp = ?'),
    // The oldest entry any group still needs: its first pending or queued entry, or (plain groups)
    // the first entry it has not read. Retention never trims from there on. One index seek per group.
    oldestNeeded: s<[], { n: number | null; grp: string | null }>(
      `SELECT n, grp FROM (
         SELECT (SELECT p.n FROM bus_pending p WHERE p.grp = g.grp ORDER BY p.n LIMIT 1) AS n, g.grp AS grp FROM bus_groups g WHERE g.advisory = 0
         UNION ALL SELECT (SELECT r.lo FROM bus_leased r WHERE r.grp = g.grp ORDER BY r.lo LIMIT 1), g.grp FROM bus_groups g WHERE g.advisory = 0 AND g.routed = 0
         UNION ALL SELECT (SELECT q.n FROM bus_queued q WHERE q.grp = g.grp ORDER BY q.n LIMIT 1), g.grp FROM bus_groups g WHERE g.routed = 1
         UNION ALL SELECT last_n + 1, grp FROM bus_groups WHERE routed = 0 AND advisory = 0
       ) WHERE n IS NOT NULL ORDER BY n LIMIT 1`,
    ),
    idleConsumers: s<[string, number, string], { consumer: string }>(
      `SELECT c.consumer FROM bus_consumers c WHERE c.grp = ? AND (c.seen_at <= ? OR c.consumer = ?)
         AND NOT EXISTS (SELECT 1 FROM bus_pending p WHERE p.grp = c.grp AND p.consumer = c.consumer)
         AND NOT EXISTS (SELECT 1 FROM bus_leased r WHERE r.grp = c.grp AND r.consumer = c.consumer)`,
    ),
    registerProcess: s<[string, string, string, string, number, number]>(
      'INSERT OR REPLACE INTO bus_processes (name, host, boot, pidns, pid, seen_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    processOf: s<[string], { host: string; boot: string; pidns: string; pid: number }>('SELECT host, boot, pidns, pid FROM bus_processes WHERE name = ?'),
    leaseOwner: s<[string, number], { owner: string }>('SELECT owner FROM bus_leases WHERE name = ? AND expires_at > ?'),
    takeLeaseFrom: s<[string, number, string, string]>('UPDATE bus_leases SET owner = ?, expires_at = ? WHERE name = ? AND owner = ?'),
    expirePendingOf: s<[string, string]>('UPDATE bus_pending SET delivered_at = 0 WHERE grp = ? AND consumer = ?'),
    deleteConsumer: s<[string, string]>('DELETE FROM bus_consumers WHERE grp = ? AND consumer = ?'),
    createGroup: s<[string, number, number, number]>(
      'INSERT INTO bus_groups (grp, last_ms, last_n, advisory) VALUES (?, ?, ?, ?) ON CONFLICT (grp) DO UPDATE SET advisory = excluded.advisory',
    ),
    advanceGroup: s<[number, number, string]>('UPDATE bus_groups SET last_ms = ?, last_n = ? WHERE grp = ?'),
    touchConsumer: s<[string, string, number]>(
      'INSERT INTO bus_consumers (grp, consumer, seen_at) VALUES (?, ?, ?) ON CONFLICT (grp, consumer) DO UPDATE SET seen_at = excluded.seen_at',
    ),
    consumers: s<[string], { consumer: string; seen_at: number }>('SELECT consumer, seen_at FROM bus_consumers WHERE grp = ? ORDER BY consumer'),
    // One statement per batch: the PEL rows of a read, and the deletions of an ack (ids as a JSON array).
    // Pending runs of plain groups (see runs.ts).
    insertRun: s<[string, number, number, string, number, number]>('INSERT INTO bus_leased (grp, lo, hi, consumer, delivered_at, deliveries) VALUES (?, ?, ?, ?, ?, ?)'),
    deleteRun: s<[string, number]>('DELETE FROM bus_leased WHERE grp = ? AND lo = ?'),
    touchRun: s<[number, string, number]>('UPDATE bus_leased SET delivered_at = ? WHERE grp = ? AND lo = ?'),
    runsOverlapping: s<[string, number, number], RunRow>(
      'SELECT lo, hi, consumer, delivered_at, deliveries FROM bus_leased WHERE grp = ? AND lo <= ? AND hi >= ? ORDER BY lo',
    ),
    staleRuns: s<[string, number], RunRow>('SELECT lo, hi, consumer, delivered_at, deliveries FROM bus_leased WHERE grp = ? AND delivered_at <= ? ORDER BY lo'),
    entriesBetween: s<[number, number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n >= ? AND n <= ? ORDER BY n LIMIT ?'),
    runPending: s<[string, number], PendingRow>(
      `SELECT e.n AS n, e.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? ORDER BY e.n LIMIT ?`,
    ),
    runPendingOf: s<[string, string, number], PendingRow>(
      `SELECT e.n AS n, e.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? AND r.consumer = ? ORDER BY e.n LIMIT ?`,
    ),
    runPendingByConsumer: s<[string], { consumer: string; c: number }>(
      'SELECT r.consumer AS consumer, count(*) AS c FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? GROUP BY r.consumer',
    ),
    runHolders: s<[string], { consumer: string }>('SELECT DISTINCT consumer FROM bus_leased WHERE grp = ?'),
    expireRunsOf: s<[string, string]>('UPDATE bus_leased SET delivered_at = 0 WHERE grp = ? AND consumer = ?'),
    // A plain group turned into a queue: its runs become per-entry PEL rows.
    runsToPending: s<[string]>(
      `INSERT OR REPLACE INTO bus_pending (grp, n, ms, consumer, delivered_at, deliveries)
         SELECT r.grp, e.n, e.ms, r.consumer, r.delivered_at, r.deliveries FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ?`,
    ),
    deleteGroupRuns: s<[string]>('DELETE FROM bus_leased WHERE grp = ?'),
    deletePending: s<[string, number]>('DELETE FROM bus_pending WHERE grp = ? AND n = ?'),
    deletePendingMany: s<[string, string]>('DELETE FROM bus_pending WHERE grp = ? AND n IN (SELECT value FROM json_each(?))'),
    pending: s<[string, number], PendingRow>(
      'SELECT n, ms, consumer, delivered_at, deliveries FROM bus_pending WHERE grp = ? ORDER BY n LIMIT ?',
    ),
    pendingOf: s<[string, string, number], PendingRow>(
      'SELECT n, ms, consumer, delivered_at, deliveries FROM bus_pending WHERE grp = ? AND consumer = ? ORDER BY n LIMIT ?',
    ),
    staleFrom: s<[string, number, number, number], PendingRow>(
      'SELECT n, ms, consumer, delivered_at, deliveries FROM bus_pending WHERE grp = ? AND n > ? AND delivered_at <= ? ORDER BY n LIMIT ?',
    ),
    renewPending: s<[number, string, string, string]>(
      'UPDATE bus_pending SET delivered_at = ? WHERE grp = ? AND consumer = ? AND n IN (SELECT value FROM json_each(?))',
    ),
    claimPending: s<[string, number, string, number]>(
      'UPDATE bus_pending SET consumer = ?, delivered_at = ?, deliveries = deliveries + 1 WHERE grp = ? AND n = ?',
    ),
    pendingByConsumer: s<[string], { consumer: string; c: number }>(
      'SELECT consumer, count(*) AS c FROM bus_pending WHERE grp = ? GROUP BY consumer',
    ),
    lease: s<[string, string, number, number]>(
      'INSERT INTO bus_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE bus_leases.owner = excluded.owner OR bus_leases.expires_at <= ?',
    ),
    addCounter: s<[string, number], { n: number }>('INSERT INTO bus_counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = bus_counters.n + excluded.n RETURNING n'),
    readCounter: s<[string], { n: number }>('SELECT n FROM bus_counters WHERE name = ?'),
    releaseLease: s<[string, string]>('DELETE FROM bus_leases WHERE name = ? AND owner = ?'),
    deleteLease: s<[string]>('DELETE FROM bus_leases WHERE name = ?'),
    deleteGroup: s<[string]>('DELETE FROM bus_groups WHERE grp = ?'),
    queueNames: s<[], { grp: string }>('SELECT grp FROM bus_groups WHERE routed = 1'),
    deleteGroupQueued: s<[string]>('DELETE FROM bus_queued WHERE grp = ?'),
    deleteGroupPending: s<[string]>('DELETE FROM bus_pending WHERE grp = ?'),
    deleteGroupConsumers: s<[string]>('DELETE FROM bus_consumers WHERE grp = ?'),
    insertDead: s<[number, string, string]>('INSERT INTO bus_dead (ms, grp, data) VALUES (?, ?, ?)'),
    lastDead: s<[], { n: number }>('SELECT n FROM bus_dead ORDER BY n DESC LIMIT 1'),
    trimDead: s<[number]>('DELETE FROM bus_dead WHERE n <= ?'),
    deleteDead: s<[number, number]>('DELETE FROM bus_dead WHERE n = ? AND ms = ?'),
    dead: s<[number], EntryRow>('SELECT n, ms, data FROM bus_dead ORDER BY n LIMIT ?'),
    deadOf: s<[string, number], EntryRow>('SELECT n, ms, data FROM bus_dead WHERE grp = ? ORDER BY n LIMIT ?'),
  };
}

/** The prepared statements of one connection. */
export type BusStatements = ReturnType<typeof prepareBusStatements>;
