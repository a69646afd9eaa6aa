import { z } from 'zod';
import { UeeError, isReservedView, jsonBytes, parseOrThrow, type EventEnvelope, type JsonObject } from '../core/index.js';
import { compileFilter, type CompiledFilter, type FilterLimits } from '../store/index.js';

/**
 * Declarative projections: a read model defined as a fold of event types into documents, one per
 * key. The definition is data (validated here, bounded everywhere), never code: paths address the
 * event envelope (`entityId`, `payload.customerId`, …), the optional filter goes through the store's
 * filter front door under a small per-event budget, and every value written is size-capped, so a
 * hostile definition costs a bounded amount per event and cannot grow a document past the store's limits.
 */

/** Caps on a definition and on what applying it may write. */
export const PROJECTION_LIMITS = {
  /** Event types one projection consumes. */
  maxEventTypes: 32,
  /** Fields plus aggregates of one projection. */
  maxOutputs: 32,
  /** Segments of a path. */
  maxPathDepth: 8,
  /** JSON bytes of one field or `last` value; larger values are stored as null. */
  maxValueBytes: 4096,
  /** Characters of a key value (a read-model document id). */
  maxKeyLength: 256,
} as const;

/** Budget of the projection filter on one event: the shape limits of the front door, tighter. */
export const PROJECTION_FILTER_LIMITS: Partial<FilterLimits> = { maxDepth: 8, maxNodes: 256, maxArrayItems: 256, maxStepsPerDocument: 2000 };

const NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,99}$/;
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const OUTPUT = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

const PathSchema = z.string().min(1).max(256).describe('Dotted path in the event envelope, e.g. payload.customerId or entityId');

const AggregateSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('count') }).strict(),
  z.object({ op: z.enum(['sum', 'min', 'max', 'last']), path: PathSchema }).strict(),
]);

/** A projection definition as given by an agent. */
export const ProjectionDefinitionSchema = z
  .object({
    name: z.string().describe('The view name readers use'),
    events: z.array(z.string().min(1).max(128)).min(1).describe('Event types folded into the view'),
    key: PathSchema.describe('Path whose value is the document id (events without it are skipped)'),
    filter: z.record(z.string(), z.unknown()).optional().describe('Filter on the envelope (read-model filter language)'),
    fields: z.record(z.string(), PathSchema).optional().describe('Output field ← path (last value seen)'),
    aggregates: z.record(z.string(), AggregateSchema).optional().describe('Output field ← {op: count|sum|min|max|last, path}'),
  })
  .strict();

/** A projection definition. */
export type ProjectionDefinition = z.infer<typeof ProjectionDefinitionSchema>;

type Aggregate = z.infer<typeof AggregateSchema>;

/** A definition checked and compiled once. */
export interface CompiledProjection {
  readonly definition: ProjectionDefinition;
  readonly key: string[];
  readonly fields: ReadonlyArray<readonly [string, string[]]>;
  readonly aggregates: ReadonlyArray<readonly [string, Aggregate['op'], string[] | null]>;
  readonly filter: CompiledFilter | null;
}

function invalid(message: string, field: string, hint: string): UeeError {
  return new UeeError('VALIDATION_FAILED', `invalid projection: ${message}`, { details: { issues: [{ path: field, message }] }, hint });
}

function splitPath(path: string, field: string): string[] {
  const segments = path.split('.');
  if (segments.length > PROJECTION_LIMITS.maxPathDepth) {
    throw invalid(`path "${path.slice(0, 64)}" has ${segments.length} segments, over ${PROJECTION_LIMITS.maxPathDepth}`, field, `use a path of at most ${PROJECTION_LIMITS.maxPathDepth} segments, e.g. payload.attributes.status`);
  }
  for (const s of segments) {
    if (!SEGMENT.test(s) || FORBIDDEN.has(s)) throw invalid(`path "${path.slice(0, 64)}" has a bad segment "${s.slice(0, 64)}"`, field, 'path segments are letters, digits, "_" or "-", e.g. payload.customerId or entityId');
  }
  return segments;
}

