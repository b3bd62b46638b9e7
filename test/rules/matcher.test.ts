import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidPatternError, matchEventPattern } from '../../shared/rules/matcher.ts';

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

  it('refuses operators it does not implement instead of guessing', () => {
    expect(() => matchEventPattern({ v: [{ wildcard: 'a*' }] }, { v: 'ab' })).toThrow(InvalidPatternError);
    expect(() => matchEventPattern({ $or: [{ a: [1] }, { b: [2] }] }, { a: 1 })).toThrow(/\$or/);
    expect(() => matchEventPattern({ v: [] }, { v: 1 })).toThrow(/empty list/);
    expect(() => matchEventPattern({ v: [{ numeric: ['>'] }] }, { v: 1 })).toThrow(/pairs/);
  });
});
