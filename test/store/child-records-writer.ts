// Child process for RECORDS-THREAD-8: records 50 invocation records on the SQLite store at argv[2]
// (buffered: a 60 s flush interval), then, by argv[3]: `close` closes the recorder and the store the
// way the app shuts down and prints "closed"; `drain` only asks for a flush, never awaits it, and
// lets the script end — the process must stay alive until what the flush promised is written;
// `append` hands the 50 straight to the store, never flushes, and lets the script end — the records
// thread has taken them, so the process must stay alive until its group is written.
import { InvocationRecords } from '../../src/app/index.js';
import { newId, silentLogger } from '../../src/core/index.js';
import { openSqliteStore, type InvocationRecordDraft } from '../../src/store/index.js';

const store = await openSqliteStore({ path: process.argv[2]! });
await store.tenants.create('acme');
// The records thread is running (and its start-up done) before anything is recorded.
await store.invocations.purgeBefore('2000-01-01T00:00:00.000Z');
const records = new InvocationRecords(store.invocations, { retentionMs: 3_600_000, flushMs: 60_000, logger: silentLogger });
const drafts: InvocationRecordDraft[] = [];
for (let i = 0; i < 50; i++) {
  const at = new Date().toISOString();
  drafts.push({
    tenantId: 'acme',
    at,
    event: { eventId: newId(), type: 'Tick', correlationId: newId(), causationId: null, hop: 0 },
    plugin: { id: 'p-1', name: 'child', version: 1 },
    attempt: 1,
    trigger: 'router',
    outcome: 'ok',
    durationMs: 1,
    usage: { hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 0 },
    effects: { committed: false, writes: [], events: [], readModelOps: 0, timers: 0, omitted: 0 },
    models: [],
  });
}
if (process.argv[3] === 'append') {
  await store.invocations.append(drafts);
} else {
  for (const d of drafts) records.record(d);
}
if (process.argv[3] === 'close') {
  await records.close();
  await store.close();
  process.stdout.write('closed\n');
} else if (process.argv[3] === 'drain') {
  void records.flush();
}
