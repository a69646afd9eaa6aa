/**
 * Invocation records handed to the SQLite store's records writer thread: the main thread's time per
 * record to post a batch of 256, packed (`packRecords`, what the store does: numbers and string
 * references in one moved Float64Array, the strings named once)
 * against the drafts posted as they are (the baseline: a structured clone of each draft's objects),
 * in the same run, to a thread that only receives them. Each figure is the median of 15 rounds of
 * 40 batches; the thread drains between rounds.
 * Run: npm run bench -- records
 */
import { Worker } from 'node:worker_threads';
import type { InvocationRecordDraft } from '../src/store/invocations.js';
import { packRecords } from '../src/store/sqlite/records-codec.js';
import { noopRecord } from './_records.js';
import { median, printResult, printTable } from './_table.js';

const BATCH = 256;
const BATCHES = 40;
const ROUNDS = 15;

/** The i-th record of a batch: fixed ids, tenants in turn. */
const draft = (i: number): InvocationRecordDraft =>
  noopRecord({
    recordId: `0195f3d0-${String(i).padStart(4, '0')}-7000-8000-000000000000`,
    eventId: `0195f3d0-${String(i).padStart(4, '0')}-7000-9000-000000000000`,
    correlationId: `0195f3d0-${i}`,
    tenantId: `tenant-${i % 1000}`,
    at: new Date(1_764_763_200_000 + i).toISOString(),
    entityId: `t-${i}`,
  });

const batch = Array.from({ length: BATCH }, (_, i) => draft(i));
const sink = new Worker('require("node:worker_threads").parentPort.on("message", (m) => { if (m === "ping") require("node:worker_threads").parentPort.postMessage("pong"); });', { eval: true });
const drained = (): Promise<void> => new Promise((resolve) => {
  sink.once('message', () => resolve());
  sink.postMessage('ping');
});

/** µs of main-thread time per record, posting BATCHES batches with `post`: median of ROUNDS rounds. */
async function measure(post: () => void): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS + 2; r++) {
    await drained();
    const started = process.hrtime.bigint();
    for (let b = 0; b < BATCHES; b++) post();
    const ns = Number(process.hrtime.bigint() - started);
    if (r >= 2) rounds.push(ns / 1000 / (BATCHES * BATCH));
  }
  return median(rounds);
}

const objects: number[] = [];
const packed: number[] = [];
// Alternating, so drift on a shared machine falls on both alike.
for (let k = 0; k < 3; k++) {
  objects.push(await measure(() => sink.postMessage({ op: 'append', drafts: batch, id: 1 })));
  packed.push(
    await measure(() => {
      const p = packRecords(batch);
      sink.postMessage({ op: 'append', packed: p, id: 1 }, [p.slots.buffer]);
    }),
  );
}
await sink.terminate();
const o = median(objects);
const p = median(packed);
printTable(
  ['records to the writer thread', 'main-thread µs per record', 'vs drafts'],
  [
    ['drafts posted as they are (baseline)', o.toFixed(2), ''],
    ['packed (the store)', p.toFixed(2), (o / p).toFixed(2) + '×'],
  ],
);
printResult('records', { batch: BATCH, draftsUsPerRecord: Number(o.toFixed(3)), packedUsPerRecord: Number(p.toFixed(3)), speedup: Number((o / p).toFixed(2)) });
