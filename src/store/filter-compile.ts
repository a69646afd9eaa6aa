import { UeeError, type JsonObject } from '../core/index.js';
import { DEFAULT_FILTER_LIMITS, filterLimits, isFieldOperatorValue, isOperatorExpression, validateFilter, type FilterLimits } from './filter.js';
import { compileSafeRegex, regexOptionsOf, type SafeRegex } from './filter-regex.js';

/**
 * The evaluator of the filter language: a validated filter compiled once into predicates that
 * count their work. Every comparison, path segment and 32 characters a regular expression reads
 * is a step; a document costing more than `maxStepsPerDocument`, or a query more than
 * `maxStepsPerQuery` steps, `maxDocumentsExamined` documents, `maxBytesExamined` bytes or
 * `maxScanMs` milliseconds of main-thread time, stops with `QUERY_TOO_COSTLY`. With the shape limits checked by `validateFilter` and the linear-time
 * regular-expression engine, no tenant's filter can hold the main thread longer than its budget.
 *
 * Semantics follow MongoDB's query language (as mingo evaluated it before): a path through an
 * array reaches the elements' fields, and operators other than `$size`, `$all` and `$elemMatch`
 * match an array when one of its elements matches.
 */

/** Counts the steps of evaluations; throws `QUERY_TOO_COSTLY` past a limit. */
class Meter {
  steps = 0;
  docSteps = 0;
  constructor(readonly limits: FilterLimits) {}

  charge(n: number): void {
    this.docSteps += n;
    if (this.docSteps > this.limits.maxStepsPerDocument) throw tooCostly(this.limits, 'maxStepsPerDocument', this.docSteps);
  }
}

function tooCostly(limits: FilterLimits, limit: keyof FilterLimits, actual: number): UeeError {
  return new UeeError('QUERY_TOO_COSTLY', `the filter exceeded its evaluation budget: ${limit} is ${limits[limit]}`, {
    details: { limit, max: limits[limit], actual },
    hint:
      limit === 'maxDocumentsExamined' || limit === 'maxBytesExamined' || limit === 'maxScanMs'
        ? `narrow the query so fewer documents are scanned to fill a page: filter on fewer documents (e.g. a more specific entityTypeId or view), or ask for a smaller limit; the platform limit ${limit} is ${limits[limit]}`
        : `simplify the filter (fewer $or branches, shorter $in lists, fewer or simpler $regex on long strings); the platform limit ${limit} is ${limits[limit]}`,
  });
}

type Predicate = (doc: unknown, meter: Meter) => boolean;
/** Tests one value reached by a path (not expanded through arrays). */
type ValueTest = (value: unknown, meter: Meter) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const DIGITS = /^\d+$/;

/** The values a dotted path reaches, expanding through arrays like MongoDB; charges one step per hop. */
function resolvePath(doc: unknown, segments: readonly string[], meter: Meter): unknown[] {
  // Fast path: plain objects all the way down (no arrays on the way) reach at most one value.
  let value = doc;
  let i = 0;
  for (; i < segments.length; i++) {
    if (Array.isArray(value)) break;
    meter.charge(1);
    if (!isObject(value)) return [];
    const seg = segments[i]!;
    if (!Object.hasOwn(value, seg)) return [];
    value = value[seg];
  }
  if (i === segments.length) return [value];
  const out: unknown[] = [];
  const walk = (current: unknown, at: number): void => {
    meter.charge(1);
    if (at === segments.length) {
      out.push(current);
      return;
    }
    const seg = segments[at]!;
    if (Array.isArray(current)) {
      if (DIGITS.test(seg)) {
        const idx = Number(seg);
        if (idx < current.length) walk(current[idx], at + 1);
        return;
      }
      for (const item of current) if (isObject(item) && Object.hasOwn(item, seg)) walk(item[seg], at + 1);
      return;
    }
    if (isObject(current) && Object.hasOwn(current, seg)) walk(current[seg], at + 1);
  };
  walk(value, i);
  return out;
}

/** Deep equality (object keys in any order), one step per node compared. */
function equal(a: unknown, b: unknown, meter: Meter): boolean {
  meter.charge(1);
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof RegExp || b instanceof RegExp) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i], meter));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], meter));
}

