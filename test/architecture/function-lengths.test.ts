/**
 * docs/architecture.md promises that no function of the product's code is longer than 120 lines (long
 * procedures are sequences of named phases).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIRS, measureFile, sourceFiles } from '../../scripts/function-lengths.ts';

const MAX_LINES = 120;

describe('the product code reads as named phases', () => {
  it(`has no function longer than ${MAX_LINES} lines`, () => {
    const all = DEFAULT_DIRS.flatMap(sourceFiles).flatMap((path) => measureFile(path));
    expect(all.length).toBeGreaterThan(500);
    const long = all
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`);
    expect(long).toEqual([]);
  });

  it('measures a function from its first line to its last (the measure itself works)', () => {
    // documentedCustomers (a data table of the seed page's customers) spans lines 108-208.
    const lengths = measureFile('sandbox/data.ts');
    expect(lengths.find((f) => f.name === 'documentedCustomers')?.lines).toBeGreaterThan(100);
  });
});
