import type { Database, Statement } from 'better-sqlite3';

/**
 * Tables of the embedded event log, prefixed `bus_` because they share the SQLite file of the entity
 * store. `n` is the log position (AUTOINCREMENT: never reused, contiguous because only a prefix is
 * ever trimmed); an entry's id is `ms-n`, so ids are ordered like Redis stream ids and an id maps to
 * its row without a lookup. Every group's pending entries list (PEL) is `bus_leased`: one row per
 * run of positions delivered together (a read makes one run, whatever its size; a renew or claim of
 * part of a run splits it), so a read writes one row, not one per entry (see runs.ts). For a plain
 * group the positions are log positions (an ack splits the run); for a queue (`routed = 1`) they are
 * the positions of its `bus_queued` rows, which hold the entries routed into it until they are acked:
 * a row covered by a run is pending, any other is unread (`last_n` is the highest position read;
 * `late = 1` when a row at or below it may be unread: routed after later ones were read).
 * `overflowed` counts a queue's rows dead-lettered for `maxQueueLength` (see EmbeddedBus.#overflow):
 * the only way besides a read that a queue's unread rows go, so a process that counted them can tell
 * from the row alone whether anyone took some since.
 * `bus_dedupe` remembers each published event id (`at`: when) for the de-duplication window;
 * `bus_settling` holds one row per settle (the ids as a JSON array, when they were settled and when
 * they lapse): once lapsed, the next publish or settle deletes those ids' rows published before the
 * settle (a row per settle call instead of an update per id: EmbeddedBus.settle).
 * `bus_pending` is no longer written (files from before are converted at open).
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
CREATE TABLE IF NOT EXISTS bus_settling (
  n INTEGER PRIMARY KEY,
  lapse INTEGER NOT NULL,
  settled_at INTEGER NOT NULL,
  ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_settling_lapse ON bus_settling (lapse);
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
-- An upper bound of every queue's cursor (bus_groups.last_n where routed = 1): the highest log
-- position ever routed into a queue or a queue's cursor was created at. A route of an entry above it
-- cannot be below any queue's cursor, so it looks up no cursor (see EmbeddedBus.route). One row.
CREATE TABLE IF NOT EXISTS bus_route_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_dead (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  ms INTEGER NOT NULL,
  grp TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_dead_by_group ON bus_dead (grp, n);
-- Dead letters held per tenant ('' for the platform's own; '*', never a tenant id: all of them), kept by the triggers of DEAD_LETTER_TENANTS.
CREATE TABLE IF NOT EXISTS bus_dead_counts (
  tenant TEXT PRIMARY KEY,
  n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bus_dead_counts_by_n ON bus_dead_counts (n);
`;

/**
 * Dead letters by tenant: `bus_dead.tenant` is the letter's event's tenant ('' for none), indexed so a
 * tenant's letters are listed and trimmed without reading anyone else's, and `bus_dead_counts` holds
 * how many each tenant has. Triggers in the file keep both, whichever process writes: a process of an
 * older UEE inserts without the tenant (the column's default) and trims by position alone — its
 * letter gets its tenant from its event, and its trims are counted.
 */
const DEAD_LETTER_TENANTS = `
CREATE INDEX IF NOT EXISTS bus_dead_by_tenant ON bus_dead (tenant, n);
CREATE TRIGGER IF NOT EXISTS bus_dead_counted AFTER INSERT ON bus_dead
  BEGIN
    INSERT INTO bus_dead_counts (tenant, n) VALUES (NEW.tenant, 1) ON CONFLICT (tenant) DO UPDATE SET n = n + 1;
    INSERT INTO bus_dead_counts (tenant, n) VALUES ('*', 1) ON CONFLICT (tenant) DO UPDATE SET n = n + 1;
  END;
CREATE TRIGGER IF NOT EXISTS bus_dead_uncounted AFTER DELETE ON bus_dead
  BEGIN
    UPDATE bus_dead_counts SET n = n - 1 WHERE tenant IN (OLD.tenant, '*');
    DELETE FROM bus_dead_counts WHERE tenant = OLD.tenant AND n <= 0;
  END;
CREATE TRIGGER IF NOT EXISTS bus_dead_recounted AFTER UPDATE OF tenant ON bus_dead
  BEGIN
    UPDATE bus_dead_counts SET n = n - 1 WHERE tenant = OLD.tenant;
    DELETE FROM bus_dead_counts WHERE tenant = OLD.tenant AND n <= 0;
    INSERT INTO bus_dead_counts (tenant, n) VALUES (NEW.tenant, 1) ON CONFLICT (tenant) DO UPDATE SET n = n + 1;
  END;
CREATE TRIGGER IF NOT EXISTS bus_dead_tenant_of_older AFTER INSERT ON bus_dead
  WHEN NEW.tenant = '' AND json_valid(NEW.data) AND json_extract(NEW.data, '$.event.tenantId') IS NOT NULL
  BEGIN UPDATE bus_dead SET tenant = json_extract(NEW.data, '$.event.tenantId') WHERE n = NEW.n; END;
`;

