/** Effects as the runtime buffers them (writes, emitted events, read-model operations, timers). */
export interface EffectLists {
  writes: ReadonlyArray<unknown>;
  events: ReadonlyArray<unknown>;
  readModelOps: ReadonlyArray<unknown>;
  timers: ReadonlyArray<unknown>;
}

/** What one side of a shadow comparison did with an event. */
export type ShadowSide = { ok: true; effects: EffectLists } | { ok: false; error: { code: string; message: string } };

/** The difference between the live and the candidate version on one event. */
export interface EffectDiff {
  eventId: string;
  eventType: string;
  /** `effects`: both succeeded with different effects; `outcome`: one failed and the other did not. */
  kind: 'effects' | 'outcome';
  /** Normalised effects only the live version produced (or its error). */
  onlyLive: string[];
  /** Normalised effects only the candidate produced (or its error). */
  onlyCandidate: string[];
}

const MINTED = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_EFFECT_CHARS = 500;

/**
 * Compares the live version's effects with the candidate's on one event; undefined when they are the
 * same. Effects are compared as multisets of normalised JSON lines (`write Task {…}`, `emit X {…}`,
 * `readModel upsert v/id {…}`, `timer schedule …`): ids minted during the call (UUIDv7 entity and
 * event ids, other than the event's own entity) are replaced by `<new>`, since each run mints its own; `pluginId` (the version's id, recorded on timers) is left out.
 */
export function diffEffects(event: { eventId: string; type: string; entityId?: string | undefined }, live: ShadowSide, candidate: ShadowSide): EffectDiff | undefined {
  if (!live.ok || !candidate.ok) {
    if (!live.ok && !candidate.ok && live.error.code === candidate.error.code) return undefined;
    return { eventId: event.eventId, eventType: event.type, kind: 'outcome', onlyLive: side(event.entityId, live), onlyCandidate: side(event.entityId, candidate) };
  }
  const a = lines(event.entityId, live.effects);
  const b = lines(event.entityId, candidate.effects);
  const left = new Map<string, number>();
  for (const l of a) left.set(l, (left.get(l) ?? 0) + 1);
  const onlyCandidate: string[] = [];
  for (const l of b) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else onlyCandidate.push(l);
  }
  const onlyLive = [...left].flatMap(([l, n]) => Array<string>(n).fill(l));
  if (onlyLive.length === 0 && onlyCandidate.length === 0) return undefined;
  return { eventId: event.eventId, eventType: event.type, kind: 'effects', onlyLive, onlyCandidate };
}

function side(entityId: string | undefined, s: ShadowSide): string[] {
  return s.ok ? lines(entityId, s.effects) : [`error ${s.error.code}: ${s.error.message}`.slice(0, MAX_EFFECT_CHARS)];
}

/** The normalised lines of an effect set, in the plugin's order per kind. */
export function lines(entityId: string | undefined, e: EffectLists): string[] {
  const norm = (v: unknown): string => JSON.stringify(v, (k, x: unknown) => (k === 'pluginId' ? undefined : typeof x === 'string' && x !== entityId && MINTED.test(x) ? '<new>' : x)).slice(0, MAX_EFFECT_CHARS);
  return [
    ...e.writes.map((w) => `write ${norm(w)}`),
    ...e.events.map((ev) => `emit ${norm(ev)}`),
    ...e.readModelOps.map((op) => `readModel ${norm(op)}`),
    ...e.timers.map((t) => `timer ${norm(t)}`),
  ];
}
