/**
 * Compiles a sync rule to an EventBridge event pattern (content filtering). The pattern is what the CDK
 * construct puts on the rule and what the local matcher evaluates, so a rule behaves the same in both.
 */
import { DEFAULT_EVENT_SOURCE, DETAIL_TYPES } from '../events/contract.ts';
import type { ConditionItem, FieldConditions, Scalar, SyncRuleFilter } from './model.ts';
import { DEFAULT_CHANGE_TYPES } from './model.ts';

/** A matcher inside a pattern's value list. */
export type PatternMatcher =
  | Scalar
  | { readonly prefix: string }
  | {
      readonly 'anything-but':
        | string
        | number
        | readonly string[]
        | readonly number[]
        | { readonly prefix: string };
    }
  | { readonly exists: boolean }
  | { readonly numeric: readonly (string | number)[] };

/** An EventBridge event pattern: nested objects whose leaves are lists of matchers. */
export interface EventPattern {
  readonly [key: string]: EventPattern | readonly PatternMatcher[];
}

/** EventBridge's limit on an event pattern's length, in characters. */
export const MAX_PATTERN_LENGTH = 2048;

export interface CompileOptions {
  /** `source` of the events (default nutcache.customers; ENV.eventSource can change it). */
  readonly eventSource?: string;
}

export class PatternTooLargeError extends Error {
  constructor(
    readonly ruleName: string,
    readonly length: number,
  ) {
    super(
      `rule '${ruleName}': its event pattern is ${length} characters; EventBridge allows at most ${MAX_PATTERN_LENGTH}. ` +
        'Split it into several rules or shorten its value lists.',
    );
    this.name = 'PatternTooLargeError';
  }
}

function itemMatchers(item: ConditionItem): PatternMatcher[] {
  if (item === null || typeof item !== 'object') return [item];
  if ('equals' in item) return Array.isArray(item.equals) ? [...item.equals] : [item.equals as Scalar];
  if ('anythingBut' in item) return [{ 'anything-but': item.anythingBut }];
  if ('prefix' in item) return [{ prefix: item.prefix }];
  if ('exists' in item) return [{ exists: item.exists }];
  const range: (string | number)[] = [];
  const { gt, gte, lt, lte } = item.numeric;
  if (gt !== undefined) range.push('>', gt);
  if (gte !== undefined) range.push('>=', gte);
  if (lt !== undefined) range.push('<', lt);
  if (lte !== undefined) range.push('<=', lte);
  return [{ numeric: range }];
}

/** The matchers of one field's conditions (a list is "any of", as in EventBridge). */
export function fieldMatchers(conditions: FieldConditions): PatternMatcher[] {
  const items: readonly ConditionItem[] = Array.isArray(conditions)
    ? conditions
    : [conditions as ConditionItem];
  const out: PatternMatcher[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    for (const matcher of itemMatchers(item)) {
      const key = JSON.stringify(matcher);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(matcher);
    }
  }
  return out;
}

function conditionsPattern(map: Readonly<Record<string, FieldConditions>>): EventPattern {
  const out: Record<string, readonly PatternMatcher[]> = {};
  for (const [field, conditions] of Object.entries(map)) out[field] = fieldMatchers(conditions);
  return out;
}

/** The EventBridge pattern of a rule. */
export function compileRulePattern(rule: SyncRuleFilter, options: CompileOptions = {}): EventPattern {
  const changeTypes = rule.changeTypes ?? DEFAULT_CHANGE_TYPES;
  const detail: Record<string, EventPattern | readonly PatternMatcher[]> = {};
  if (rule.organizationGuids) detail.organizationGuid = [...new Set(rule.organizationGuids)];
  if (rule.changedFields) detail.changedFields = [...new Set(rule.changedFields)];
  if (rule.before) detail.before = conditionsPattern(rule.before);
  if (rule.after) detail.after = conditionsPattern(rule.after);
  const pattern: Record<string, EventPattern | readonly PatternMatcher[]> = {
    source: [options.eventSource ?? DEFAULT_EVENT_SOURCE],
    'detail-type': [...new Set(changeTypes)].map((t) => DETAIL_TYPES[t]),
  };
  if (Object.keys(detail).length > 0) pattern.detail = detail;
  return pattern;
}

/** The pattern as EventBridge receives it (compact JSON); its length is what the 2,048 limit applies to. */
export function patternJson(pattern: EventPattern): string {
  return JSON.stringify(pattern);
}

/** Throws `PatternTooLargeError` when the pattern exceeds EventBridge's limit. */
export function assertPatternFits(ruleName: string, pattern: EventPattern): string {
  const json = patternJson(pattern);
  if (json.length > MAX_PATTERN_LENGTH) throw new PatternTooLargeError(ruleName, json.length);
  return json;
}
