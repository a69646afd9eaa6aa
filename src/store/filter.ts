import { UeeError, type JsonObject } from '../core/index.js';
import { compileSafeRegex, regexOptionsOf } from './filter-regex.js';

/**
 * The MongoDB-style filter language every store accepts, checked against an allow-list before any
 * backend sees it. This is the one front door of every filter path — entity queries, read-model
 * queries, `query_read_model`, manifest `filter.where` — : {@link validateFilter} refuses anything
 * that could execute code (`$where`, `$function`, `$accumulator`, `$expr`) or that we do not know
 * with `INVALID_FILTER`, and bounds the filter's size (depth, nodes, array items, string lengths)
 * so that evaluating it costs a bounded amount per document. Regular expressions must be RE2
 * syntax (see `filter-regex.ts`). `compileFilter` (filter-compile.ts) evaluates validated filters
 * under a step budget; MongoDB runs them natively.
 */

/** Operators allowed at field position (`{ field: { $op: … } }`). */
const FIELD_OPERATORS = new Set([
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not', '$regex', '$options',
  '$size', '$all', '$elemMatch', '$type', '$mod',
]);

/** Operators allowed at top level (`{ $and: [ … ] }`). */
const LOGICAL_OPERATORS = new Set(['$and', '$or', '$nor']);

/** Operators refused for a reason worth telling the caller. */
const DANGEROUS_OPERATORS: Record<string, string> = {
  $where: 'it runs JavaScript',
  $function: 'it runs JavaScript',
  $accumulator: 'it runs JavaScript',
  $expr: 'aggregation expressions are not part of the filter language',
  $jsonSchema: 'schema validation is not part of the filter language',
};

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Max nesting of a filter (objects and arrays). */
export const MAX_FILTER_DEPTH = 16;
/** Max length of a `$regex` pattern. */
export const MAX_REGEX_LENGTH = 512;

/**
 * Bounds on a filter and on the work of evaluating it. The shape limits are checked once when the
 * filter is validated; the step and scan limits while it runs (`QUERY_TOO_COSTLY` when exceeded).
 */
export interface FilterLimits {
  /** Max nesting of objects and arrays. @default 16 */
  maxDepth: number;
  /** Max keys plus array items in the whole filter. @default 2048 */
  maxNodes: number;
  /** Max items of one `$in`, `$nin` or `$all` array (and of any literal array). @default 1000 */
  maxArrayItems: number;
  /** Max characters of one string value. @default 4096 */
  maxStringLength: number;
  /** Max characters of a `$regex` pattern. @default 512 */
  maxRegexLength: number;
  /** Max evaluation steps on one document (a comparison, a path segment, 32 characters a regex reads). @default 20000 */
  maxStepsPerDocument: number;
  /** Max evaluation steps of one query over all documents it examines. @default 2000000 */
  maxStepsPerQuery: number;
  /** Max documents one filtered query reads to fill a page. @default 20000 */
  maxDocumentsExamined: number;
  /** Max bytes of stored documents one filtered query reads to fill a page. @default 32 MiB */
  maxBytesExamined: number;
  /**
   * Max milliseconds one query may hold the main thread reading and evaluating documents (checked
   * every 16 documents): the bound on the event-loop stall a filtered scan can cause. @default 100
   */
  maxScanMs: number;
  /** Max milliseconds a backend that evaluates filters itself (MongoDB `maxTimeMS`) may spend on one query. @default 5000 */
  maxQueryMs: number;
}

/** Defaults of {@link FilterLimits}. */
export const DEFAULT_FILTER_LIMITS: Readonly<FilterLimits> = Object.freeze({
  maxDepth: MAX_FILTER_DEPTH,
  maxNodes: 2048,
  maxArrayItems: 1000,
  maxStringLength: 4096,
  maxRegexLength: MAX_REGEX_LENGTH,
  maxStepsPerDocument: 20_000,
  maxStepsPerQuery: 2_000_000,
  maxDocumentsExamined: 20_000,
  maxBytesExamined: 32 * 1024 * 1024,
  maxScanMs: 100,
  maxQueryMs: 5000,
});