function regexTest(re: SafeRegex, value: unknown, meter: Meter): boolean {
  if (typeof value !== 'string') return false;
  meter.charge(1 + Math.ceil(value.length / 32));
  return re.test(value);
}

/** A value test that also matches an array having one element that passes. */
function orElement(test: ValueTest): ValueTest {
  return (value, meter) => test(value, meter) || (Array.isArray(value) && value.some((item) => test(item, meter)));
}

/** Equality with a literal (a `RegExp` literal tests strings), matching array elements too. */
function equalsTest(literal: unknown, path: string): ValueTest {
  if (literal instanceof RegExp) {
    const re = compileSafeRegex(literal.source, regexOptionsOf(literal), path);
    return orElement((v, m) => regexTest(re, v, m));
  }
  return orElement((v, m) => equal(v, literal, m));
}

const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  array: Array.isArray,
  bool: (v) => typeof v === 'boolean',
  boolean: (v) => typeof v === 'boolean',
  number: (v) => typeof v === 'number',
  double: (v) => typeof v === 'number',
  decimal: (v) => typeof v === 'number',
  int: (v) => Number.isInteger(v),
  long: (v) => Number.isInteger(v),
  null: (v) => v === null,
  object: isObject,
  string: (v) => typeof v === 'string',
  '1': (v) => typeof v === 'number',
  '2': (v) => typeof v === 'string',
  '3': isObject,
  '4': Array.isArray,
  '8': (v) => typeof v === 'boolean',
  '10': (v) => v === null,
  '16': (v) => Number.isInteger(v),
  '18': (v) => Number.isInteger(v),
  '19': (v) => typeof v === 'number',
};

/** Comparison within one type (numbers with numbers, strings with strings, …), like MongoDB. */
function comparable(a: unknown, b: unknown): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a !== typeof b) return false;
  return typeof a === 'number' || typeof a === 'string' || typeof a === 'boolean';
}

function compareTest(op: string, operand: unknown): ValueTest {
  const ok = (c: number): boolean => (op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0);
  return orElement((v, meter) => {
    meter.charge(1);
    if (!comparable(v, operand)) return false;
    if (v === null) return ok(0);
    const a = v as number | string | boolean;
    const b = operand as number | string | boolean;
    return ok(a < b ? -1 : a > b ? 1 : 0);
  });
}

/**
 * Compiles `{ $op: operand, … }` at one field into a predicate over the values the path reaches
 * (`values` is empty when the field is missing).
 */
