/**
 * CRM sync rules: which customer changes a consumer wants, and where to send them. One model serves the
 * `CustomerSyncRule` CDK construct (rules declared in code) and the rules file (JSON or YAML); both compile
 * to the same EventBridge pattern (compile.ts), which the local matcher (matcher.ts) evaluates.
 *
 * A condition on a field is one operator, a bare value (shorthand for `equals`), or a list of those (any of
 * them may match, as in EventBridge):
 *   equals: 1 | [1, 2] | null        the value is one of these (JSON types are not converted: 1 is not "1")
 *   anythingBut: "x" | ["x", "y"] | 3 | [3, 4] | { prefix | suffix | equalsIgnoreCase | wildcard: "x" | ["x", …] }
 *   prefix: "abc" | { equalsIgnoreCase: "abc" }   a string value starting with "abc"
 *   suffix: "abc" | { equalsIgnoreCase: "abc" }   a string value ending with "abc"
 *   equalsIgnoreCase: "abc"          a string value equal to "abc" ignoring case
 *   wildcard: "a*c"                  a string value matching; `*` is any run of characters (`\*` a star)
 *   cidr: "10.0.0.0/24"              a string value that is an IP address in the block (IPv4 or IPv6)
 *   exists: true | false             the field is present (with any value, null included) / absent
 *   numeric: { gt, gte, lt, lte }    a JSON number in the range (bounds within ±1e9, six decimals)
 * The compiled pattern is then checked by the local matcher's compiler (pattern.ts), which refuses anything
 * EventBridge refuses.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { type CrmTarget, hubspotTargetSchema, salesforceTargetSchema } from '../crm/model.ts';
import type { ChangeType } from '../events/contract.ts';
import { NUMERIC_LIMIT } from './operators.ts';

export type Scalar = string | number | boolean | null;

export interface NumericRange {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
}

/** A string operand, or the same compared ignoring case. */
export type StringOperand = string | { readonly equalsIgnoreCase: string };
type Strings = string | readonly string[];

export type FieldCondition =
  | { readonly equals: Scalar | readonly Scalar[] }
  | {
      readonly anythingBut:
        | string
        | number
        | readonly string[]
        | readonly number[]
        | { readonly prefix: Strings }
        | { readonly suffix: Strings }
        | { readonly equalsIgnoreCase: Strings }
        | { readonly wildcard: Strings };
    }
  | { readonly prefix: StringOperand }
  | { readonly suffix: StringOperand }
  | { readonly equalsIgnoreCase: string }
  | { readonly wildcard: string }
  | { readonly cidr: string }
  | { readonly exists: boolean }
  | { readonly numeric: NumericRange };

/** A bare value means `equals`; a list means any of its items. */
export type ConditionItem = Scalar | FieldCondition;
export type FieldConditions = ConditionItem | readonly ConditionItem[];

/** A group of conditions of `anyOf` (all of its conditions must hold). */
export interface ConditionGroup {
  readonly changedFields?: readonly string[];
  readonly organizationGuids?: readonly string[];
  readonly before?: Readonly<Record<string, FieldConditions>>;
  readonly after?: Readonly<Record<string, FieldConditions>>;
}

/** What a rule selects (everything but the target). */
export interface SyncRuleFilter {
  /** Rule name: letters, digits, `.`, `-`, `_`; at most 64 characters (an EventBridge rule name). */
  readonly name: string;
  readonly description?: string;
  /** Change types to match. Default: created, updated, deleted (snapshots are opt-in: a resync sends one per customer). */
  readonly changeTypes?: readonly ChangeType[];
  /** Match when ANY of these fields changed (`detail.changedFields`). */
  readonly changedFields?: readonly string[];
  /** Only these organizations (`detail.organizationGuid`). */
  readonly organizationGuids?: readonly string[];
  /** Conditions on the customer before the change (`detail.before.<field>`); all must hold. */
  readonly before?: Readonly<Record<string, FieldConditions>>;
  /** Conditions on the customer after the change (`detail.after.<field>`); all must hold. */
  readonly after?: Readonly<Record<string, FieldConditions>>;
  /** At least two groups; the rule matches when any group holds (EventBridge's `$or`), with the rest. */
  readonly anyOf?: readonly ConditionGroup[];
}

