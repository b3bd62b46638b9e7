/**
 * The value operators of EventBridge event patterns (one matcher object such as `{"prefix": "a"}`) as
 * tests on one leaf value, refusing with a clear `InvalidPatternError` any operator or operand EventBridge
 * does not accept. Semantics and refusals are listed in docs/sync-rules.md ("Event pattern operators").
 */
import { isIP } from 'node:net';
import type { Scalar } from './event-leaves.ts';

export class InvalidPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPatternError';
  }
}

/** One way a leaf value can satisfy a field. */
export type ValueTest = (value: Scalar) => boolean;

/** EventBridge documents numeric matching for values in [-1e9, 1e9] with six decimal places. */
export const NUMERIC_LIMIT = 1e9;

/** EventBridge's matcher operators, as refusal messages list them (`exists` itself is read in pattern.ts). */
export const OPERATORS = [
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'numeric',
  'cidr',
  'exists',
] as const;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function fail(where: string, message: string): never {
  throw new InvalidPatternError(`${where}: ${message}`);
}

// ---- string operators ----

function sameIgnoringCase(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase() || a.toUpperCase() === b.toUpperCase();
}

function stringOperand(spec: unknown, where: string, op: string): { text: string; ignoreCase: boolean } {
  if (typeof spec === 'string') return { text: spec, ignoreCase: false };
  const keys = isObject(spec) ? Object.keys(spec) : [];
  if (isObject(spec) && keys.length === 1 && typeof spec['equals-ignore-case'] === 'string') {
    return { text: spec['equals-ignore-case'], ignoreCase: true };
  }
  return fail(where, `${op} takes a string or {"equals-ignore-case": string}, got ${show(spec)}`);
}

function prefixTest(text: string, ignoreCase: boolean): (s: string) => boolean {
  if (!ignoreCase) return (s) => s.startsWith(text);
  return (s) => s.length >= text.length && sameIgnoringCase(s.slice(0, text.length), text);
}

function suffixTest(text: string, ignoreCase: boolean): (s: string) => boolean {
  if (!ignoreCase) return (s) => s.endsWith(text);
  return (s) => s.length >= text.length && sameIgnoringCase(s.slice(s.length - text.length), text);
}

/** A wildcard value as a regular expression: `*` any run of characters, `\*` and `\\` literal. */
function wildcardTest(spec: unknown, where: string): (s: string) => boolean {
  if (typeof spec !== 'string') return fail(where, `wildcard takes a string, got ${show(spec)}`);
  if (spec.includes('**')) fail(where, `wildcard ${show(spec)} has consecutive '*' (EventBridge refuses it)`);
  let source = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (c === '*') source += '[\\s\\S]*';
    else if (c !== '\\') source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else {
      const next = spec[++i];
      if (next !== '*' && next !== '\\')
        fail(where, `wildcard ${show(spec)}: '\\' may only escape '*' or '\\'`);
      source += `\\${next}`;
    }
  }
  const regex = new RegExp(`^${source}$`, 'u');
  return (s) => regex.test(s);
}

function stringsOf(spec: unknown, where: string, op: string): string[] {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0 || !list.every((s) => typeof s === 'string')) {
    return fail(where, `${op} takes a string or a non-empty list of strings, got ${show(spec)}`);
  }
  return list as string[];
}

// ---- numeric and cidr ----

function checkBound(bound: unknown, where: string): number {
  if (typeof bound !== 'number' || !Number.isFinite(bound))
    return fail(where, `numeric bound ${show(bound)} is not a number`);
  if (Math.abs(bound) > NUMERIC_LIMIT) {
    fail(
      where,
      `numeric bound ${bound} is outside [-1e9, 1e9], the range EventBridge supports for numeric matching`,
    );
  }
  if (Math.round(bound * 1e6) / 1e6 !== bound) {
    fail(where, `numeric bound ${bound} has more than the six decimal places EventBridge supports`);
  }
  return bound;
}

const COMPARE: Readonly<Record<string, (a: number, b: number) => boolean>> = {
  '=': (a, b) => a === b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/** `["op", n]`, or a range `[">"|">=", low, "<"|"<=", high]` with low < high. */
function numericTest(spec: unknown, where: string): (n: number) => boolean {
  const usage = 'numeric takes ["<op>", number] or [">"|">=", low, "<"|"<=", high]';
  if (!Array.isArray(spec) || (spec.length !== 2 && spec.length !== 4))
    return fail(where, `${usage}, got ${show(spec)}`);
  const [op1, b1, op2, b2] = spec as unknown[];
  const first = typeof op1 === 'string' ? COMPARE[op1] : undefined;
  if (!first) return fail(where, `${usage}; ${show(op1)} is not an operator`);
  const low = checkBound(b1, where);
  if (spec.length === 2) return (n) => first(n, low);
  const second = typeof op2 === 'string' && (op2 === '<' || op2 === '<=') ? COMPARE[op2] : undefined;
  if (!second || (op1 !== '>' && op1 !== '>=')) return fail(where, `${usage}, got ${show(spec)}`);
  const high = checkBound(b2, where);
  if (!(low < high)) fail(where, `numeric range ${show(spec)} is empty (low must be below high)`);
  return (n) => first(n, low) && second(n, high);
}

/** Whether an IP address (string) lies in a CIDR block, compared bit by bit. */
function cidrTest(spec: unknown, where: string): (s: string) => boolean {
  const [address = '', bits, ...rest] = typeof spec === 'string' ? spec.split('/') : [];
  const family = isIP(address);
  const width = family === 6 ? 128 : 32;
  const prefix = bits === undefined ? width : /^\d+$/.test(bits) ? Number(bits) : Number.NaN;
  if (family === 0 || rest.length > 0 || !(prefix >= 0 && prefix <= width)) {
    return fail(where, `cidr takes an IPv4 or IPv6 block such as "10.0.0.0/24", got ${show(spec)}`);
  }
  const network = ipBits(address);
  return (s) => isIP(s) === family && ipBits(s).slice(0, prefix) === network.slice(0, prefix);
}

/** An IP address as a string of bits (IPv4: 32, IPv6: 128). */
function ipBits(address: string): string {
  if (isIP(address) === 4)
    return address
      .split('.')
      .map((o) => Number(o).toString(2).padStart(8, '0'))
      .join('');
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const expand = (part: string) => groups(part).flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [g]));
  const left = expand(head);
  const right = tail === undefined ? [] : expand(tail);
  const middle = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right]
    .map((g) => Number.parseInt(g, 16).toString(2).padStart(16, '0'))
    .join('');
}

