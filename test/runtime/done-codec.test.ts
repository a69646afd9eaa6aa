import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DONE_STRIDE, packDone, unpackDone } from '../../src/runtime/done-codec.js';
import type { BatchDoneMessage, DoneMessage } from '../../src/runtime/protocol.js';

// A batch's results cross from the worker packed (packDone): what the main thread reads back must be
// what the JSON text of the results gave, field by field, for every way a call can end.

const ok: DoneMessage = { id: 7, status: 'ok', text: '{"handled":"Tick"}', outputBytes: 18, hostCalls: 0, logs: [], droppedLogs: 0, instantiateUs: 0, durationMs: 0.0123456789, directIo: true };
const quiet: DoneMessage = { id: 8, status: 'ok', outputBytes: 0, hostCalls: 2, logs: [], droppedLogs: 0, instantiateUs: 1534, durationMs: 3 };
const failed: DoneMessage = {
  id: 9,
  status: 'error',
  rc: -7,
  text: '{"code":"E_THING","message":"no \\"thing\\" here \u2028"}',
  outputBytes: 0,
  hostCalls: 1,
  logs: [
    { level: 'warn', message: 'about to fail', fields: { n: 1, nested: { list: [1, 'two', null, true] } } },
    { level: 'info', message: 'ünïcödé 😀' },
  ],
  droppedLogs: 3,
  instantiateUs: 0,
  durationMs: 12.5,
  directIo: true,
};
const zeroRc: DoneMessage = { id: 10, status: 'error', rc: 0, text: '', outputBytes: 0, hostCalls: 0, logs: [], droppedLogs: 0, instantiateUs: 0, durationMs: 0 };
const trapped: DoneMessage = { id: 11, status: 'trap', text: 'unreachable executed', outputBytes: 0, hostCalls: 0, logs: [], droppedLogs: 0, instantiateUs: 0, durationMs: 0.5 };
const aborted: DoneMessage = {
  id: Number.MAX_SAFE_INTEGER,
  status: 'aborted',
  abort: { code: 'BUDGET_EXCEEDED', message: 'too many host calls', details: { limit: 'hostCalls', budget: 10 } },
  outputBytes: 0,
  hostCalls: 10,
  logs: [{ level: 'error', message: 'x' }],
  droppedLogs: 0,
  instantiateUs: 0,
  durationMs: 1,
};
const abortedByHost: DoneMessage = { id: 12, status: 'aborted', outputBytes: 0, hostCalls: 0, logs: [], droppedLogs: 0, instantiateUs: 0, durationMs: 250 };

/** What the results' JSON text gave the main thread before. */
const viaJson = (done: DoneMessage[]): DoneMessage[] => JSON.parse(JSON.stringify(done)) as DoneMessage[];

describe('DONE-CODEC-1 a batch of results packed by the worker reads back as its JSON text did', () => {
  const all = [ok, quiet, failed, zeroRc, trapped, aborted, abortedByHost];

  it('every status, with and without rc, text, logs, abort, direct I/O', () => {
    const { message } = packDone(all);
    const back = unpackDone(message);
    expect(back).toEqual(viaJson(all));
    // toEqual takes an undefined field for a missing one: check those that must be absent or present.
    expect(back.map((d) => d.rc)).toEqual([undefined, undefined, -7, 0, undefined, undefined, undefined]);
    expect(back.map((d) => d.directIo)).toEqual([true, undefined, true, undefined, undefined, undefined, undefined]);
    expect(back.map((d) => d.text)).toEqual([ok.text, undefined, failed.text, '', trapped.text, undefined, undefined]);
    expect(back.map((d) => d.abort)).toEqual([undefined, undefined, undefined, undefined, undefined, aborted.abort, undefined]);
    expect(back[2]!.logs).toEqual(failed.logs);
    expect(back[5]!.logs).toEqual(aborted.logs);
    expect(back[0]!.logs).toEqual([]);
  });

  it('only what calls have crosses: no texts array without a text, no rare part without logs or an abort', () => {
    const { message } = packDone([quiet, abortedByHost]);
    expect(message.numbers.length).toBe(2 * DONE_STRIDE);
    expect(message.texts).toBeUndefined();
    expect(message.rare).toBeUndefined();
    expect(unpackDone(message)).toEqual(viaJson([quiet, abortedByHost]));
    expect(unpackDone(packDone([]).message)).toEqual([]);
  });

  it('crosses a message port with its numbers moved, not copied', () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const { message, transfer } = packDone(all);
      port1.postMessage(message, transfer);
      expect(message.numbers.byteLength).toBe(0); // the sender's buffer is detached
      const received = receiveMessageOnPort(port2)!.message as BatchDoneMessage;
      expect(unpackDone(received)).toEqual(viaJson(all));
    } finally {
      port1.close();
    }
  });
});