/** A target as a rules file declares it (resources by ARN). */
export type TargetSpec =
  | { readonly type: 'webhook'; readonly url: string; readonly secretArn: string }
  | { readonly type: 'sqs'; readonly queueArn: string }
  | { readonly type: 'lambda'; readonly functionArn: string }
  | { readonly type: 'stepFunctions'; readonly stateMachineArn: string }
  | {
      readonly type: 'apiDestination';
      readonly apiDestinationArn: string;
      readonly connectionArn: string;
      readonly connectionSecretArn: string;
    }
  | CrmTarget;

export interface SyncRuleSpec extends SyncRuleFilter {
  readonly target: TargetSpec;
}

export const DEFAULT_CHANGE_TYPES: readonly ChangeType[] = ['created', 'updated', 'deleted'];

/** EventBridge's documented numeric matching range (shared with the pattern compiler). */
export { NUMERIC_LIMIT } from './operators.ts';

export const RULE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Canonical customer keys are lower case (shared/customer.ts). */
export const FIELD_NAME_PATTERN = /^[a-z0-9_][a-z0-9_-]*$/;

// ---------------------------------------------------------------------------------------------------
// zod schemas

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const fieldNameSchema = z
  .string()
  .regex(
    FIELD_NAME_PATTERN,
    'field names are lower-case snake_case, as customers are normalised (e.g. "email", "zip_code")',
  );

const boundSchema = z
  .number()
  .refine(
    (n) => Math.abs(n) <= NUMERIC_LIMIT,
    `must be within ±${NUMERIC_LIMIT} (EventBridge numeric range)`,
  );

const numericRangeSchema = z
  .strictObject({
    gt: boundSchema.optional(),
    gte: boundSchema.optional(),
    lt: boundSchema.optional(),
    lte: boundSchema.optional(),
  })
  .superRefine((range, ctx) => {
    const lower = range.gt ?? range.gte;
    const upper = range.lt ?? range.lte;
    if (lower === undefined && upper === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give at least one of gt, gte, lt, lte' });
    }
    if (range.gt !== undefined && range.gte !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give gt or gte, not both' });
    }
    if (range.lt !== undefined && range.lte !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give lt or lte, not both' });
    }
    if (lower !== undefined && upper !== undefined && lower > upper) {
      ctx.addIssue({
        code: 'custom',
        message: `empty range: lower bound ${lower} is above upper bound ${upper}`,
      });
    }
  });

const stringsSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const stringOperandSchema = z.union([
  z.string().min(1),
  z.strictObject({ equalsIgnoreCase: z.string().min(1) }),
]);

const OPERATORS = {
  equals: z.union([scalarSchema, z.array(scalarSchema).min(1)]),
  anythingBut: z.union([
    z.string(),
    z.number(),
    z.array(z.string()).min(1),
    z.array(z.number()).min(1),
    z.strictObject({ prefix: stringsSchema }),
    z.strictObject({ suffix: stringsSchema }),
    z.strictObject({ equalsIgnoreCase: stringsSchema }),
    z.strictObject({ wildcard: stringsSchema }),
  ]),
  prefix: stringOperandSchema,
  suffix: stringOperandSchema,
  equalsIgnoreCase: z.string(),
  wildcard: z.string().min(1),
  cidr: z.string().min(1),
  exists: z.boolean(),
  numeric: numericRangeSchema,
} as const;
type OperatorName = keyof typeof OPERATORS;
const OPERATOR_NAMES = Object.keys(OPERATORS) as OperatorName[];

