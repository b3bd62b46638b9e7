/**
 * A local evaluator of EventBridge event patterns, so rules can be tested without AWS. It follows the
 * documented semantics (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
 * eb-event-patterns-content-based-filtering.html) for every operator the sync-rule compiler produces, plus
 * suffix and equals-ignore-case:
 * - every field named in the pattern must match (AND); a field's list matches if any of its items does (OR);
 * - the event is flattened: arrays are looked through at every level, and a field whose event value is an
 *   array matches if any element matches (the intersection is non-empty);
 * - exact values keep their JSON type (1 never matches "1", null only matches null, "" only matches "");
 * - prefix / suffix / equals-ignore-case match strings only; numeric matches JSON numbers only;
 * - anything-but matches a present value that is none of the listed ones (never a missing field);
 * - exists works on leaves only: a field holding an object is treated as absent, so `exists: false` matches
 *   it and `exists: true` does not; a field holding null exists.
 * Operators the compiler never produces (wildcard, cidr, $or) are refused with a clear error rather than
 * guessed at.
 */

export class InvalidPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPatternError';
  }
}

export interface MatchResult {
  readonly matched: boolean;
  /** For each pattern field that did not match: `<path>: <why>`. Empty when matched. */
  readonly mismatches: readonly string[];
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** The leaf values at a dotted path, looking through arrays at every level. Objects are not leaves. */
function leafValues(event: unknown, path: readonly string[]): unknown[] {
  let nodes: unknown[] = [event];
  for (const part of path) {
    const next: unknown[] = [];
    const visit = (node: unknown) => {
      if (Array.isArray(node)) for (const element of node) visit(element);
      else if (isObject(node) && Object.hasOwn(node, part)) next.push(node[part]);
    };
    for (const node of nodes) visit(node);
    nodes = next;
  }
  const leaves: unknown[] = [];
  const flatten = (value: unknown) => {
    if (Array.isArray(value)) for (const element of value) flatten(element);
    else if (!isObject(value)) leaves.push(value);
  };
  for (const node of nodes) flatten(node);
  return leaves;
}

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

function numericMatches(spec: unknown, value: unknown, where: string): boolean {
  if (!Array.isArray(spec) || spec.length === 0 || spec.length % 2 !== 0) {
    throw new InvalidPatternError(`${where}: numeric takes pairs of operator and number`);
  }
  let ok = typeof value === 'number';
  for (let i = 0; i < spec.length; i += 2) {
    const op = spec[i];
    const bound = spec[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPERATORS.has(op) || typeof bound !== 'number') {
      throw new InvalidPatternError(`${where}: numeric has an invalid comparison ${show([op, bound])}`);
    }
    if (!ok || typeof value !== 'number') continue;
    if (op === '=') ok = value === bound;
    else if (op === '<') ok = value < bound;
    else if (op === '<=') ok = value <= bound;
    else if (op === '>') ok = value > bound;
    else ok = value >= bound;
  }
  return ok;
}

/** `prefix` / `suffix` take a string or `{ "equals-ignore-case": string }`. */
function stringOperand(spec: unknown, where: string): { text: string; ignoreCase: boolean } {
  if (typeof spec === 'string') return { text: spec, ignoreCase: false };
  if (isObject(spec) && Object.keys(spec).length === 1 && typeof spec['equals-ignore-case'] === 'string') {
    return { text: spec['equals-ignore-case'], ignoreCase: true };
  }
  throw new InvalidPatternError(`${where}: expected a string or {"equals-ignore-case": string}`);
}

function startsWith(value: unknown, operand: { text: string; ignoreCase: boolean }): boolean {
  if (typeof value !== 'string') return false;
  return operand.ignoreCase
    ? value.toLowerCase().startsWith(operand.text.toLowerCase())
    : value.startsWith(operand.text);
}

function endsWith(value: unknown, operand: { text: string; ignoreCase: boolean }): boolean {
  if (typeof value !== 'string') return false;
  return operand.ignoreCase
    ? value.toLowerCase().endsWith(operand.text.toLowerCase())
    : value.endsWith(operand.text);
}

function exactMatches(expected: unknown, value: unknown): boolean {
  return expected === value;
}

function anythingButMatches(spec: unknown, value: unknown, where: string): boolean {
  if (spec === null || typeof spec === 'string' || typeof spec === 'number' || typeof spec === 'boolean') {
    return value !== spec;
  }
  if (Array.isArray(spec)) {
    if (spec.length === 0) throw new InvalidPatternError(`${where}: anything-but list is empty`);
    return !spec.some((excluded) => excluded === value);
  }
  if (isObject(spec) && Object.keys(spec).length === 1) {
    const [key] = Object.keys(spec);
    if (key === 'prefix')
      return typeof value === 'string' && !startsWith(value, stringOperand(spec.prefix, where));
    if (key === 'suffix')
      return typeof value === 'string' && !endsWith(value, stringOperand(spec.suffix, where));
    if (key === 'equals-ignore-case') {
      const list = Array.isArray(spec[key]) ? spec[key] : [spec[key]];
      if (typeof value !== 'string') return false;
      return !list.some((s: unknown) => typeof s === 'string' && s.toLowerCase() === value.toLowerCase());
    }
  }
  throw new InvalidPatternError(`${where}: unsupported anything-but operand ${show(spec)}`);
}

/** Whether one matcher object (not exists) accepts one leaf value. */
function operatorMatches(matcher: Record<string, unknown>, value: unknown, where: string): boolean {
  const keys = Object.keys(matcher);
  const [key] = keys;
  if (keys.length !== 1 || key === undefined) {
    throw new InvalidPatternError(
      `${where}: a matcher object has exactly one operator, got ${show(matcher)}`,
    );
  }
  const spec = matcher[key];
  switch (key) {
    case 'prefix':
      return startsWith(value, stringOperand(spec, where));
    case 'suffix':
      return endsWith(value, stringOperand(spec, where));
    case 'equals-ignore-case':
      if (typeof spec !== 'string')
        throw new InvalidPatternError(`${where}: equals-ignore-case takes a string`);
      return typeof value === 'string' && value.toLowerCase() === spec.toLowerCase();
    case 'anything-but':
      return anythingButMatches(spec, value, where);
    case 'numeric':
      return numericMatches(spec, value, where);
    default:
      throw new InvalidPatternError(`${where}: unsupported operator '${key}'`);
  }
}

function describeValues(values: readonly unknown[]): string {
  if (values.length === 0) return 'missing';
  if (values.length === 1) return show(values[0]);
  return `values ${show(values)}`;
}

/** Evaluates one leaf list against the values found at its path; undefined when it matches. */
function leafMismatch(
  matchers: readonly unknown[],
  values: readonly unknown[],
  where: string,
): string | undefined {
  if (matchers.length === 0) throw new InvalidPatternError(`${where}: an empty list never matches`);
  for (const matcher of matchers) {
    if (isObject(matcher) && Object.keys(matcher).length === 1 && 'exists' in matcher) {
      if (typeof matcher.exists !== 'boolean')
        throw new InvalidPatternError(`${where}: exists takes true or false`);
      if (matcher.exists === values.length > 0) return undefined;
      continue;
    }
    for (const value of values) {
      if (isObject(matcher) ? operatorMatches(matcher, value, where) : exactMatches(matcher, value)) {
        return undefined;
      }
    }
  }
  return `${where}: ${describeValues(values)} does not match ${show(matchers)}`;
}

function walk(pattern: unknown, event: unknown, path: readonly string[], mismatches: string[]): void {
  if (!isObject(pattern)) {
    throw new InvalidPatternError(`${path.join('.') || 'pattern'}: expected an object of fields`);
  }
  const keys = Object.keys(pattern);
  if (keys.length === 0)
    throw new InvalidPatternError(`${path.join('.') || 'pattern'}: empty objects are not allowed`);
  for (const key of keys) {
    if (key === '$or')
      throw new InvalidPatternError(`${[...path, key].join('.')}: $or is not supported locally`);
    const sub = pattern[key];
    const here = [...path, key];
    if (Array.isArray(sub)) {
      const problem = leafMismatch(sub, leafValues(event, here), here.join('.'));
      if (problem) mismatches.push(problem);
    } else {
      walk(sub, event, here, mismatches);
    }
  }
}

/** Evaluates an EventBridge event pattern against an event (both parsed JSON). */
export function matchEventPattern(pattern: unknown, event: unknown): MatchResult {
  const mismatches: string[] = [];
  walk(pattern, event as Json, [], mismatches);
  return { matched: mismatches.length === 0, mismatches };
}