/** Completes partial limits with {@link DEFAULT_FILTER_LIMITS}. */
export function filterLimits(partial: Partial<FilterLimits> = {}): FilterLimits {
  return { ...DEFAULT_FILTER_LIMITS, ...partial };
}

/** Walk state of one validation: the limits and the nodes counted so far. */
interface Walk {
  limits: FilterLimits;
  nodes: number;
}

function tooLarge(walk: Walk, limit: keyof FilterLimits, message: string, path: string, actual: number, operator?: string): UeeError {
  return new UeeError('INVALID_FILTER', message, {
    details: { path, limit, max: walk.limits[limit], actual, ...(operator === undefined ? {} : { operator }) },
    hint: `make the filter smaller: the limit ${limit} is ${walk.limits[limit]} (an operator setting of the platform, see the README "Security model")`,
  });
}

function countNode(walk: Walk, path: string, n = 1): void {
  walk.nodes += n;
  if (walk.nodes > walk.limits.maxNodes) throw tooLarge(walk, 'maxNodes', `filter has more than ${walk.limits.maxNodes} keys and items`, path, walk.nodes);
}

function checkArraySize(walk: Walk, arr: unknown[], path: string, operator?: string): void {
  if (arr.length > walk.limits.maxArrayItems) {
    throw tooLarge(walk, 'maxArrayItems', `array at ${path} has more than ${walk.limits.maxArrayItems} items`, path, arr.length, operator);
  }
}

const HINT =
  'use only $eq $ne $gt $gte $lt $lte $in $nin $exists $and $or $nor $not $regex $options $size $all $elemMatch $type $mod, on plain field paths';

function invalid(message: string, details: Record<string, unknown>): UeeError {
  return new UeeError('INVALID_FILTER', message, { details, hint: HINT });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkOperatorName(op: string, path: string, allowed: Set<string>): void {
  const reason = DANGEROUS_OPERATORS[op];
  if (reason !== undefined) {
    throw invalid(`filter operator ${op} is not allowed: ${reason}`, { operator: op, path });
  }
  if (!allowed.has(op)) {
    const where = allowed === LOGICAL_OPERATORS ? 'at top level' : 'at field position';
    throw invalid(`filter operator ${op} is unknown or not allowed ${where}`, { operator: op, path });
  }
}

/** Throws `INVALID_FILTER` unless `field` is a dotted path of safe segments. */
export function checkFieldPath(field: string, path = field): void {
  if (field.length === 0 || field.length > 256) throw invalid('filter field paths must be 1-256 characters', { field, path });
  for (const segment of field.split('.')) {
    if (segment.length === 0) throw invalid(`filter field "${field}" has an empty segment`, { field, path });
    if (segment.startsWith('$')) throw invalid(`filter field "${field}" starts a segment with "$"`, { field, operator: segment, path });
    if (FORBIDDEN_SEGMENTS.has(segment)) throw invalid(`filter field "${field}" uses the forbidden name "${segment}"`, { field, path });
  }
}

function checkDepth(walk: Walk, depth: number, path: string): void {
  if (depth > walk.limits.maxDepth) throw tooLarge(walk, 'maxDepth', `filter nests deeper than ${walk.limits.maxDepth} levels`, path, depth);
}

/** A literal value to compare with: no operators or poisonous keys anywhere inside. */
function checkLiteral(walk: Walk, value: unknown, path: string, depth: number): void {
  checkDepth(walk, depth, path);
  if (typeof value === 'string' && value.length > walk.limits.maxStringLength) {
    throw tooLarge(walk, 'maxStringLength', `string at ${path} is longer than ${walk.limits.maxStringLength} characters`, path, value.length);
  }
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
    throw invalid(`filter value at ${path} is not JSON`, { path });
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(`filter value at ${path} is not a finite number`, { path });
  if (value instanceof RegExp) {
    checkRegex(walk, value.source, regexOptionsOf(value), path);
    return;
  }
  if (Array.isArray(value)) {
    checkArraySize(walk, value, path);
    countNode(walk, path, value.length);
    value.forEach((item, i) => checkLiteral(walk, item, `${path}.${i}`, depth + 1));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (!isPlainObject(value)) throw invalid(`filter value at ${path} is not a plain object`, { path });
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('$')) throw invalid(`operator ${key} is not allowed inside a literal value`, { operator: key, path });
    if (FORBIDDEN_SEGMENTS.has(key)) throw invalid(`filter value at ${path} uses the forbidden key "${key}"`, { path });
    countNode(walk, path);
    checkLiteral(walk, item, `${path}.${key}`, depth + 1);
  }
}

