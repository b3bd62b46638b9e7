import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileEventPattern, InvalidPatternError, matchEventPattern } from '../../shared/rules/matcher.ts';

interface DocCase {
  readonly name: string;
  readonly source: string;
  readonly pattern: unknown;
  readonly event: string;
  readonly matches: boolean;
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/eventbridge-doc-examples.json', import.meta.url), 'utf8'),
) as { sources: Record<string, string>; events: Record<string, unknown>; cases: DocCase[] };

describe('local matcher against EventBridge documentation examples', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, docCase) => {
    expect(fixture.sources[docCase.source]).toMatch(/^https:\/\//);
    const event = fixture.events[docCase.event];
    expect(event).toBeDefined();
    const result = matchEventPattern(docCase.pattern, event);
    expect(result.matched).toBe(docCase.matches);
    expect(result.mismatches.length === 0).toBe(docCase.matches);
  });
});

describe('local matcher semantics', () => {
  it('requires every field of the pattern (AND) and any item of a field (OR)', () => {
    const pattern = { detail: { a: [1, 2], b: ['x'] } };
    expect(matchEventPattern(pattern, { detail: { a: 2, b: 'x' } }).matched).toBe(true);
    expect(matchEventPattern(pattern, { detail: { a: 3, b: 'x' } }).matched).toBe(false);
    expect(matchEventPattern(pattern, { detail: { a: 1 } }).matched).toBe(false);
  });

  it('keeps JSON types apart: the number 1 does not match the string "1"', () => {
    expect(matchEventPattern({ v: [1] }, { v: '1' }).matched).toBe(false);
    expect(matchEventPattern({ v: ['1'] }, { v: 1 }).matched).toBe(false);
    expect(matchEventPattern({ v: [true] }, { v: 'true' }).matched).toBe(false);
  });

  it('does not match anything-but against a missing field', () => {
    expect(matchEventPattern({ detail: { s: [{ 'anything-but': 'x' }] } }, { detail: {} }).matched).toBe(
      false,
    );
  });

  it('matches exists true on a null value (the field is present)', () => {
    expect(matchEventPattern({ d: { v: [{ exists: true }] } }, { d: { v: null } }).matched).toBe(true);
    expect(matchEventPattern({ d: { v: [{ exists: false }] } }, { d: { v: null } }).matched).toBe(false);
  });

  it('treats a field below a null parent as missing (a created event has before: null)', () => {
    const event = { detail: { before: null, after: { status: 0 } } };
    expect(matchEventPattern({ detail: { before: { status: [{ exists: false }] } } }, event).matched).toBe(
      true,
    );
    expect(matchEventPattern({ detail: { before: { status: [0] } } }, event).matched).toBe(false);
  });

  it('applies prefix to strings only', () => {
    expect(matchEventPattern({ v: [{ prefix: '4' }] }, { v: 40 }).matched).toBe(false);
    expect(matchEventPattern({ v: [{ prefix: '4' }] }, { v: '40' }).matched).toBe(true);
  });

  it('explains each field that did not match', () => {
    const result = matchEventPattern(
      { detail: { after: { status: [1] }, changedFields: ['status'] } },
      { detail: { after: { status: 0 }, changedFields: ['email', 'name'] } },
    );
    expect(result.mismatches).toEqual([
      'detail.after.status: 0 does not match [1]',
      'detail.changedFields: values ["email","name"] does not match ["status"]',
    ]);
  });

  it('requires the fields matched under an array of objects to come from one element', () => {
    const pattern = { d: { name: ['alice'], status: ['active'] } };
    expect(matchEventPattern(pattern, { d: [{ name: 'alice' }, { status: 'active' }] })).toEqual({
      matched: false,
      mismatches: [
        'd.name, d.status: each matches, but not within one element of the same array (EventBridge requires one element)',
      ],
    });
    expect(
      matchEventPattern(pattern, { d: [{ name: 'bob' }, { name: 'alice', status: 'active' }] }).matched,
    ).toBe(true);
  });

  it('checks exists false within the matched element of an array of objects', () => {
    const pattern = { d: { name: ['alice'], status: [{ exists: false }] } };
    expect(matchEventPattern(pattern, { d: [{ name: 'alice' }, { status: 'active' }] }).matched).toBe(true);
    expect(matchEventPattern(pattern, { d: [{ name: 'alice', status: 'x' }] }).matched).toBe(false);
  });

  it('lets anything-but prefix, suffix and equals-ignore-case match values that are not strings', () => {
    for (const op of ['prefix', 'suffix', 'equals-ignore-case', 'wildcard']) {
      const pattern = { v: [{ 'anything-but': { [op]: 'a' } }] };
      for (const value of [1, true, null])
        expect(matchEventPattern(pattern, { v: value }).matched).toBe(true);
      expect(matchEventPattern(pattern, { v: 'a' }).matched).toBe(false);
    }
  });

  it('matches wildcard, $or and cidr', () => {
    expect(matchEventPattern({ v: [{ wildcard: 'a*c\\*' }] }, { v: 'abbc*' }).matched).toBe(true);
    expect(matchEventPattern({ v: [{ wildcard: 'a*c\\*' }] }, { v: 'abbcd' }).matched).toBe(false);
    const or = { $or: [{ a: [1] }, { b: [2] }] };
    expect(matchEventPattern(or, { b: 2 }).matched).toBe(true);
    expect(matchEventPattern(or, { a: 2, b: 1 }).mismatches).toEqual([
      '$or alternative 1: a: 2 does not match [1]',
      '$or alternative 2: b: 1 does not match [2]',
    ]);
    expect(matchEventPattern({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:0:1::5' }).matched).toBe(
      true,
    );
    expect(matchEventPattern({ ip: [{ cidr: '10.0.0.0/24' }] }, { ip: '10.0.1.1' }).matched).toBe(false);
  });

  it('compares numbers as doubles and refuses what a local check cannot promise', () => {
    expect(matchEventPattern({ v: [300] }, { v: 3.0e2 }).matched).toBe(true);
    expect(() => compileEventPattern(JSON.parse('{"v": [9007199254740993]}'))).toThrow(/beyond 2\^53/);
    expect(() => compileEventPattern({ v: [{ numeric: ['<', 5e9] }] })).toThrow(/outside \[-1e9, 1e9\]/);
    expect(() => compileEventPattern({ v: [{ numeric: ['>', 0.1234567] }] })).toThrow(/six decimal places/);
  });

  it('refuses at compile time what EventBridge refuses, saying where and why', () => {
    const refusals: [unknown, RegExp][] = [
      [
        { v: [{ exactly: 'a' }] },
        /v: 'exactly' is an Event Ruler operator that EventBridge does not support/,
      ],
      [{ v: [{ regex: 'a' }] }, /v: 'regex' is not an EventBridge operator/],
      [{ v: [{ wildcard: 'a**' }] }, /consecutive/],
      [{ v: [{ wildcard: 'a\\b' }] }, /may only escape/],
      [{ v: [{ 'anything-but': ['a', 1] }] }, /only strings or only numbers/],
      [{ v: [{ cidr: '10.0.0.0/33' }] }, /cidr takes/],
      [{ v: [{ numeric: ['<', 5, '>', 1] }] }, /numeric takes/],
      [{ v: [] }, /empty list/],
      [{ v: 'x' }, /expected a list of values or an object of fields/],
      [{ v: [{ prefix: 'a', suffix: 'b' }] }, /exactly one operator/],
    ];
    for (const [pattern, message] of refusals) {
      expect(() => compileEventPattern(pattern)).toThrow(InvalidPatternError);
      expect(() => compileEventPattern(pattern)).toThrow(message);
    }
  });
});