function compileOperators(expr: Record<string, unknown>, limits: FilterLimits, path: string): (values: unknown[], meter: Meter) => boolean {
  const parts: Array<(values: unknown[], meter: Meter) => boolean> = [];
  const anyValue = (test: ValueTest) => (values: unknown[], meter: Meter) => values.some((v) => test(v, meter));
  for (const [op, operand] of Object.entries(expr)) {
    const at = `${path}.${op}`;
    switch (op) {
      case '$eq':
        parts.push(equalsPredicate(operand, at));
        break;
      case '$ne': {
        const eq = equalsPredicate(operand, at);
        parts.push((values, meter) => !eq(values, meter));
        break;
      }
      case '$in':
      case '$nin': {
        const tests = (operand as unknown[]).map((item, i) => equalsPredicate(item, `${at}.${i}`));
        const inTest = (values: unknown[], meter: Meter): boolean => tests.some((t) => t(values, meter));
        parts.push(op === '$in' ? inTest : (values, meter) => !inTest(values, meter));
        break;
      }
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const test = compareTest(op, operand);
        // `$gte: null` and `$lte: null` also match a missing field, as `$eq: null` does.
        const nullish = operand === null && (op === '$gte' || op === '$lte');
        parts.push((values, meter) => (nullish && values.length === 0) || values.some((v) => test(v, meter)));
        break;
      }
      case '$exists':
        parts.push((values) => (values.length > 0) === (operand === true || operand === 1));
        break;
      case '$regex': {
        const options = typeof expr.$options === 'string' ? expr.$options : operand instanceof RegExp ? regexOptionsOf(operand) : '';
        const re = compileSafeRegex(operand instanceof RegExp ? operand.source : (operand as string), options, at);
        parts.push(anyValue(orElement((v, m) => regexTest(re, v, m))));
        break;
      }
      case '$options':
        break;
      case '$not': {
        let inner: (values: unknown[], meter: Meter) => boolean;
        if (operand instanceof RegExp) {
          const re = compileSafeRegex(operand.source, regexOptionsOf(operand), at);
          inner = anyValue(orElement((v, m) => regexTest(re, v, m)));
        } else {
          inner = compileOperators(operand as Record<string, unknown>, limits, at);
        }
        parts.push((values, meter) => !inner(values, meter));
        break;
      }
      case '$size':
        parts.push(anyValue((v, m) => (m.charge(1), Array.isArray(v) && v.length === operand)));
        break;
      case '$all': {
        const items = operand as unknown[];
        const tests = items.map((item, i): ValueTest => {
          if (isObject(item) && '$elemMatch' in item) return elemMatchTest(item.$elemMatch as Record<string, unknown>, limits, `${at}.${i}`);
          const re = item instanceof RegExp ? compileSafeRegex(item.source, regexOptionsOf(item), `${at}.${i}`) : undefined;
          const eq: ValueTest = re === undefined ? (v, m) => equal(v, item, m) : (v, m) => regexTest(re, v, m);
          return (arr, meter) => (arr as unknown[]).some((el) => eq(el, meter));
        });
        parts.push(anyValue((v, meter) => Array.isArray(v) && v.length > 0 && tests.length > 0 && tests.every((t) => t(v, meter))));
        break;
      }
      case '$elemMatch':
        parts.push(anyValue(elemMatchTest(operand as Record<string, unknown>, limits, at)));
        break;
      case '$type': {
        const names = (Array.isArray(operand) ? operand : [operand]).map(String);
        const tests = names.map((n) => TYPE_TESTS[n]).filter((t): t is (v: unknown) => boolean => t !== undefined);
        parts.push(anyValue((v, m) => (m.charge(1), tests.some((t) => t(v)))));
        break;
      }
      case '$mod': {
        const [divisor, remainder] = operand as [number, number];
        parts.push(anyValue(orElement((v, m) => (m.charge(1), typeof v === 'number' && v % divisor === remainder))));
        break;
      }
      default:
        // validateFilter refuses every other operator; reaching here means the two disagree.
        throw new UeeError('INVALID_FILTER', `filter operator ${op} is not supported`, { details: { operator: op, path }, hint: 'use only allow-listed operators' });
    }
  }
  return (values, meter) => parts.every((p) => p(values, meter));
}

/** Equality over the values a path reaches: `null` also matches a missing field. */
function equalsPredicate(literal: unknown, path: string): (values: unknown[], meter: Meter) => boolean {
  const test = equalsTest(literal, path);
  if (literal === null) return (values, meter) => values.length === 0 || values.some((v) => test(v, meter));
  return (values, meter) => values.some((v) => test(v, meter));
}

function elemMatchTest(operand: Record<string, unknown>, limits: FilterLimits, path: string): ValueTest {
  if (isOperatorExpression(operand)) {
    const ops = compileOperators(operand, limits, path);
    return (v, meter) => Array.isArray(v) && v.some((item) => ops([item], meter));
  }
  const pred = compileObject(operand, limits, path);
  return (v, meter) => Array.isArray(v) && v.some((item) => isObject(item) && pred(item, meter));
}

function compileObject(filter: Record<string, unknown>, limits: FilterLimits, path: string): Predicate {
  const parts: Predicate[] = [];
  for (const [key, value] of Object.entries(filter)) {
    const at = `${path}.${key}`;
    if (key === '$and' || key === '$or' || key === '$nor') {
      const subs = (value as Array<Record<string, unknown>>).map((sub, i) => compileObject(sub, limits, `${at}.${i}`));
      if (key === '$and') parts.push((doc, meter) => subs.every((s) => s(doc, meter)));
      else if (key === '$or') parts.push((doc, meter) => subs.some((s) => s(doc, meter)));
      else parts.push((doc, meter) => !subs.some((s) => s(doc, meter)));
      continue;
    }
    const segments = key.split('.');
    const test = isFieldOperatorValue(value) ? compileOperators(value, limits, at) : equalsPredicate(value, at);
    parts.push((doc, meter) => test(resolvePath(doc, segments, meter), meter));
  }
  return (doc, meter) => parts.every((p) => p(doc, meter));
}