/** One condition item: a bare scalar, or an object with exactly one known operator. */
const conditionItemSchema: z.ZodType<ConditionItem> = z.unknown().transform((value, ctx): ConditionItem => {
  const scalar = scalarSchema.safeParse(value);
  if (scalar.success) return scalar.data;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected a value or an operator object' });
    return z.NEVER;
  }
  const keys = Object.keys(value);
  const [key] = keys;
  if (keys.length !== 1 || key === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `a condition has exactly one operator (one of ${OPERATOR_NAMES.join(', ')}); got ${keys.length === 0 ? 'none' : keys.join(', ')}`,
    });
    return z.NEVER;
  }
  if (!(OPERATOR_NAMES as string[]).includes(key)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown operator '${key}' (expected one of ${OPERATOR_NAMES.join(', ')})`,
    });
    return z.NEVER;
  }
  const operator = key as OperatorName;
  const parsed = OPERATORS[operator].safeParse((value as Record<string, unknown>)[operator]);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: [operator, ...issue.path] });
    }
    return z.NEVER;
  }
  return { [operator]: parsed.data } as FieldCondition;
});

/** One item or a non-empty list of items (any of them may match). */
const fieldConditionsSchema: z.ZodType<FieldConditions> = z
  .unknown()
  .transform((value, ctx): FieldConditions => {
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'an empty list of conditions never matches' });
      return z.NEVER;
    }
    const out: ConditionItem[] = [];
    items.forEach((item, index) => {
      if (Array.isArray(item)) {
        ctx.addIssue({ code: 'custom', message: 'nested lists are not allowed', path: [index] });
        return;
      }
      const parsed = conditionItemSchema.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({
            code: 'custom',
            message: issue.message,
            path: Array.isArray(value) ? [index, ...issue.path] : issue.path,
          });
        }
        return;
      }
      out.push(parsed.data);
    });
    if (out.length !== items.length) return z.NEVER;
    return Array.isArray(value) ? out : (out[0] as ConditionItem);
  });

/** field name → conditions, with the field name checked (canonical customer keys are lower case). */
const conditionsMapSchema = z
  .record(z.string(), fieldConditionsSchema)
  .superRefine((map, ctx) => {
    for (const field of Object.keys(map)) {
      if (!FIELD_NAME_PATTERN.test(field)) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message:
            'field names are lower-case snake_case, as customers are normalised (e.g. "email", "zip_code")',
        });
      }
    }
  })
  .refine((map) => Object.keys(map).length > 0, 'give at least one field');

const changeTypeSchema = z.enum(['created', 'updated', 'deleted', 'snapshot']);

const conditionGroupSchema = z
  .strictObject({
    changedFields: z.array(fieldNameSchema).min(1).optional(),
    organizationGuids: z.array(z.string().min(1)).min(1).optional(),
    before: conditionsMapSchema.optional(),
    after: conditionsMapSchema.optional(),
  })
  .refine(
    (group) => Object.keys(group).length > 0,
    'give at least one of changedFields, organizationGuids, before, after',
  );

export const syncRuleFilterSchema = z.strictObject({
  name: z
    .string()
    .regex(RULE_NAME_PATTERN, 'use 1 to 64 letters, digits, ".", "-" or "_" (an EventBridge rule name)'),
  description: z.string().max(512).optional(),
  changeTypes: z.array(changeTypeSchema).min(1).optional(),
  changedFields: z.array(fieldNameSchema).min(1).optional(),
  organizationGuids: z.array(z.string().min(1)).min(1).optional(),
  before: conditionsMapSchema.optional(),
  after: conditionsMapSchema.optional(),
  anyOf: z
    .array(conditionGroupSchema)
    .min(2, 'give at least two groups of conditions (one group needs no anyOf)')
    .optional(),
});

const arn = (service: string) =>
  z
    .string()
    .regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `must be an ARN of ${service} (arn:aws:${service}:…)`);

export const targetSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
    secretArn: arn('secretsmanager'),
  }),
  z.strictObject({ type: z.literal('sqs'), queueArn: arn('sqs') }),
  z.strictObject({ type: z.literal('lambda'), functionArn: arn('lambda') }),
  z.strictObject({ type: z.literal('stepFunctions'), stateMachineArn: arn('states') }),
  z.strictObject({
    type: z.literal('apiDestination'),
    apiDestinationArn: arn('events'),
    connectionArn: arn('events'),
    connectionSecretArn: arn('secretsmanager'),
  }),
  hubspotTargetSchema,
  salesforceTargetSchema,
]);

export const syncRuleSpecSchema = syncRuleFilterSchema.extend({ target: targetSpecSchema });

export const rulesDocumentSchema = z.strictObject({ rules: z.array(z.unknown()) });

// ---------------------------------------------------------------------------------------------------
// Rules files

/** A rules file that cannot be used; the message names the rule and the field at fault. */
export class RulesConfigError extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
    this.name = 'RulesConfigError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function rawName(raw: unknown): string | undefined {
  return typeof raw === 'object' && raw !== null && 'name' in raw && typeof raw.name === 'string'
    ? raw.name
    : undefined;
}

function ruleLabel(raw: unknown, index: number): string {
  const name = rawName(raw);
  return name ? `rule '${name}' (rules[${index}])` : `rules[${index}]`;
}

/**
 * Validates already-parsed rules (a `{ rules: [...] }` document or a bare list). Throws `RulesConfigError`
 * listing every problem as `rule '<name>' (rules[i]): <field>: <message>`.
 */
export function validateRules(document: unknown, source = 'rules'): SyncRuleSpec[] {
  const list = Array.isArray(document) ? document : undefined;
  let rawRules: unknown[];
  if (list) {
    rawRules = list;
  } else {
    const doc = rulesDocumentSchema.safeParse(document);
    if (!doc.success) {
      throw new RulesConfigError(`${source}: expected a document with a 'rules' list`, [
        `${source}: expected a document with a 'rules' list`,
      ]);
    }
    rawRules = doc.data.rules;
  }
  const problems: string[] = [];
  const rules: SyncRuleSpec[] = [];
  const seen = new Map<string, number>();
  rawRules.forEach((raw, index) => {
    // Names are compared whether or not the rules are valid, so a duplicate is reported with the rest.
    const name = rawName(raw);
    const previous = name === undefined ? undefined : seen.get(name);
    if (previous !== undefined)
      problems.push(`${ruleLabel(raw, index)}: name: duplicate of rules[${previous}]`);
    else if (name !== undefined) seen.set(name, index);
    const parsed = syncRuleSpecSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = formatPath(issue.path);
        problems.push(`${ruleLabel(raw, index)}: ${field === '' ? '' : `${field}: `}${issue.message}`);
      }
      return;
    }
    rules.push(parsed.data as SyncRuleSpec);
  });
  if (problems.length > 0) {
    throw new RulesConfigError(
      `${source}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
  return rules;
}