function ipv4Groups(v4: string): string[] {
  const bits = ipBits(v4);
  return [bits.slice(0, 16), bits.slice(16)].map((b) => Number.parseInt(b, 2).toString(16));
}

// ---- anything-but ----

function anythingButScalar(spec: unknown, where: string): ValueTest {
  const list = Array.isArray(spec) ? spec : [spec];
  const allStrings = list.every((v) => typeof v === 'string');
  const allNumbers = list.every((v) => typeof v === 'number');
  if (list.length === 0 || !(allStrings || allNumbers)) {
    return fail(
      where,
      `anything-but takes a string, a number, a non-empty list of only strings or only numbers, or an object; got ${show(spec)}`,
    );
  }
  if (allNumbers) for (const n of list) checkExactNumber(n as number, where);
  return (value) => !(list as unknown[]).includes(value);
}

/** `{"anything-but": {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": string | string[]}}`: a value
 * that is not a string always matches (Event Ruler compares strings only, so nothing excludes it). */
function anythingButString(spec: Record<string, unknown>, where: string): ValueTest {
  const keys = Object.keys(spec);
  const [op] = keys;
  const build: Record<string, (text: string) => (s: string) => boolean> = {
    prefix: (t) => prefixTest(t, false),
    suffix: (t) => suffixTest(t, false),
    'equals-ignore-case': (t) => (s) => sameIgnoringCase(s, t),
    wildcard: (t) => wildcardTest(t, where),
  };
  const make = op === undefined ? undefined : build[op];
  if (keys.length !== 1 || op === undefined || !make) {
    return fail(
      where,
      `anything-but takes one of prefix, suffix, equals-ignore-case or wildcard, got ${show(spec)}`,
    );
  }
  const operands = stringsOf(spec[op], where, `anything-but ${op}`);
  if ((op === 'prefix' || op === 'suffix') && operands.includes('')) {
    fail(where, `anything-but ${op} "" would exclude every string (EventBridge refuses it)`);
  }
  const excluded = operands.map(make);
  return (value) => typeof value !== 'string' || !excluded.some((test) => test(value));
}

// ---- one matcher ----

/** Exact numbers compare as IEEE-754 doubles, which tell integers apart only up to 2^53. */
export function checkExactNumber(n: number, where: string): number {
  if (!Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n))) {
    fail(
      where,
      `the number ${n} is beyond 2^53, where a local check cannot tell neighbouring integers apart; match it as a string or with a numeric range`,
    );
  }
  return n;
}

function onStrings(test: (s: string) => boolean): ValueTest {
  return (value) => typeof value === 'string' && test(value);
}

const BUILDERS: Readonly<Record<string, (spec: unknown, where: string) => ValueTest>> = {
  prefix: (spec, where) => {
    const { text, ignoreCase } = stringOperand(spec, where, 'prefix');
    return onStrings(prefixTest(text, ignoreCase));
  },
  suffix: (spec, where) => {
    const { text, ignoreCase } = stringOperand(spec, where, 'suffix');
    return onStrings(suffixTest(text, ignoreCase));
  },
  'equals-ignore-case': (spec, where) => {
    if (typeof spec !== 'string') return fail(where, `equals-ignore-case takes a string, got ${show(spec)}`);
    return onStrings((s) => sameIgnoringCase(s, spec));
  },
  wildcard: (spec, where) => onStrings(wildcardTest(spec, where)),
  cidr: (spec, where) => onStrings(cidrTest(spec, where)),
  numeric: (spec, where) => {
    const test = numericTest(spec, where);
    return (value) => typeof value === 'number' && test(value);
  },
  'anything-but': (spec, where) =>
    isObject(spec) ? anythingButString(spec, where) : anythingButScalar(spec, where),
};

/** The test of one matcher object other than `exists`. */
export function operatorTest(matcher: Record<string, unknown>, where: string): ValueTest {
  const keys = Object.keys(matcher);
  const [op] = keys;
  if (keys.length !== 1 || op === undefined) {
    return fail(where, `a matcher object has exactly one operator, got ${show(matcher)}`);
  }
  const build = BUILDERS[op];
  if (!build) {
    const why =
      op === 'exactly'
        ? 'an Event Ruler operator that EventBridge does not support'
        : 'not an EventBridge operator';
    return fail(where, `'${op}' is ${why}; supported: ${OPERATORS.join(', ')}`);
  }
  return build(matcher[op], where);
}