function checkRegex(walk: Walk, source: unknown, options: unknown, path: string): void {
  if (typeof source !== 'string') throw invalid(`$regex at ${path} must be a string`, { operator: '$regex', path });
  if (source.length > walk.limits.maxRegexLength) {
    throw tooLarge(walk, 'maxRegexLength', `$regex at ${path} is longer than ${walk.limits.maxRegexLength} characters`, path, source.length, '$regex');
  }
  if (typeof options !== 'string') throw invalid(`$options at ${path} takes flags from "ims"`, { operator: '$options', path });
  compileSafeRegex(source, options, path);
}

function requireArray(op: string, operand: unknown, path: string): unknown[] {
  if (!Array.isArray(operand)) throw invalid(`${op} at ${path} takes an array`, { operator: op, path });
  return operand;
}

/** Validates `{ $op: operand, … }` at a field. */
function checkOperatorExpression(walk: Walk, expr: Record<string, unknown>, path: string, depth: number): void {
  checkDepth(walk, depth, path);
  const keys = Object.keys(expr);
  if (keys.length === 0) throw invalid(`empty operator expression at ${path}`, { path });
  for (const op of keys) {
    if (!op.startsWith('$')) throw invalid(`field "${op}" mixed with operators at ${path}`, { path, field: op });
    checkOperatorName(op, path, FIELD_OPERATORS);
    countNode(walk, path);
    const operand = expr[op];
    const at = `${path}.${op}`;
    switch (op) {
      case '$in':
      case '$nin':
      case '$all':
      {
        const items = requireArray(op, operand, at);
        checkArraySize(walk, items, at, op);
        countNode(walk, at, items.length);
        items.forEach((item, i) => {
          if (op === '$all' && isPlainObject(item) && '$elemMatch' in item) checkOperatorExpression(walk, item, `${at}.${i}`, depth + 2);
          else checkLiteral(walk, item, `${at}.${i}`, depth + 2);
        });
        break;
      }
      case '$size':
        if (typeof operand !== 'number' || !Number.isInteger(operand) || operand < 0) throw invalid(`$size at ${path} takes a non-negative integer`, { operator: op, path });
        break;
      case '$exists':
        if (typeof operand !== 'boolean' && operand !== 0 && operand !== 1) throw invalid(`$exists at ${path} takes a boolean`, { operator: op, path });
        break;
      case '$mod': {
        const arr = requireArray(op, operand, at);
        if (arr.length !== 2 || !arr.every((n) => typeof n === 'number' && Number.isFinite(n)) || arr[0] === 0) {
          throw invalid(`$mod at ${path} takes [divisor, remainder] with a non-zero divisor`, { operator: op, path });
        }
        break;
      }
      case '$type': {
        const types = Array.isArray(operand) ? operand : [operand];
        if (types.length === 0 || !types.every((t) => typeof t === 'string' || typeof t === 'number')) {
          throw invalid(`$type at ${path} takes a type name, number, or array of them`, { operator: op, path });
        }
        break;
      }
      case '$regex':
        if (operand instanceof RegExp) checkRegex(walk, operand.source, expr.$options ?? regexOptionsOf(operand), at);
        else checkRegex(walk, operand, expr.$options ?? '', at);
        break;
      case '$options':
        if (!('$regex' in expr)) throw invalid(`$options at ${path} needs $regex beside it`, { operator: op, path });
        if (typeof operand !== 'string' || operand.length > 8) throw invalid(`$options at ${path} takes flags from "ims"`, { operator: op, path });
        break;
      case '$not':
        if (operand instanceof RegExp) checkRegex(walk, operand.source, regexOptionsOf(operand), at);
        else if (isPlainObject(operand)) checkOperatorExpression(walk, operand, at, depth + 1);
        else throw invalid(`$not at ${path} takes an operator expression or a regular expression`, { operator: op, path });
        break;
      case '$elemMatch':
        if (!isPlainObject(operand)) throw invalid(`$elemMatch at ${path} takes an object`, { operator: op, path });
        if (isOperatorExpression(operand)) checkOperatorExpression(walk, operand, at, depth + 1);
        else checkFilterObject(walk, operand, at, depth + 1);
        break;
      default:
        checkLiteral(walk, operand, at, depth + 1);
    }
  }
}