/** Validates and compiles a definition: `VALIDATION_FAILED` or `INVALID_FILTER` with a hint naming what to change. */
export function compileProjection(raw: unknown): CompiledProjection {
  const def = parseOrThrow(ProjectionDefinitionSchema, raw, 'projection definition');
  if (!NAME.test(def.name) || isReservedView(def.name)) {
    throw invalid(`name "${def.name.slice(0, 64)}" is not a usable view name`, 'name', 'use 1-100 letters, digits, "_", "." or "-", starting with a letter, not starting with "uee."');
  }
  if (def.events.length > PROJECTION_LIMITS.maxEventTypes) throw invalid(`${def.events.length} event types, over ${PROJECTION_LIMITS.maxEventTypes}`, 'events', 'split the view into several projections');
  const fieldEntries = Object.entries(def.fields ?? {});
  const aggEntries = Object.entries(def.aggregates ?? {});
  if (fieldEntries.length + aggEntries.length > PROJECTION_LIMITS.maxOutputs) {
    throw invalid(`${fieldEntries.length + aggEntries.length} fields and aggregates, over ${PROJECTION_LIMITS.maxOutputs}`, 'aggregates', `keep fields + aggregates at ${PROJECTION_LIMITS.maxOutputs} or fewer`);
  }
  const seen = new Set<string>();
  for (const [name] of [...fieldEntries, ...aggEntries]) {
    if (!OUTPUT.test(name) || FORBIDDEN.has(name)) throw invalid(`output name "${name.slice(0, 64)}" is not allowed`, name, 'output names are letters, digits and "_", starting with a letter');
    if (seen.has(name)) throw invalid(`output "${name}" is both a field and an aggregate`, name, 'give each output one name');
    seen.add(name);
  }
  let filter: CompiledFilter | null = null;
  if (def.filter !== undefined && Object.keys(def.filter).length > 0) filter = compileFilter(def.filter, PROJECTION_FILTER_LIMITS);
  return {
    definition: def,
    key: splitPath(def.key, 'key'),
    fields: fieldEntries.map(([name, path]) => [name, splitPath(path, `fields.${name}`)] as const),
    aggregates: aggEntries.map(([name, a]) => [name, a.op, a.op === 'count' ? null : splitPath(a.path, `aggregates.${name}`)] as const),
    filter,
  };
}

/** The value at a path, own properties only; undefined when absent. */
function at(value: unknown, segments: readonly string[]): unknown {
  let cur: unknown = value;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, s)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

function capped(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'string' && value.length > PROJECTION_LIMITS.maxValueBytes ? null : value;
  return jsonBytes(value) > PROJECTION_LIMITS.maxValueBytes ? null : value;
}

/**
 * The document key of an event, or null when the event is skipped: filtered out, over the filter's
 * per-event budget, or without a usable key (a string of 1..256 characters, a finite number or a boolean).
 */
export function keyOf(p: CompiledProjection, event: EventEnvelope): string | null {
  if (p.filter !== null) {
    try {
      if (!p.filter.matches(event)) return null;
    } catch (err) {
      // Over the per-event budget: this event is skipped, the same way on every run.
      if (err instanceof UeeError) return null;
      throw err;
    }
  }
  const k = at(event, p.key);
  if (typeof k === 'string') return k.length > 0 && k.length <= PROJECTION_LIMITS.maxKeyLength ? k : null;
  if (typeof k === 'number' && Number.isFinite(k)) return String(k);
  if (typeof k === 'boolean') return String(k);
  return null;
}

function better(op: 'min' | 'max', current: unknown, v: unknown): boolean {
  if (typeof v !== 'number' && typeof v !== 'string') return false;
  if (current === undefined || current === null) return true;
  if (typeof current !== typeof v) return false;
  return op === 'min' ? v < (current as typeof v) : v > (current as typeof v);
}

/**
 * Folds one event into the document of its key (`doc` null: none yet). Returns a new document in
 * canonical order (`_key`, fields, aggregates, as defined), so the same events give byte-identical
 * documents however they are batched.
 */
export function applyEvent(p: CompiledProjection, key: string, doc: JsonObject | null, event: EventEnvelope): JsonObject {
  const out: JsonObject = { _key: key };
  for (const [name, path] of p.fields) {
    const v = at(event, path);
    const prev = doc?.[name];
    if (v !== undefined) out[name] = capped(v);
    else if (prev !== undefined) out[name] = prev;
  }
  for (const [name, op, path] of p.aggregates) {
    const prev = doc?.[name];
    const v = path === null ? undefined : at(event, path);
    if (op === 'count') out[name] = (typeof prev === 'number' ? prev : 0) + 1;
    else if (op === 'sum') {
      const base = typeof prev === 'number' ? prev : 0;
      const next = typeof v === 'number' ? base + v : base;
      out[name] = Number.isFinite(next) ? next : base;
    } else if (op === 'last') {
      if (v !== undefined) out[name] = capped(v);
      else if (prev !== undefined) out[name] = prev;
    } else {
      if (better(op, prev, v)) out[name] = capped(v);
      else if (prev !== undefined) out[name] = prev;
    }
  }
  return out;
}
