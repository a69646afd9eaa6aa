/**
 * Test harness: runs compiled plugins on @extism/extism 1.0.3 in main-thread mode with an in-memory
 * host implementing the `extism:host/user` functions of docs/plugin-abi.md (the runtime is written in
 * parallel; this is the contract as the toolchains see it).
 */
import createPlugin from '@extism/extism';
import type { Plugin } from '@extism/extism';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ensureEngine } from '../../src/compiler/index.js';
import { parseWasm } from '../../src/core/wasm/index.js';
import type { EngineArtifact } from '../../src/compiler/index.js';

let enginePromise: Promise<EngineArtifact> | undefined;

/** The engine, built once per content hash (minutes the first time, then cached in engine/build/). */
export function sharedEngine(): Promise<EngineArtifact> {
  enginePromise ??= ensureEngine();
  return enginePromise;
}

/** Reads a fixture under test/fixtures/plugins. */
export function fixture(path: string): Promise<string> {
  return readFile(fileURLToPath(new URL(`../fixtures/plugins/${path}`, import.meta.url)), 'utf8');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- host requests are arbitrary JSON
type Json = any;
interface CallContextLike {
  read(addr: bigint): { json(): Json; text(): string } | null;
  store(data: string): bigint;
}

/** An in-memory host: entities by id, and every call and buffered effect recorded in order. */
export class FakeHost {
  readonly entities = new Map<string, Json>();
  readonly calls: { fn: string; request: Json }[] = [];
  readonly effects: { fn: string; request: Json }[] = [];
  modelAnswer: Json = 0.9;
  private seq = 0;

  addEntity(e: Json): void {
    this.entities.set(String(e.entityId), e);
  }

  private answer(fn: string, request: Json): Json {
    switch (fn) {
      case 'read_entity':
        return { ok: true, value: this.entities.get(String(request.entityId)) ?? null };
      case 'write_entity': {
        const cur = this.entities.get(String(request.entityId));
        if (cur && request.expectedVersion !== undefined && cur.version !== request.expectedVersion) {
          return { ok: false, error: { code: 'VERSION_CONFLICT', message: `version is ${cur.version}` } };
        }
        const version = (cur?.version ?? 0) + 1;
        this.effects.push({ fn, request });
        return { ok: true, value: { entityId: String(request.entityId ?? `e-${++this.seq}`), version } };
      }
      case 'call_model':
        return { ok: true, value: this.modelAnswer };
      case 'emit_event':
      case 'spawn_workflow':
        this.effects.push({ fn, request });
        return { ok: true, value: { eventId: `ev-${++this.seq}` } };
      case 'schedule_timer':
        this.effects.push({ fn, request });
        return { ok: true, value: { timerId: request.timerId ?? `t-${++this.seq}` } };
      case 'get_tenant_config':
        return { ok: true, value: { tenant: { name: 'acme' }, plugin: {} } };
      case 'query_read_model':
        return { ok: true, value: { items: [] } };
      case 'log':
        return { ok: true, value: {} };
      default:
        this.effects.push({ fn, request });
        return { ok: true, value: {} };
    }
  }

  /** Host functions for the imports a module declares (Extism requires every import to be provided). */
  functions(imports: readonly string[]): Record<string, Record<string, (cp: CallContextLike, off: bigint) => bigint>> {
    const fns: Record<string, (cp: CallContextLike, off: bigint) => bigint> = {};
    for (const name of imports) {
      fns[name] = (cp, off) => {
        const request = cp.read(off)?.json();
        this.calls.push({ fn: name, request });
        return cp.store(JSON.stringify(this.answer(name, request)));
      };
    }
    return { 'extism:host/user': fns };
  }
}

/** Outcome of one call: output JSON (or null) or the plugin's `{ code, message }` error. */
export type CallOutcome = { ok: true; output: Json } | { ok: false; error: { code: string; message: string } };

/** A plugin instance bound to a host. */
export interface Loaded {
  readonly plugin: Plugin;
  call(input: Json, fn?: string): Promise<CallOutcome>;
  close(): Promise<void>;
}

/** Instantiates `wasm` on Extism (main thread, no WASI) with `host`'s functions. */
export async function load(wasm: Uint8Array, host: FakeHost): Promise<Loaded> {
  const imports = parseWasm(wasm).imports.filter((i) => i.module === 'extism:host/user').map((i) => i.name);
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: host.functions(imports) });
  // As the runtime does (docs/plugin-abi.md): `_initialize` once per instance, before the first call.
  if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
  return {
    plugin,
    async call(input, fn = 'handle') {
      try {
        const out = await plugin.call(fn, JSON.stringify(input));
        const text = out?.text() ?? '';
        return { ok: true, output: text === '' ? null : JSON.parse(text) };
      } catch (err) {
        const msg = (err as Error).message.replace(/^Plugin-originated error: /, '');
        try {
          return { ok: false, error: JSON.parse(msg) };
        } catch {
          return { ok: false, error: { code: 'RAW', message: msg } };
        }
      }
    },
    close: () => plugin.close(),
  };
}

/** A `handle` input per docs/plugin-abi.md. */
export function eventInput(type: string, over: Json = {}): Json {
  return {
    event: {
      eventId: 'ev-1', type, tenantId: 't1', entityId: 'task-1', entityTypeId: 'task', payload: {},
      occurredAt: '2026-11-26T12:00:00.000Z', correlationId: 'c1', causationId: null, hop: 0, source: 'test',
      ...over.event,
    },
    settings: over.settings ?? {},
    context: {
      now: '2026-11-26T12:00:00.000Z', randomSeed: '0123456789abcdef0123456789abcdef', tenantId: 't1',
      plugin: { id: 'p1', name: 'test', version: '1.0.0' },
      ...over.context,
    },
    ...(over.entity ? { entity: over.entity } : {}),
  };
}
