/**
 * The local matcher against Event Ruler's own test suite: (pattern, event, expected) cases harvested from
 * aws/event-ruler's test sources by scripts/harvest-event-ruler.ts (each case records its file and line,
 * the fixture the commit). Every case EventBridge supports must agree; a case using something EventBridge
 * does not support must be refused when the pattern is compiled, and only such cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileEventPattern, InvalidPatternError, matchEventPattern } from '../../shared/rules/matcher.ts';

interface RulerCase {
  readonly file: string;
  readonly test: string;
  readonly line: number;
  readonly pattern: unknown;
  readonly event: unknown;
  readonly matches: boolean;
}
interface ValidityCase {
  readonly file: string;
  readonly test: string;
  readonly line: number;
  readonly pattern: unknown;
  readonly valid: boolean;
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/event-ruler-cases.json', import.meta.url), 'utf8'),
) as { repository: string; commit: string; cases: RulerCase[]; validity: ValidityCase[] };

/** Why EventBridge (or a faithful local check) cannot take this pattern, per docs/sync-rules.md; else undefined. */
function unsupportedFeature(node: unknown, key = ''): RegExp | undefined {
  if (key === 'exactly') return /EventBridge does not support/;
  if (key === 'numeric' && Array.isArray(node)) {
    const bounds = node.filter((v): v is number => typeof v === 'number');
    if (bounds.some((b) => Math.abs(b) > 1e9)) return /outside \[-1e9, 1e9\]/;
    if (bounds.some((b) => Math.round(b * 1e6) / 1e6 !== b)) return /six decimal places/;
  }
  if (typeof node === 'number' && Number.isInteger(node) && !Number.isSafeInteger(node))
    return /beyond 2\^53/;
  if (typeof node !== 'object' || node === null) return undefined;
  for (const [k, v] of Object.entries(node)) {
    const found = unsupportedFeature(v, Array.isArray(node) ? key : k);
    if (found) return found;
  }
  return undefined;
}

/** The leaf paths of a pattern outside any `$or`, and those inside each `$or` member. */
function leafPaths(node: unknown, prefix: string, outside: string[], members: string[][]): void {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const isOr =
      key === '$or' &&
      Array.isArray(value) &&
      value.length > 1 &&
      value.every(
        (v) =>
          typeof v === 'object' && v !== null && !Array.isArray(v) && !('numeric' in v) && !('prefix' in v),
      );
    if (isOr) {
      for (const member of value) {
        const paths: string[] = [];
        leafPaths(member, prefix, paths, members);
        members.push(paths);
      }
    } else if (Array.isArray(value)) outside.push(`${prefix}${key}`);
    else leafPaths(value, `${prefix}${key}.`, outside, members);
  }
}

/** A path given both outside a `$or` and inside one of its members (refused: Event Ruler overrides or refuses). */
function pathGivenTwice(pattern: unknown): RegExp | undefined {
  const outside: string[] = [];
  const members: string[][] = [];
  leafPaths(pattern, '', outside, members);
  const twice = members.some((paths) => paths.some((p) => outside.includes(p)));
  return twice ? /is given twice for one event/ : undefined;
}

const name = (c: RulerCase | ValidityCase) =>
  `${c.file.split('/').at(-1)}:${c.line} ${c.test} ${JSON.stringify(c.pattern)}`;

describe('local matcher against Event Ruler test cases', () => {
  it('is a harvest of several hundred cases from a recorded commit', () => {
    expect(fixture.repository).toBe('https://github.com/aws/event-ruler');
    expect(fixture.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(250);
    expect(fixture.cases.filter((c) => c.matches).length).toBeGreaterThan(100);
    expect(fixture.cases.filter((c) => !c.matches).length).toBeGreaterThan(100);
  });

  it.each(fixture.cases.map((c) => [name(c), c] as const))('%s', (_name, rulerCase) => {
    const refusal = unsupportedFeature(rulerCase.pattern) ?? pathGivenTwice(rulerCase.pattern);
    if (refusal) {
      expect(() => compileEventPattern(rulerCase.pattern)).toThrow(InvalidPatternError);
      expect(() => compileEventPattern(rulerCase.pattern)).toThrow(refusal);
      return;
    }
    const result = matchEventPattern(rulerCase.pattern, rulerCase.event);
    expect(result.matched).toBe(rulerCase.matches);
    expect(result.mismatches.length === 0).toBe(rulerCase.matches);
  });
});

describe('local pattern compiler against the rules Event Ruler accepts and refuses', () => {
  it('has accepted and refused rules', () => {
    expect(fixture.validity.filter((c) => c.valid).length).toBeGreaterThan(50);
    expect(fixture.validity.filter((c) => !c.valid).length).toBeGreaterThan(50);
  });

  it.each(fixture.validity.map((c) => [name(c), c] as const))('%s', (_name, validityCase) => {
    const refusal = unsupportedFeature(validityCase.pattern) ?? pathGivenTwice(validityCase.pattern);
    if (!validityCase.valid || refusal) {
      expect(() => compileEventPattern(validityCase.pattern)).toThrow(InvalidPatternError);
      if (refusal) expect(() => compileEventPattern(validityCase.pattern)).toThrow(refusal);
    } else {
      expect(() => compileEventPattern(validityCase.pattern)).not.toThrow();
    }
  });
});
