import { UeeError, type JsonObject } from '../core/index.js';

/**
 * The MongoDB-style filter language every store accepts, checked against an allow-list before any
 * backend sees it. Both adapters call {@link validateFilter}: SQLite then evaluates the filter with
 * mingo, MongoDB runs it natively. Anything that could execute code (`$where`, `$function`,
 * `$accumulator`, `$expr`) or that we do not know is refused with `INVALID_FILTER`.
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

function checkDepth(depth: number, path: string): void {
  if (depth > MAX_FILTER_DEPTH) throw invalid(`filter nests deeper than ${MAX_FILTER_DEPTH} levels`, { path, limit: MAX_FILTER_DEPTH });
}

/** A literal value to compare with: no operators or poisonous keys anywhere inside. */
function checkLiteral(value: unknown, path: string, depth: number): void {
  checkDepth(depth, path);
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
    throw invalid(`filter value at ${path} is not JSON`, { path });
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(`filter value at ${path} is not a finite number`, { path });
  if (value instanceof RegExp) {
    checkRegex(value.source, path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkLiteral(item, `${path}.${i}`, depth + 1));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (!isPlainObject(value)) throw invalid(`filter value at ${path} is not a plain object`, { path });
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('$')) throw invalid(`operator ${key} is not allowed inside a literal value`, { operator: key, path });
    if (FORBIDDEN_SEGMENTS.has(key)) throw invalid(`filter value at ${path} uses the forbidden key "${key}"`, { path });
    checkLiteral(item, `${path}.${key}`, depth + 1);
  }
}

function checkRegex(source: unknown, path: string): void {
  if (typeof source !== 'string') throw invalid(`$regex at ${path} must be a string`, { operator: '$regex', path });
  if (source.length > MAX_REGEX_LENGTH) {
    throw invalid(`$regex at ${path} is longer than ${MAX_REGEX_LENGTH} characters`, {
      operator: '$regex',
      path,
      limit: MAX_REGEX_LENGTH,
      actual: source.length,
    });
  }
  try {
    new RegExp(source);
  } catch (cause) {
    throw new UeeError('INVALID_FILTER', `$regex at ${path} is not a valid regular expression`, {
      details: { operator: '$regex', path },
      hint: 'fix the pattern',
      cause,
    });
  }
}

function requireArray(op: string, operand: unknown, path: string): unknown[] {
  if (!Array.isArray(operand)) throw invalid(`${op} at ${path} takes an array`, { operator: op, path });
  return operand;
}

/** Validates `{ $op: operand, … }` at a field. */
function checkOperatorExpression(expr: Record<string, unknown>, path: string, depth: number): void {
  checkDepth(depth, path);
  const keys = Object.keys(expr);
  if (keys.length === 0) throw invalid(`empty operator expression at ${path}`, { path });
  for (const op of keys) {
    if (!op.startsWith('$')) throw invalid(`field "${op}" mixed with operators at ${path}`, { path, field: op });
    checkOperatorName(op, path, FIELD_OPERATORS);
    const operand = expr[op];
    const at = `${path}.${op}`;
    switch (op) {
      case '$in':
      case '$nin':
      case '$all':
        requireArray(op, operand, at).forEach((item, i) => {
          if (op === '$all' && isPlainObject(item) && '$elemMatch' in item) checkOperatorExpression(item, `${at}.${i}`, depth + 2);
          else checkLiteral(item, `${at}.${i}`, depth + 2);
        });
        break;
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
        checkRegex(operand instanceof RegExp ? operand.source : operand, at);
        break;
      case '$options':
        if (!('$regex' in expr)) throw invalid(`$options at ${path} needs $regex beside it`, { operator: op, path });
        if (typeof operand !== 'string' || !/^[imsx]*$/.test(operand)) throw invalid(`$options at ${path} takes flags from "imsx"`, { operator: op, path });
        break;
      case '$not':
        if (operand instanceof RegExp) checkRegex(operand.source, at);
        else if (isPlainObject(operand)) checkOperatorExpression(operand, at, depth + 1);
        else throw invalid(`$not at ${path} takes an operator expression or a regular expression`, { operator: op, path });
        break;
      case '$elemMatch':
        if (!isPlainObject(operand)) throw invalid(`$elemMatch at ${path} takes an object`, { operator: op, path });
        if (Object.keys(operand).every((k) => k.startsWith('$') && !LOGICAL_OPERATORS.has(k))) checkOperatorExpression(operand, at, depth + 1);
        else checkFilterObject(operand, at, depth + 1);
        break;
      default:
        checkLiteral(operand, at, depth + 1);
    }
  }
}

function checkFilterObject(filter: unknown, path: string, depth: number): void {
  checkDepth(depth, path);
  if (!isPlainObject(filter)) throw invalid(`filter at ${path} must be a plain object`, { path });
  for (const [key, value] of Object.entries(filter)) {
    if (key.startsWith('$')) {
      if (key.includes('.')) checkFieldPath(key, `${path}.${key}`);
      checkOperatorName(key, path, LOGICAL_OPERATORS);
      const parts = requireArray(key, value, `${path}.${key}`);
      if (parts.length === 0) throw invalid(`${key} at ${path} takes a non-empty array`, { operator: key, path });
      parts.forEach((part, i) => checkFilterObject(part, `${path}.${key}.${i}`, depth + 2));
      continue;
    }
    checkFieldPath(key, `${path}.${key}`);
    if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      checkOperatorExpression(value, `${path}.${key}`, depth + 1);
    } else {
      checkLiteral(value, `${path}.${key}`, depth + 1);
    }
  }
}

/**
 * Throws `INVALID_FILTER` (naming the operator or field and with a hint) unless `filter` uses only
 * allow-listed operators on safe field paths, nests at most {@link MAX_FILTER_DEPTH} levels and has
 * regular expressions of at most {@link MAX_REGEX_LENGTH} characters. Returns the filter unchanged.
 */
export function validateFilter(filter: unknown): JsonObject {
  if (filter === undefined) return {};
  checkFilterObject(filter, '(filter)', 0);
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
