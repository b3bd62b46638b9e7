/**
 * Compiles a sync rule to an EventBridge event pattern (content filtering). The pattern is what the CDK
 * construct puts on the rule and what the local matcher evaluates, so a rule behaves the same in both.
 */
import { KNOWN_CUSTOMER_FIELDS } from '../customer.ts';
import { DEFAULT_EVENT_SOURCE, DETAIL_TYPES } from '../events/contract.ts';
import { compileEventPattern, InvalidPatternError } from './matcher.ts';
import type {
  ConditionGroup,
  ConditionItem,
  FieldCondition,
  FieldConditions,
  Scalar,
  StringOperand,
  SyncRuleFilter,
} from './model.ts';
import { DEFAULT_CHANGE_TYPES } from './model.ts';

type Strings = string | readonly string[];
type EventBridgeStringOperand = string | { readonly 'equals-ignore-case': string };

/** A matcher inside a pattern's value list. */
export type PatternMatcher =
  | Scalar
  | { readonly prefix: EventBridgeStringOperand }
  | { readonly suffix: EventBridgeStringOperand }
  | { readonly 'equals-ignore-case': string }
  | { readonly wildcard: string }
  | { readonly cidr: string }
  | {
      readonly 'anything-but':
        | string
        | number
        | readonly string[]
        | readonly number[]
        | { readonly prefix: Strings }
        | { readonly suffix: Strings }
        | { readonly 'equals-ignore-case': Strings }
        | { readonly wildcard: Strings };
    }
  | { readonly exists: boolean }
  | { readonly numeric: readonly (string | number)[] };

/** An EventBridge event pattern: nested objects whose leaves are lists of matchers (`$or`: of patterns). */
export interface EventPattern {
  readonly [key: string]: EventPattern | readonly PatternMatcher[] | readonly EventPattern[];
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

function stringOperand(operand: StringOperand): EventBridgeStringOperand {
  return typeof operand === 'string' ? operand : { 'equals-ignore-case': operand.equalsIgnoreCase };
}

/** `anythingBut` in EventBridge's spelling (`equalsIgnoreCase` → `equals-ignore-case`). */
function anythingBut(
  operand: Extract<FieldCondition, { anythingBut: unknown }>['anythingBut'],
): PatternMatcher {
  if (typeof operand !== 'object' || Array.isArray(operand)) return { 'anything-but': operand };
  if ('equalsIgnoreCase' in operand)
    return { 'anything-but': { 'equals-ignore-case': operand.equalsIgnoreCase } };
  return { 'anything-but': operand };
}

function itemMatchers(item: ConditionItem): PatternMatcher[] {
  if (item === null || typeof item !== 'object') return [item];
  if ('equals' in item) return Array.isArray(item.equals) ? [...item.equals] : [item.equals as Scalar];
  if ('anythingBut' in item) return [anythingBut(item.anythingBut)];
  if ('prefix' in item) return [{ prefix: stringOperand(item.prefix) }];
  if ('suffix' in item) return [{ suffix: stringOperand(item.suffix) }];
  if ('equalsIgnoreCase' in item) return [{ 'equals-ignore-case': item.equalsIgnoreCase }];
  if ('wildcard' in item) return [{ wildcard: item.wildcard }];
  if ('cidr' in item) return [{ cidr: item.cidr }];
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

/**
 * The EventBridge pattern of a rule, checked by the local matcher's pattern compiler: anything EventBridge
 * would refuse throws `InvalidPatternError` naming the rule and the field.
 */
export function compileRulePattern(rule: SyncRuleFilter, options: CompileOptions = {}): EventPattern {
  const pattern = buildRulePattern(rule, options);
  try {
    compileEventPattern(pattern);
  } catch (error) {
    if (error instanceof InvalidPatternError) {
      throw new InvalidPatternError(`rule '${rule.name}': ${error.message}`);
    }
    throw error;
  }
  return pattern;
}

/** The `detail` conditions of a rule or of one `anyOf` group. */
function detailPattern(group: ConditionGroup): Record<string, EventPattern[keyof EventPattern]> {
  const detail: Record<string, EventPattern[keyof EventPattern]> = {};
  if (group.organizationGuids) detail.organizationGuid = [...new Set(group.organizationGuids)];
  if (group.changedFields) detail.changedFields = [...new Set(group.changedFields)];
  if (group.before) detail.before = conditionsPattern(group.before);
  if (group.after) detail.after = conditionsPattern(group.after);
  return detail;
}

function buildRulePattern(rule: SyncRuleFilter, options: CompileOptions): EventPattern {
  const changeTypes = rule.changeTypes ?? DEFAULT_CHANGE_TYPES;
  const detail = detailPattern(rule);
  if (rule.anyOf) detail.$or = rule.anyOf.map(detailPattern);
  const pattern: Record<string, EventPattern[keyof EventPattern]> = {
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

const KNOWN_FIELDS: ReadonlySet<string> = new Set(KNOWN_CUSTOMER_FIELDS);

/**
 * Field names of a rule (`changedFields`, `before`, `after`, and in each `anyOf` group) that are not
 * documented customer fields: most likely a typo (`emial`), which would make the rule never match. A
 * warning, not an error: Nutcache may add fields, and a rule may name one before it is documented here.
 */
export function unknownFieldWarnings(rule: SyncRuleFilter): string[] {
  const warnings: string[] = [];
  const known = `(known: ${KNOWN_CUSTOMER_FIELDS.join(', ')})`;
  const check = (group: ConditionGroup, prefix: string): void => {
    for (const field of group.changedFields ?? []) {
      if (!KNOWN_FIELDS.has(field)) {
        warnings.push(
          `rule '${rule.name}': ${prefix}changedFields: '${field}' is not a customer field ${known}`,
        );
      }
    }
    for (const side of ['before', 'after'] as const) {
      for (const field of Object.keys(group[side] ?? {})) {
        if (!KNOWN_FIELDS.has(field)) {
          warnings.push(
            `rule '${rule.name}': ${prefix}${side}.${field}: '${field}' is not a customer field ${known}`,
          );
        }
      }
    }
  };
  check(rule, '');
  for (const [i, group] of (rule.anyOf ?? []).entries()) check(group, `anyOf[${i}].`);
  return warnings;
}
