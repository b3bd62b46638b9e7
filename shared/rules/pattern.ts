/**
 * Compiles an EventBridge event pattern (parsed JSON) into alternatives of field tests: the structure
 * (nested fields, value lists, `exists`, `$or`), with the value operators from ./operators.ts. Anything
 * EventBridge does not accept is refused here, before any event is looked at, with an
 * `InvalidPatternError` naming the path and the reason.
 */
import type { Scalar } from './event-leaves.ts';
import {
  checkExactNumber,
  fail,
  isObject,
  OPERATORS,
  operatorTest,
  show,
  type ValueTest,
} from './operators.ts';

/** A field of the pattern: its path, its value tests (any of), and whether absence satisfies it. */
export interface FieldTest {
  readonly path: string;
  readonly tests: readonly ValueTest[];
  /** `{"exists": false}` is in the list: the field may be missing (from the matched array element). */
  readonly absent: boolean;
  /** The pattern's list for this field, for explanations. */
  readonly matchers: readonly unknown[];
}

/** A pattern as alternatives ($or expanded); each alternative is fields that must all match. */
export type CompiledPattern = readonly (readonly FieldTest[])[];

/** More alternatives than this ($or combinations) are refused as too complex. */
export const MAX_ALTERNATIVES = 1000;

/** Keys that make a `$or` member a matcher rather than an object of fields (Event Ruler's rule). */
const OPERATOR_NAMES = new Set<string>([...OPERATORS, 'exactly']);

const anyValue: ValueTest = () => true;

function scalarTest(item: Scalar, where: string): ValueTest {
  if (typeof item === 'number') checkExactNumber(item, where);
  return (value) => value === item;
}

/** One field's list of matchers: any of them may match. */
function compileField(list: readonly unknown[], path: string): FieldTest {
  if (list.length === 0) fail(path, 'an empty list never matches (EventBridge refuses it)');
  const tests: ValueTest[] = [];
  let absent = false;
  for (const item of list) {
    if (isObject(item) && Object.keys(item).length === 1 && 'exists' in item) {
      if (typeof item.exists !== 'boolean')
        fail(path, `exists takes true or false, got ${show(item.exists)}`);
      if (item.exists) tests.push(anyValue);
      else absent = true;
    } else if (isObject(item)) tests.push(operatorTest(item, path));
    else if (Array.isArray(item)) fail(path, `a list of values cannot hold a list, got ${show(item)}`);
    else tests.push(scalarTest(item as Scalar, path));
  }
  return { path, tests, absent, matchers: list };
}

/** Event Ruler reads `$or` as "or" only for a list of two or more objects of fields (else a field name). */
function isOrList(value: unknown): value is Record<string, unknown>[] {
  return (
    Array.isArray(value) &&
    value.length >= 2 &&
    value.every((o) => isObject(o) && Object.keys(o).every((k) => !OPERATOR_NAMES.has(k)))
  );
}

/** A path given twice in one alternative (in and outside a `$or` member, or as "a.b" and a: {b}). */
function checkDistinct(fields: readonly FieldTest[], where: string): readonly FieldTest[] {
  const paths = new Set<string>();
  for (const { path } of fields) {
    if (paths.has(path)) {
      fail(
        where,
        `'${path}' is given twice for one event (Event Ruler lets one override the other or refuses it); give it once`,
      );
    }
    paths.add(path);
  }
  return fields;
}

function combine(left: CompiledPattern, right: CompiledPattern, where: string): CompiledPattern {
  if (left.length * right.length > MAX_ALTERNATIVES) {
    fail(where, `the $or combinations exceed ${MAX_ALTERNATIVES}; split the rule`);
  }
  return left.flatMap((a) => right.map((b) => checkDistinct([...a, ...b], where)));
}

function compileObject(pattern: unknown, path: string): CompiledPattern {
  const where = path || 'pattern';
  if (!isObject(pattern)) return fail(where, `expected an object of fields, got ${show(pattern)}`);
  const keys = Object.keys(pattern);
  if (keys.length === 0) fail(where, 'an empty object is not a pattern (EventBridge refuses it)');
  let alternatives: CompiledPattern = [[]];
  for (const key of keys) {
    const value = pattern[key];
    const here = path ? `${path}.${key}` : key;
    if (key === '$or' && isOrList(value)) {
      const members = value.flatMap((member) => compileObject(member, path));
      alternatives = combine(alternatives, members, here);
    } else if (Array.isArray(value)) {
      const field = compileField(value, here);
      alternatives = alternatives.map((a) => checkDistinct([...a, field], here));
    } else if (isObject(value)) {
      alternatives = combine(alternatives, compileObject(value, here), here);
    } else fail(here, `expected a list of values or an object of fields, got ${show(value)}`);
  }
  return alternatives;
}

/** Compiles (and so validates) an event pattern; throws `InvalidPatternError` for what EventBridge refuses. */
export function compileEventPattern(pattern: unknown): CompiledPattern {
  return compileObject(pattern, '');
}