/**
 * The route mark raised by the file itself whenever a queue's cursor goes above it — a read, a group
 * turned into a queue, a queue made — whichever process's statement moved it. This process raises
 * the mark in its own statements too (see EmbeddedBus.route, ensureQueue); the triggers are for a
 * process of an older UEE sharing the file, which moves cursors without raising it: a route by this
 * process of an entry between the mark and such a cursor would otherwise look up no cursor, and the
 * entry would never be read (BUS-E16, its older-UEE case).
 */
const ROUTE_MARK_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS bus_route_mark_read AFTER UPDATE OF last_n, routed ON bus_groups
  WHEN NEW.routed = 1 AND NEW.last_n > (SELECT n FROM bus_route_mark WHERE id = 1)
  BEGIN UPDATE bus_route_mark SET n = NEW.last_n WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS bus_route_mark_queue AFTER INSERT ON bus_groups
  WHEN NEW.routed = 1 AND NEW.last_n > (SELECT n FROM bus_route_mark WHERE id = 1)
  BEGIN UPDATE bus_route_mark SET n = NEW.last_n WHERE id = 1; END;
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
    if (!columns.some((c) => c.name === 'late')) db.exec('ALTER TABLE bus_groups ADD COLUMN late INTEGER NOT NULL DEFAULT 0');
    if (!columns.some((c) => c.name === 'overflowed')) db.exec('ALTER TABLE bus_groups ADD COLUMN overflowed INTEGER NOT NULL DEFAULT 0');
    // Files written before runs: per-entry PEL rows become one-entry runs, a queue's pending entries
    // go back into its rows, and a queue with rows at or below its cursor looks for unread ones.
    db.exec(`INSERT OR IGNORE INTO bus_leased (grp, lo, hi, consumer, delivered_at, deliveries)
               SELECT p.grp, p.n, p.n, p.consumer, p.delivered_at, p.deliveries FROM bus_pending p JOIN bus_groups g ON g.grp = p.grp;
             INSERT OR IGNORE INTO bus_queued (grp, n, ms) SELECT p.grp, p.n, p.ms FROM bus_pending p JOIN bus_groups g ON g.grp = p.grp WHERE g.routed = 1;
             DELETE FROM bus_pending;
             UPDATE bus_groups SET late = 1 WHERE routed = 1 AND late = 0 AND EXISTS (SELECT 1 FROM bus_queued q WHERE q.grp = bus_groups.grp AND q.n <= bus_groups.last_n);`);
    // New files, and files from before the route mark: the highest queue cursor or queued position.
    // Only then: the queued rows' max is a scan of bus_queued (no index leads with the position).
    if (db.prepare('SELECT 1 FROM bus_route_mark WHERE id = 1').get() === undefined) {
      db.exec(`INSERT INTO bus_route_mark (id, n)
                 SELECT 1, max(coalesce((SELECT max(last_n) FROM bus_groups WHERE routed = 1), 0), coalesce((SELECT max(n) FROM bus_queued), 0));`);
    }
    db.exec(ROUTE_MARK_TRIGGERS);
    // Dead letters by tenant (see DEAD_LETTER_TENANTS): files from before get the column, filled from
    // each letter's event, and the counts made from it.
    const deadColumns = db.prepare<[], { name: string }>('PRAGMA table_info(bus_dead)').all();
    if (!deadColumns.some((c) => c.name === 'tenant')) {
      db.exec(`ALTER TABLE bus_dead ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
               UPDATE bus_dead SET tenant = coalesce(json_extract(data, '$.event.tenantId'), '') WHERE json_valid(data);
               DELETE FROM bus_dead_counts;
               INSERT INTO bus_dead_counts (tenant, n) SELECT tenant, count(*) FROM bus_dead GROUP BY tenant;
               INSERT INTO bus_dead_counts (tenant, n) SELECT '*', count(*) FROM bus_dead;`);
    }
    db.exec(DEAD_LETTER_TENANTS);
  }).immediate();
}

