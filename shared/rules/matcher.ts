/**
 * A local evaluator of EventBridge event patterns, so rules can be tested without AWS. It is the one
 * implementation behind `rules test`, local webhook delivery and the rules compiler's validation, and it
 * follows Event Ruler (the engine EventBridge documents) for every operator EventBridge supports; where
 * the two are documented to differ it follows EventBridge. docs/sync-rules.md ("Event pattern operators")
 * lists the semantics; the harvested Event Ruler test suite (test/rules/event-ruler.test.ts) checks them.
 * - every field named in the pattern must match (AND); a field's list matches if any item does (OR);
 *   `$or` (a list of two or more objects of fields) matches if any member does;
 * - arrays are looked through at every level; all fields matched under an array of objects must come from
 *   the same element, and `exists: false` is checked within that element;
 * - exact values keep their JSON type; numbers compare as IEEE-754 doubles (300 = 3.0e2);
 * - the patterns are compiled first (pattern.ts), so anything EventBridge refuses is refused up front.
 */
import { consistent, eventLeaves, type Leaf } from './event-leaves.ts';
import { show } from './operators.ts';
import { type CompiledPattern, compileEventPattern, type FieldTest } from './pattern.ts';

export { InvalidPatternError } from './operators.ts';
export { compileEventPattern } from './pattern.ts';

export interface MatchResult {
  readonly matched: boolean;
  /** For each pattern field that did not match: `<path>: <why>`. Empty when matched. */
  readonly mismatches: readonly string[];
}

type Leaves = ReadonlyMap<string, readonly Leaf[]>;
type Elements = ReadonlyMap<number, number>;

function merge(a: Elements, b: Elements): Elements {
  if (b.size === 0) return a;
  return new Map([...a, ...b]);
}

function candidates(field: FieldTest, leaves: Leaves): readonly Leaf[] {
  return (leaves.get(field.path) ?? []).filter((leaf) => field.tests.some((test) => test(leaf.value)));
}

function absentWithin(field: FieldTest, leaves: Leaves, chosen: Elements): boolean {
  return !(leaves.get(field.path) ?? []).some((leaf) => consistent(leaf.elements, chosen));
}

/** Backtracking over one leaf per field, keeping the array elements chosen so far consistent. */
function assign(
  fields: readonly FieldTest[],
  i: number,
  leaves: Leaves,
  chosen: Elements,
  absent: FieldTest[],
): boolean {
  const field = fields[i];
  if (field === undefined) return absent.every((f) => absentWithin(f, leaves, chosen));
  for (const leaf of candidates(field, leaves)) {
    if (!consistent(leaf.elements, chosen)) continue;
    if (assign(fields, i + 1, leaves, merge(chosen, leaf.elements), absent)) return true;
  }
  return field.absent && assign(fields, i + 1, leaves, chosen, [...absent, field]);
}

function alternativeMatches(fields: readonly FieldTest[], leaves: Leaves): boolean {
  const ordered = [...fields].sort((a, b) => Number(a.tests.length === 0) - Number(b.tests.length === 0));
  return assign(ordered, 0, leaves, new Map(), []);
}

function describeValues(leaves: readonly Leaf[]): string {
  if (leaves.length === 0) return 'missing';
  if (leaves.length === 1) return show(leaves[0]?.value);
  return `values ${show(leaves.map((l) => l.value))}`;
}

/** Why one alternative failed: each field that fails on its own, else the array-element conflict. */
function explain(fields: readonly FieldTest[], leaves: Leaves): string[] {
  const reasons: string[] = [];
  for (const field of fields) {
    const all = leaves.get(field.path) ?? [];
    if (candidates(field, leaves).length > 0 || (field.absent && all.length === 0)) continue;
    reasons.push(`${field.path}: ${describeValues(all)} does not match ${show(field.matchers)}`);
  }
  if (reasons.length > 0) return reasons;
  const paths = fields.map((f) => f.path).join(', ');
  return [
    `${paths}: each matches, but not within one element of the same array (EventBridge requires one element)`,
  ];
}

function anyAlternativeMatches(pattern: CompiledPattern, leaves: Leaves): boolean {
  return pattern.some((fields) => alternativeMatches(fields, leaves));
}

/** Whether an event matches a pattern compiled once (compileEventPattern), without explaining a miss. */
export function matchesCompiledPattern(pattern: CompiledPattern, event: unknown): boolean {
  return anyAlternativeMatches(pattern, eventLeaves(event));
}

function evaluate(pattern: CompiledPattern, event: unknown): MatchResult {
  const leaves = eventLeaves(event);
  if (anyAlternativeMatches(pattern, leaves)) return { matched: true, mismatches: [] };
  if (pattern.length === 1) return { matched: false, mismatches: explain(pattern[0] ?? [], leaves) };
  const mismatches = pattern.flatMap((fields, n) =>
    explain(fields, leaves).map((r) => `$or alternative ${n + 1}: ${r}`),
  );
  return { matched: false, mismatches };
}

/** Evaluates an EventBridge event pattern against an event (both parsed JSON). */
export function matchEventPattern(pattern: unknown, event: unknown): MatchResult {
  return evaluate(compileEventPattern(pattern), event);
}

/** `matchEventPattern` for a pattern compiled once (compileEventPattern), to test it against many events. */
export function matchCompiledPattern(pattern: CompiledPattern, event: unknown): MatchResult {
  return evaluate(pattern, event);
}
