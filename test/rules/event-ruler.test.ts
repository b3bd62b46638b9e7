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
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/event-ruler-cases.json', import.meta.url), 'utf8'),
) as { repository: string; commit: string; cases: RulerCase[] };

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

const name = (c: RulerCase) => `${c.file.split('/').at(-1)}:${c.line} ${c.test} ${JSON.stringify(c.pattern)}`;

describe('local matcher against Event Ruler test cases', () => {
  it('is a harvest of several hundred cases from a recorded commit', () => {
    expect(fixture.repository).toBe('https://github.com/aws/event-ruler');
    expect(fixture.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(250);
    expect(fixture.cases.filter((c) => c.matches).length).toBeGreaterThan(100);
    expect(fixture.cases.filter((c) => !c.matches).length).toBeGreaterThan(100);
  });

  it.each(fixture.cases.map((c) => [name(c), c] as const))('%s', (_name, rulerCase) => {
    const refusal = unsupportedFeature(rulerCase.pattern);
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