/** Row shapes returned by {@link prepareBusStatements}. */
export interface EntryRow {
  n: number;
  ms: number;
  data: string;
}
/** A queue row with its entry's text (null: the entry is gone from the log). */
export interface QueuedRow {
  n: number;
  ms: number;
  data: string | null;
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
  late: number;
  overflowed: number;
}

/** Every statement the embedded bus runs, prepared once per connection. */
export function prepareBusStatements(db: Database) {
  const s = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
  const deadLists = new Map<string, Statement<unknown[], EntryRow>>();
  return {
    lastEntry: s<[], { n: number; ms: number }>('SELECT n, ms FROM bus_entries ORDER BY n DESC LIMIT 1'),
    firstEntry: s<[], { n: number }>('SELECT n FROM bus_entries ORDER BY n ASC LIMIT 1'),
    dedupe: s<[string, number, number]>(
      'INSERT INTO bus_dedupe (event_id, at) VALUES (?, ?) ON CONFLICT (event_id) DO UPDATE SET at = excluded.at WHERE bus_dedupe.at < ?',
    ),
    insertEntry: s<[number, string]>('INSERT INTO bus_entries (ms, data) VALUES (?, ?)'),
    trimEntries: s<[number]>('DELETE FROM bus_entries WHERE n <= ?'),
    countGroups: s<[], { n: number }>('SELECT count(*) AS n FROM bus_groups'),
    purgeDedupe: s<[number]>('DELETE FROM bus_dedupe WHERE at < ?'),
    /** Records a settle: lapse, settled_at, ids (a JSON array). */
    addSettling: s<[number, number, string]>('INSERT INTO bus_settling (lapse, settled_at, ids) VALUES (?, ?, ?)'),
    /** Settles lapsed by a time, oldest first, a page at a time. */
    lapsedSettling: s<[number, number], { n: number; settledAt: number; ids: string }>('SELECT n, settled_at AS settledAt, ids FROM bus_settling WHERE lapse <= ? ORDER BY lapse LIMIT +?'),
    /** Forgets a lapsed settle's ids: only rows published before it (a later copy is its own). */
    forgetSettled: s<[string, number]>('DELETE FROM bus_dedupe WHERE event_id IN (SELECT value FROM json_each(?)) AND at <= ?'),
    deleteSettling: s<[number]>('DELETE FROM bus_settling WHERE n = ?'),
    hasAfter: s<[number], { n: number }>('SELECT n FROM bus_entries WHERE n > ? LIMIT 1'),
    entriesAfter: s<[number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n > ? ORDER BY n LIMIT +?'),
    entriesFrom: s<[number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n >= ? ORDER BY n LIMIT +?'),
    entryData: s<[number], { data: string }>('SELECT data FROM bus_entries WHERE n = ?'),
    countAfter: s<[number], { c: number }>('SELECT count(*) AS c FROM bus_entries WHERE n > ?'),
    group: s<[string], GroupRow>('SELECT last_ms, last_n, routed, late, overflowed FROM bus_groups WHERE grp = ?'),
    createQueue: s<[string, number, number]>('INSERT INTO bus_groups (grp, last_ms, last_n, routed) VALUES (?, ?, ?, 1) ON CONFLICT (grp) DO NOTHING'),
    // A plain group turned into a queue keeps what it has not read yet: its unread tail is queued.
    queueUnread: s<[string, number]>('INSERT OR IGNORE INTO bus_queued (grp, n, ms) SELECT ?, n, ms FROM bus_entries WHERE n > ?'),
    markRouted: s<[string]>('UPDATE bus_groups SET routed = 1 WHERE grp = ?'),
    routeMark: s<[], { n: number }>('SELECT n FROM bus_route_mark WHERE id = 1'),
    raiseRouteMark: s<[number]>('UPDATE bus_route_mark SET n = max(n, ?) WHERE id = 1'),
    enqueue: s<[string, number, number]>('INSERT OR IGNORE INTO bus_queued (grp, n, ms) VALUES (?, ?, ?)'),
    hasQueuedAfter: s<[string, number], { n: number }>('SELECT n FROM bus_queued WHERE grp = ? AND n > ? LIMIT 1'),
    // A queue's unread rows: above its cursor (the common case), or (late = 1) any row no run covers.
    queuedAfter: s<[string, number, number], QueuedRow>(
      'SELECT q.n AS n, q.ms AS ms, e.data AS data FROM bus_queued q LEFT JOIN bus_entries e ON e.n = q.n WHERE q.grp = ? AND q.n > ? ORDER BY q.n LIMIT +?',
    ),
    queuedUncovered: s<[string, number], QueuedRow>(
      `SELECT q.n AS n, q.ms AS ms, e.data AS data FROM bus_queued q LEFT JOIN bus_entries e ON e.n = q.n
         WHERE q.grp = ? AND NOT EXISTS (SELECT 1 FROM bus_leased r WHERE r.grp = q.grp AND r.lo <= q.n AND r.hi >= q.n) ORDER BY q.n LIMIT +?`,
    ),
    queuedBetween: s<[string, number, number, number], QueuedRow>(
      'SELECT q.n AS n, q.ms AS ms, e.data AS data FROM bus_queued q LEFT JOIN bus_entries e ON e.n = q.n WHERE q.grp = ? AND q.n >= ? AND q.n <= ? ORDER BY q.n LIMIT +?',
    ),
    anyQueuedBetween: s<[string, number, number], { n: number }>('SELECT n FROM bus_queued WHERE grp = ? AND n >= ? AND n <= ? LIMIT 1'),
    isQueued: s<[string, number], { n: number }>('SELECT n FROM bus_queued WHERE grp = ? AND n = ?'),
    dequeueOne: s<[string, number]>('DELETE FROM bus_queued WHERE grp = ? AND n = ?'),
    markLate: s<[string]>('UPDATE bus_groups SET late = 1 WHERE grp = ? AND late = 0'),
    clearLate: s<[string]>('UPDATE bus_groups SET late = 0 WHERE grp = ?'),
    // A queue's rows above its cursor: all unread unless late (see above). One index range, no run looked up.
    countQueuedAfter: s<[string, number], { c: number }>('SELECT count(*) AS c FROM bus_queued WHERE grp = ? AND n > ?'),
    addOverflowed: s<[number, string]>('UPDATE bus_groups SET overflowed = overflowed + ? WHERE grp = ?'),
    // A queue's backlog with bounded work (EventBus.queueBacklogs): each counts at most its last parameter's rows.
    countQueuedAfterUpTo: s<[string, number, number], { c: number }>('SELECT count(*) AS c FROM (SELECT 1 FROM bus_queued WHERE grp = ? AND n > ? LIMIT +?)'),
    // A late queue's unread rows at or below its cursor, among the first rows there (pending ones, bounded by what readers hold, and late ones).
    countUncoveredUpToCursor: s<[string, number, number, string], { c: number }>(
      'SELECT count(*) AS c FROM (SELECT n FROM bus_queued WHERE grp = ? AND n <= ? ORDER BY n LIMIT +?) s WHERE NOT EXISTS (SELECT 1 FROM bus_leased r WHERE r.grp = ? AND r.lo <= s.n AND r.hi >= s.n)',
    ),
    countPendingUpTo: s<[string, number], { c: number }>(
      'SELECT count(*) AS c FROM (SELECT 1 FROM bus_leased r JOIN bus_queued q ON q.grp = r.grp AND q.n >= r.lo AND q.n <= r.hi WHERE r.grp = ? LIMIT +?)',
    ),
    countUnread: s<[string], { c: number }>(
      'SELECT count(*) AS c FROM bus_queued q WHERE q.grp = ? AND NOT EXISTS (SELECT 1 FROM bus_leased r WHERE r.grp = q.grp AND r.lo <= q.n AND r.hi >= q.n)',
    ),
    // The oldest entry any group still needs: its first pending or queued entry, or (plain groups)
    // the first entry it has not read. Retention never trims from there on. One index seek per group.
    oldestNeeded: s<[], { n: number | null; grp: string | null }>(
      `SELECT n, grp FROM (
         SELECT (SELECT r.lo FROM bus_leased r WHERE r.grp = g.grp ORDER BY r.lo LIMIT 1) AS n, g.grp AS grp FROM bus_groups g WHERE g.advisory = 0 AND g.routed = 0
         UNION ALL SELECT (SELECT q.n FROM bus_queued q WHERE q.grp = g.grp ORDER BY q.n LIMIT 1), g.grp FROM bus_groups g WHERE g.routed = 1
         UNION ALL SELECT last_n + 1, grp FROM bus_groups WHERE routed = 0 AND advisory = 0
       ) WHERE n IS NOT NULL ORDER BY n LIMIT 1`,
    ),
    idleConsumers: s<[string, number, string], { consumer: string }>(
      `SELECT c.consumer FROM bus_consumers c WHERE c.grp = ? AND (c.seen_at <= ? OR c.consumer = ?)
         AND NOT EXISTS (SELECT 1 FROM bus_leased r WHERE r.grp = c.grp AND r.consumer = c.consumer)`,
    ),
    registerProcess: s<[string, string, string, string, number, number]>(
      'INSERT OR REPLACE INTO bus_processes (name, host, boot, pidns, pid, seen_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    processOf: s<[string], { host: string; boot: string; pidns: string; pid: number }>('SELECT host, boot, pidns, pid FROM bus_processes WHERE name = ?'),
    leaseOwner: s<[string, number], { owner: string }>('SELECT owner FROM bus_leases WHERE name = ? AND expires_at > ?'),
    takeLeaseFrom: s<[string, number, string, string]>('UPDATE bus_leases SET owner = ?, expires_at = ? WHERE name = ? AND owner = ?'),
    deleteConsumer: s<[string, string]>('DELETE FROM bus_consumers WHERE grp = ? AND consumer = ?'),
    createGroup: s<[string, number, number, number]>(
      'INSERT INTO bus_groups (grp, last_ms, last_n, advisory) VALUES (?, ?, ?, ?) ON CONFLICT (grp) DO UPDATE SET advisory = excluded.advisory',
    ),
    advanceGroup: s<[number, number, string]>('UPDATE bus_groups SET last_ms = ?, last_n = ? WHERE grp = ?'),
    touchConsumer: s<[string, string, number]>(
      'INSERT INTO bus_consumers (grp, consumer, seen_at) VALUES (?, ?, ?) ON CONFLICT (grp, consumer) DO UPDATE SET seen_at = excluded.seen_at',
    ),
    consumers: s<[string], { consumer: string; seen_at: number }>('SELECT consumer, seen_at FROM bus_consumers WHERE grp = ? ORDER BY consumer'),
    // Pending runs (see runs.ts): over log positions for a plain group, over its rows for a queue.
    insertRun: s<[string, number, number, string, number, number]>('INSERT INTO bus_leased (grp, lo, hi, consumer, delivered_at, deliveries) VALUES (?, ?, ?, ?, ?, ?)'),
    deleteRun: s<[string, number]>('DELETE FROM bus_leased WHERE grp = ? AND lo = ?'),
    touchRun: s<[number, string, number]>('UPDATE bus_leased SET delivered_at = ? WHERE grp = ? AND lo = ?'),
    runsOverlapping: s<[string, number, number], RunRow>(
      'SELECT lo, hi, consumer, delivered_at, deliveries FROM bus_leased WHERE grp = ? AND lo <= ? AND hi >= ? ORDER BY lo',
    ),
    runs: s<[string], RunRow>('SELECT lo, hi, consumer, delivered_at, deliveries FROM bus_leased WHERE grp = ? ORDER BY lo'),
    entriesBetween: s<[number, number, number], EntryRow>('SELECT n, ms, data FROM bus_entries WHERE n >= ? AND n <= ? ORDER BY n LIMIT +?'),
    runPending: s<[string, number], PendingRow>(
      `SELECT e.n AS n, e.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? ORDER BY e.n LIMIT +?`,
    ),
    runPendingOf: s<[string, string, number], PendingRow>(
      `SELECT e.n AS n, e.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? AND r.consumer = ? ORDER BY e.n LIMIT +?`,
    ),
    runPendingByConsumer: s<[string], { consumer: string; c: number }>(
      'SELECT r.consumer AS consumer, count(*) AS c FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ? GROUP BY r.consumer',
    ),
    queueRunPending: s<[string, number], PendingRow>(
      `SELECT q.n AS n, q.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_queued q ON q.grp = r.grp AND q.n >= r.lo AND q.n <= r.hi WHERE r.grp = ? ORDER BY q.n LIMIT +?`,
    ),
    queueRunPendingOf: s<[string, string, number], PendingRow>(
      `SELECT q.n AS n, q.ms AS ms, r.consumer AS consumer, r.delivered_at AS delivered_at, r.deliveries AS deliveries
         FROM bus_leased r JOIN bus_queued q ON q.grp = r.grp AND q.n >= r.lo AND q.n <= r.hi WHERE r.grp = ? AND r.consumer = ? ORDER BY q.n LIMIT +?`,
    ),
    queueRunPendingByConsumer: s<[string], { consumer: string; c: number }>(
      'SELECT r.consumer AS consumer, count(*) AS c FROM bus_leased r JOIN bus_queued q ON q.grp = r.grp AND q.n >= r.lo AND q.n <= r.hi WHERE r.grp = ? GROUP BY r.consumer',
    ),
    runHolders: s<[string], { consumer: string }>('SELECT DISTINCT consumer FROM bus_leased WHERE grp = ?'),
    anyRun: s<[string], { lo: number }>('SELECT lo FROM bus_leased WHERE grp = ? LIMIT 1'),
    expireRunsOf: s<[string, string]>('UPDATE bus_leased SET delivered_at = 0 WHERE grp = ? AND consumer = ?'),
    // A plain group turned into a queue: its pending entries become queue rows (its runs stay).
    runsToQueued: s<[string]>(
      'INSERT OR IGNORE INTO bus_queued (grp, n, ms) SELECT r.grp, e.n, e.ms FROM bus_leased r JOIN bus_entries e ON e.n >= r.lo AND e.n <= r.hi WHERE r.grp = ?',
    ),
    deleteGroupRuns: s<[string]>('DELETE FROM bus_leased WHERE grp = ?'),
    lease: s<[string, string, number, number]>(
      'INSERT INTO bus_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE bus_leases.owner = excluded.owner OR bus_leases.expires_at <= ?',
    ),
    addCounter: s<[string, number], { n: number }>('INSERT INTO bus_counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = bus_counters.n + excluded.n RETURNING n'),
    readCounter: s<[string], { n: number }>('SELECT n FROM bus_counters WHERE name = ?'),
    renewLease: s<[number, string, string]>('UPDATE bus_leases SET expires_at = ? WHERE name = ? AND owner = ?'),
    releaseLease: s<[string, string]>('DELETE FROM bus_leases WHERE name = ? AND owner = ?'),
    deleteLease: s<[string]>('DELETE FROM bus_leases WHERE name = ?'),
    deleteGroup: s<[string]>('DELETE FROM bus_groups WHERE grp = ?'),
    queueNames: s<[], { grp: string }>('SELECT grp FROM bus_groups WHERE routed = 1'),
    deleteGroupQueued: s<[string]>('DELETE FROM bus_queued WHERE grp = ?'),
    deleteGroupConsumers: s<[string]>('DELETE FROM bus_consumers WHERE grp = ?'),
    insertDead: s<[number, string, string, string]>('INSERT INTO bus_dead (ms, grp, tenant, data) VALUES (?, ?, ?, ?)'),
    deadCount: s<[string], { n: number }>('SELECT n FROM bus_dead_counts WHERE tenant = ?'),
    deadTotal: s<[], { n: number }>("SELECT n FROM bus_dead_counts WHERE tenant = '*'"),
    deadMost: s<[], { tenant: string; n: number }>("SELECT tenant, n FROM bus_dead_counts WHERE tenant <> '*' ORDER BY n DESC LIMIT 1"),
    trimDeadOf: s<[string, number]>('DELETE FROM bus_dead WHERE n IN (SELECT n FROM bus_dead WHERE tenant = ? ORDER BY n LIMIT +?)'),
    deleteDead: s<[number, number]>('DELETE FROM bus_dead WHERE n = ? AND ms = ?'),
    deadAt: s<[number], EntryRow>('SELECT n, ms, data FROM bus_dead WHERE n = ?'),
    /** Dead letters of a tenant (`undefined`: any) and group (`undefined`: any), oldest or newest first. */
    deadList: (tenant: string | undefined, group: string | undefined, newestFirst: boolean, count: number): EntryRow[] => {
      const key = `${tenant === undefined ? '' : 't'}${group === undefined ? '' : 'g'}${newestFirst ? 'd' : 'a'}`;
      let stmt = deadLists.get(key);
      if (stmt === undefined) {
        const where = [tenant === undefined ? '' : 'tenant = ?', group === undefined ? '' : 'grp = ?'].filter((w) => w !== '');
        stmt = db.prepare<unknown[], EntryRow>(`SELECT n, ms, data FROM bus_dead ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY n ${newestFirst ? 'DESC' : 'ASC'} LIMIT +?`);
        deadLists.set(key, stmt);
      }
      return stmt.all(...[tenant, group].filter((x) => x !== undefined), count);
    },
  };
}

/** The prepared statements of one connection. */
export type BusStatements = ReturnType<typeof prepareBusStatements>;