/** Per-query counters of a {@link CompiledFilter} scan. */
export interface ScanStats {
  documents: number;
  bytes: number;
  steps: number;
}

/** One query's pass over stored documents, holding the per-query budget. */
export interface FilterScan {
  /**
   * Whether `doc` matches; `bytes` is the stored size read to get it (charged to
   * `maxBytesExamined`). Throws `QUERY_TOO_COSTLY` when this document or the query so far is over
   * budget.
   */
  test(doc: unknown, bytes?: number): boolean;
  readonly stats: Readonly<ScanStats>;
}

/** A validated filter, compiled once, evaluated under a budget. */
export interface CompiledFilter {
  /** The validated filter as given. */
  readonly filter: JsonObject;
  /** True for `{}`: every document matches and nothing needs evaluating. */
  readonly acceptsAll: boolean;
  readonly limits: Readonly<FilterLimits>;
  /** Whether one document matches; throws `QUERY_TOO_COSTLY` past `maxStepsPerDocument`. */
  matches(doc: unknown): boolean;
  /** Starts a query's pass over many documents, bounded by the per-query limits too. */
  scan(): FilterScan;
}

/**
 * Validates `filter` (the one front door: `INVALID_FILTER` for anything outside the allow-list or
 * the shape limits, and regular expressions RE2 cannot run) and compiles it into a
 * {@link CompiledFilter}.
 */
export function compileFilter(filter: unknown, limits: Partial<FilterLimits> = DEFAULT_FILTER_LIMITS): CompiledFilter {
  const all = filterLimits(limits);
  const valid = validateFilter(filter, all);
  const acceptsAll = Object.keys(valid).length === 0;
  const predicate = compileObject(valid, all, '(filter)');
  const once = (doc: unknown, meter: Meter): boolean => {
    meter.docSteps = 0;
    try {
      return predicate(doc, meter);
    } finally {
      meter.steps += meter.docSteps;
    }
  };
  return {
    filter: valid,
    acceptsAll,
    limits: all,
    matches: (doc) => acceptsAll || once(doc, new Meter(all)),
    scan: () => {
      const meter = new Meter(all);
      const stats = { documents: 0, bytes: 0, steps: 0 };
      const started = performance.now();
      return {
        stats,
        test(doc, bytes = 0) {
          stats.documents += 1;
          stats.bytes += bytes;
          if (stats.documents > all.maxDocumentsExamined) throw tooCostly(all, 'maxDocumentsExamined', stats.documents);
          if (stats.bytes > all.maxBytesExamined) throw tooCostly(all, 'maxBytesExamined', stats.bytes);
          if (stats.documents % 16 === 0) {
            const elapsed = performance.now() - started;
            if (elapsed > all.maxScanMs) throw tooCostly(all, 'maxScanMs', Math.round(elapsed));
          }
          if (acceptsAll) return true;
          const matched = once(doc, meter);
          stats.steps = meter.steps;
          if (meter.steps > all.maxStepsPerQuery) throw tooCostly(all, 'maxStepsPerQuery', meter.steps);
          return matched;
        },
      };
    },
  };
}

/** Compiled subscription filters, keyed by the (immutable) filter object of a plugin record. */
const compiledWhere = new WeakMap<object, CompiledFilter | UeeError>();

/**
 * Whether an event passes a plugin's manifest `filter.where`: the filter is compiled once per filter
 * object and evaluated under the per-document budget. A filter that is invalid (stored before
 * deploy-time validation) or over budget for this event matches nothing; `onRefused` hears why.
 */
export function matchesSubscription(where: JsonObject, event: unknown, onRefused?: (err: UeeError) => void): boolean {
  let compiled = compiledWhere.get(where);
  if (compiled === undefined) {
    try {
      compiled = compileFilter(where);
    } catch (err) {
      compiled = err instanceof UeeError ? err : new UeeError('INVALID_FILTER', 'the subscription filter cannot be compiled', { cause: err });
    }
    compiledWhere.set(where, compiled);
  }
  if (compiled instanceof UeeError) {
    onRefused?.(compiled);
    return false;
  }
  try {
    return compiled.matches(event);
  } catch (err) {
    if (!(err instanceof UeeError)) throw err;
    onRefused?.(err);
    return false;
  }
}