/** Parses a rules file's text: JSON when it looks like JSON (or the name ends in .json), YAML otherwise. */
export function parseRulesText(text: string, source = 'rules'): SyncRuleSpec[] {
  let document: unknown;
  const asJson = source.endsWith('.json') || /^\s*[[{]/.test(text);
  try {
    document = asJson ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw syntaxError(error, text, source, asJson ? 'JSON' : 'YAML');
  }
  return validateRules(document, source);
}

/**
 * A parse error as `<file>: not valid YAML (line L, column C): <reason>`, then the line itself with a caret
 * under the column (when the parser tells where).
 */
function syntaxError(
  error: unknown,
  text: string,
  source: string,
  format: 'JSON' | 'YAML',
): RulesConfigError {
  const first = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  const where = errorPosition(error, text);
  const reason = first
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/ in JSON at position \d+.*$|,? ?\(line \d+ column \d+\)$/, '');
  if (!where)
    return new RulesConfigError(`${source}: not valid ${format}: ${reason}`, [`${source}: ${reason}`]);
  const problem = `${source}: not valid ${format} (line ${where.line}, column ${where.col}): ${reason}`;
  const lineText = text.split('\n')[where.line - 1] ?? '';
  const gutter = `${String(where.line).padStart(5)} | `;
  const frame = `${gutter}${lineText}\n${' '.repeat(gutter.length + where.col - 1)}^`;
  return new RulesConfigError(`${problem}\n${frame}`, [problem]);
}

/** Line and column (from 1) of a YAML or JSON parse error, when it says. */
function errorPosition(error: unknown, text: string): { line: number; col: number } | undefined {
  if (error instanceof YAMLParseError) return error.linePos?.[0];
  const offset = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (offset === undefined) return undefined;
  const before = text.slice(0, Number(offset)).split('\n');
  return { line: before.length, col: (before.at(-1)?.length ?? 0) + 1 };
}