function checkFilterObject(walk: Walk, filter: unknown, path: string, depth: number): void {
  checkDepth(walk, depth, path);
  if (!isPlainObject(filter)) throw invalid(`filter at ${path} must be a plain object`, { path });
  for (const [key, value] of Object.entries(filter)) {
    countNode(walk, path);
    if (key.startsWith('$')) {
      if (key.includes('.')) checkFieldPath(key, `${path}.${key}`);
      checkOperatorName(key, path, LOGICAL_OPERATORS);
      const parts = requireArray(key, value, `${path}.${key}`);
      if (parts.length === 0) throw invalid(`${key} at ${path} takes a non-empty array`, { operator: key, path });
      checkArraySize(walk, parts, `${path}.${key}`, key);
      parts.forEach((part, i) => checkFilterObject(walk, part, `${path}.${key}.${i}`, depth + 2));
      continue;
    }
    checkFieldPath(key, `${path}.${key}`);
    if (isFieldOperatorValue(value)) {
      checkOperatorExpression(walk, value, `${path}.${key}`, depth + 1);
    } else {
      checkLiteral(walk, value, `${path}.${key}`, depth + 1);
    }
  }
}

/** Whether a field's value is an operator expression (`{ $gt: 1 }`) rather than a literal to equal. */
export function isFieldOperatorValue(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'));
}

/** Whether an `$elemMatch` operand applies operators to the element itself rather than its fields. */
export function isOperatorExpression(value: Record<string, unknown>): boolean {
  return Object.keys(value).every((k) => k.startsWith('$') && !LOGICAL_OPERATORS.has(k));
}

/**
 * Throws `INVALID_FILTER` (naming the operator or field, the limit, and with a hint) unless `filter`
 * uses only allow-listed operators on safe field paths, stays within the shape limits of
 * {@link FilterLimits} and has only regular expressions the linear-time engine runs. Returns the
 * filter unchanged.
 */
export function validateFilter(filter: unknown, limits: Partial<FilterLimits> = DEFAULT_FILTER_LIMITS): JsonObject {
  if (filter === undefined) return {};
  checkFilterObject({ limits: filterLimits(limits), nodes: 0 }, filter, '(filter)', 0);
  return filter as JsonObject;
}

/**
 * Rewrites a validated filter so every field path is prefixed (e.g. `doc.` for read models stored
 * inside an envelope). Operator operands are left alone: `$elemMatch` paths are relative to the
 * array element.
 */
export function prefixFilter(filter: JsonObject, prefix: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(filter)) {
    if (LOGICAL_OPERATORS.has(key)) out[key] = (value as JsonObject[]).map((part) => prefixFilter(part, prefix));
    else out[`${prefix}${key}`] = value;
  }
  return out;
}
