/**
 * EventBridge's input transformer, evaluated locally: the one implementation shared by local CRM delivery and
 * `nutcache-cdc rules test`, so both produce the request the deployed rule target would send. Also the
 * resolution of `HttpParameters.PathParameterValues` (dynamic path parameters of an API destination).
 *
 * Semantics, from the EventBridge User Guide ("Amazon EventBridge input transformation", its tutorial and
 * "Dynamic path parameters") and the API reference (`InputTransformer`, `HttpParameters`); the cases are in
 * test/rules/input-transformer.test.ts, each citing its page:
 * - `inputPathsMap`: at most 100 variables; names `[A-Za-z0-9_-]`, at most 256 characters, never one of the
 *   predefined `aws.*` names; each value a JSON path in dot notation (`$`, `.name`, `[0]`, `.*`, `[*]`; names
 *   of letters, digits, `_`, `-` and `/`), at most 256 characters.
 * - The template is JSON when it starts with `{` (after blanks); otherwise it is text. At most 8,192
 *   characters. Placeholders are `<name>`: a variable of the map or a predefined variable.
 * - In a JSON template, a placeholder outside quotes becomes the value's JSON text (a string is quoted); inside
 *   quotes, and everywhere in a text template, a string is inserted as is (EventBridge does not escape it) and
 *   any other value as its JSON text. A placeholder may not be an object key.
 * - A path the event does not have creates no variable: its placeholders become empty.
 * - `aws.events.event` (the event without `detail`) and `aws.events.event.json` (the whole event) only as the
 *   value of a JSON field.
 * Where the documentation is silent we refuse rather than guess (each such choice is named in the tests): a
 * placeholder naming no variable, a template starting with `[`, and a JSON template whose result is not JSON
 * (EventBridge would not deliver it) are errors.
 */
import { z } from 'zod';

/** EventBridge's limits on an input transformer (API reference, `InputTransformer`). */
export const MAX_INPUT_PATHS = 100;
export const MAX_INPUT_TEMPLATE_LENGTH = 8192;
export const MAX_INPUT_PATH_KEY_LENGTH = 256;
export const MAX_INPUT_PATH_LENGTH = 256;

const EVENT_WITHOUT_DETAIL = 'aws.events.event';
const EVENT_JSON = 'aws.events.event.json';
/** The predefined variables: reserved names, usable without a path. */
export const PREDEFINED_VARIABLES = [
  'aws.events.rule-arn',
  'aws.events.rule-name',
  'aws.events.event.ingestion-time',
  EVENT_WITHOUT_DETAIL,
  EVENT_JSON,
] as const;
/** Predefined variables whose content is not escaped: only the value of a JSON field. */
const JSON_ONLY_VARIABLES: ReadonlySet<string> = new Set([EVENT_WITHOUT_DETAIL, EVENT_JSON]);

const VARIABLE_NAME = /^[A-Za-z0-9_-]+$/;
const PATH_STEP = /\.(?:[A-Za-z0-9_\-/]+|\*)|\[(?:\d+|\*)\]/y;
const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/y;

/** A transformer (or an event) EventBridge would refuse, or a transformation whose result it would not deliver. */
export class InputTransformerError extends Error {
  override name = 'InputTransformerError';
}

export interface InputTransformer {
  readonly inputPathsMap?: Readonly<Record<string, string>>;
  readonly inputTemplate: string;
}

/** What EventBridge knows besides the event: the values of the predefined variables. */
export interface TransformContext {
  /** @default 'local' */
  readonly ruleName?: string;
  /** @default an ARN built from the rule name in a placeholder account */
  readonly ruleArn?: string;
  /** @default the event's `time`, else now */
  readonly ingestionTime?: string;
}

// ---------------------------------------------------------------------------------------------------
// JSON paths

type PathStep =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'any' };

/** The steps of a dot-notation JSON path, or undefined when EventBridge's subset does not have it. */
function parsePath(path: string): PathStep[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const steps: PathStep[] = [];
  let at = 1;
  while (at < path.length) {
    PATH_STEP.lastIndex = at;
    const match = PATH_STEP.exec(path);
    if (!match) return undefined;
    steps.push(stepOf(match[0]));
    at = PATH_STEP.lastIndex;
  }
  return steps;
}

function stepOf(text: string): PathStep {
  if (text === '.*' || text === '[*]') return { kind: 'any' };
  if (text.startsWith('[')) return { kind: 'index', index: Number(text.slice(1, -1)) };
  return { kind: 'name', name: text.slice(1) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The values one step leads to from each of `values`. */
function stepInto(values: readonly unknown[], step: PathStep): unknown[] {
  return values.flatMap((value): unknown[] => {
    if (step.kind === 'any') {
      if (Array.isArray(value)) return value;
      return isRecord(value) ? Object.values(value) : [];
    }
    if (step.kind === 'index') {
      return Array.isArray(value) && step.index < value.length ? [value[step.index]] : [];
    }
    return isRecord(value) && Object.hasOwn(value, step.name) ? [value[step.name]] : [];
  });
}

/** What a JSON path finds in an event. */
export type PathResult = { readonly found: true; readonly value: unknown } | { readonly found: false };

/**
 * Evaluates a JSON path of EventBridge's subset. A path with a wildcard always finds a list (possibly empty:
 * the documentation lists wildcards as supported but does not show their result; this is JSONPath's).
 */
export function evaluateJsonPath(path: string, event: unknown): PathResult {
  const steps = parsePath(path);
  if (!steps) throw new InputTransformerError(`'${path}' is not a JSON path EventBridge supports`);
  const values = steps.reduce<unknown[]>((current, step) => stepInto(current, step), [event]);
  if (steps.some((step) => step.kind === 'any')) return { found: true, value: values };
  return values.length === 0 ? { found: false } : { found: true, value: values[0] };
}

// ---------------------------------------------------------------------------------------------------
// Templates

type Segment =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'placeholder'; readonly name: string; readonly quoted: boolean };

interface ScannedTemplate {
  readonly json: boolean;
  /** Starts with `[`: neither of the documented kinds. */
  readonly array: boolean;
  readonly segments: readonly Segment[];
  /** Problems found while scanning (placeholders used as object keys). */
  readonly problems: readonly string[];
}

/** Tracks whether a JSON template's cursor is inside a string literal. */
interface QuoteState {
  inString: boolean;
  escaped: boolean;
  /** The current string literal holds a placeholder (to refuse it as an object key). */
  stringHasPlaceholder: boolean;
}

/** Splits a template into text and placeholders, noting whether each placeholder is inside quotes. */
function scanTemplate(template: string): ScannedTemplate {
  const json = template.trimStart().startsWith('{');
  const segments: Segment[] = [];
  const problems: string[] = [];
  const state: QuoteState = { inString: false, escaped: false, stringHasPlaceholder: false };
  let text = '';
  let at = 0;
  while (at < template.length) {
    const placeholder = json && state.escaped ? undefined : placeholderAt(template, at);
    if (placeholder) {
      if (text) segments.push({ kind: 'text', text });
      text = '';
      const quoted = !json || state.inString;
      segments.push({ kind: 'placeholder', name: placeholder, quoted });
      if (json && !state.inString && nextIsColon(template, at + placeholder.length + 2)) {
        problems.push(`<${placeholder}> is used as an object key, which EventBridge does not allow`);
      }
      if (state.inString) state.stringHasPlaceholder = true;
      at += placeholder.length + 2;
      continue;
    }
    const char = template.charAt(at);
    if (json) trackQuotes(state, char, () => nextIsColon(template, at + 1), problems);
    text += char;
    at += 1;
  }
  if (text) segments.push({ kind: 'text', text });
  return { json, array: template.trimStart().startsWith('['), segments, problems };
}

function placeholderAt(template: string, at: number): string | undefined {
  if (template.charAt(at) !== '<') return undefined;
  PLACEHOLDER.lastIndex = at;
  return PLACEHOLDER.exec(template)?.[1];
}

function nextIsColon(template: string, from: number): boolean {
  return template.slice(from).trimStart().startsWith(':');
}

function trackQuotes(state: QuoteState, char: string, closesAKey: () => boolean, problems: string[]): void {
  if (!state.inString) {
    if (char === '"') Object.assign(state, { inString: true, stringHasPlaceholder: false });
    return;
  }
  if (state.escaped) {
    state.escaped = false;
  } else if (char === '\\') {
    state.escaped = true;
  } else if (char === '"') {
    state.inString = false;
    if (state.stringHasPlaceholder && closesAKey()) {
      problems.push('a placeholder is used in an object key, which EventBridge does not allow');
    }
  }
}

/** Problems of a template given the variables of its map (empty when EventBridge would accept it). */
function templateProblems(scanned: ScannedTemplate, variables: ReadonlySet<string>): string[] {
  const problems = [...scanned.problems];
  for (const segment of scanned.segments) {
    if (segment.kind !== 'placeholder') continue;
    const predefined = (PREDEFINED_VARIABLES as readonly string[]).includes(segment.name);
    if (!predefined && !variables.has(segment.name)) {
      problems.push(
        `<${segment.name}> names no variable of inputPathsMap and no predefined variable (the documentation does not say what EventBridge does; refused)`,
      );
    }
    if (JSON_ONLY_VARIABLES.has(segment.name) && segment.quoted) {
      problems.push(`<${segment.name}> can only be the value of a JSON field, not part of a string`);
    }
  }
  if (scanned.json && problems.length === 0) problems.push(...jsonShapeProblems(scanned));
  if (scanned.array) {
    problems.push(
      'a template starting with [ is neither of the documented kinds (JSON object or text); refused',
    );
  }
  return problems;
}

/** A JSON template must be JSON once each placeholder holds a value. */
function jsonShapeProblems(scanned: ScannedTemplate): string[] {
  const probe = scanned.segments.map((s) => (s.kind === 'text' ? s.text : s.quoted ? 'x' : 'null')).join('');
  try {
    JSON.parse(probe);
    return [];
  } catch (error) {
    return [`the template starts with { but is not JSON: ${(error as Error).message}`];
  }
}

// ---------------------------------------------------------------------------------------------------
// Schema

/** Why EventBridge refuses a variable name, or undefined. */
function variableNameProblem(name: string): string | undefined {
  if (name.toLowerCase().startsWith('aws.')) {
    return `'${name}': names starting with "aws." are reserved for the predefined variables`;
  }
  if (name.length > MAX_INPUT_PATH_KEY_LENGTH)
    return `'${name}': at most ${MAX_INPUT_PATH_KEY_LENGTH} characters`;
  return VARIABLE_NAME.test(name) ? undefined : `'${name}': variable names are letters, digits, "_" and "-"`;
}

const inputPathsMapSchema = z
  .record(
    z.string(),
    z
      .string()
      .max(MAX_INPUT_PATH_LENGTH)
      .refine((path) => parsePath(path) !== undefined, {
        message:
          'a JSON path in dot notation: $, .name, [0], .* or [*] (names of letters, digits, _, - and /)',
      }),
  )
  .superRefine((map, ctx) => {
    const names = Object.keys(map);
    if (names.length > MAX_INPUT_PATHS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_INPUT_PATHS} variables` });
    for (const name of names) {
      const problem = variableNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  });

/** An input transformer EventBridge would accept (template checked against its map). */
export const inputTransformerSchema = z
  .strictObject({
    inputPathsMap: inputPathsMapSchema.optional(),
    inputTemplate: z.string().min(1).max(MAX_INPUT_TEMPLATE_LENGTH),
  })
  .superRefine((transformer, ctx) => {
    const variables = new Set(Object.keys(transformer.inputPathsMap ?? {}));
    for (const message of templateProblems(scanTemplate(transformer.inputTemplate), variables)) {
      ctx.addIssue({ code: 'custom', path: ['inputTemplate'], message });
    }
  });

function parseTransformer(transformer: InputTransformer): InputTransformer {
  const parsed = inputTransformerSchema.safeParse(transformer);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || '(transformer)'}: ${issue.message}`,
  );
  throw new InputTransformerError(`invalid input transformer: ${issues.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

/** The variables an event creates: a path the event does not have creates none. */
function resolveVariables(
  map: Readonly<Record<string, string>>,
  event: unknown,
  context: TransformContext,
): Map<string, unknown> {
  const values = new Map<string, unknown>(predefinedValues(event, context));
  for (const [name, path] of Object.entries(map)) {
    const result = evaluateJsonPath(path, event);
    if (result.found) values.set(name, result.value);
  }
  return values;
}

function predefinedValues(event: unknown, context: TransformContext): [string, unknown][] {
  const ruleName = context.ruleName ?? 'local';
  const time = isRecord(event) && typeof event.time === 'string' ? event.time : undefined;
  const { detail: _detail, ...withoutDetail } = isRecord(event) ? event : {};
  return [
    ['aws.events.rule-name', ruleName],
    ['aws.events.rule-arn', context.ruleArn ?? `arn:aws:events:us-east-1:000000000000:rule/${ruleName}`],
    ['aws.events.event.ingestion-time', context.ingestionTime ?? time ?? new Date().toISOString()],
    [EVENT_WITHOUT_DETAIL, withoutDetail],
    [EVENT_JSON, event],
  ];
}

/** A value as it appears at a placeholder: JSON outside quotes; a string as is inside them (not escaped). */
function render(value: unknown, quoted: boolean): string {
  if (quoted && typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** A transformer checked and its template scanned once, to apply to many events. */
export interface CompiledInputTransformer {
  /** The body EventBridge sends to the target for `event` (see `applyInputTransformer`). */
  apply(event: unknown, context?: TransformContext): string;
}

/** Checks a transformer and scans its template once; throws `InputTransformerError` when EventBridge refuses it. */
export function compileInputTransformer(transformer: InputTransformer): CompiledInputTransformer {
  const { inputPathsMap = {}, inputTemplate } = parseTransformer(transformer);
  const scanned = scanTemplate(inputTemplate);
  return {
    apply(event, context = {}) {
      const values = resolveVariables(inputPathsMap, event, context);
      const output = scanned.segments
        .map((segment) => {
          if (segment.kind === 'text') return segment.text;
          return values.has(segment.name) ? render(values.get(segment.name), segment.quoted) : '';
        })
        .join('');
      if (scanned.json) assertJson(output, scanned, values);
      return output;
    },
  };
}

/**
 * The body EventBridge sends to the target for `event`: the template with its placeholders replaced.
 * Throws `InputTransformerError` for a transformer EventBridge refuses, and for a JSON template whose result
 * is not JSON (a missing value outside quotes, or an unescaped quote inside them).
 */
export function applyInputTransformer(
  transformer: InputTransformer,
  event: unknown,
  context: TransformContext = {},
): string {
  return compileInputTransformer(transformer).apply(event, context);
}

function assertJson(output: string, scanned: ScannedTemplate, values: ReadonlyMap<string, unknown>): void {
  try {
    JSON.parse(output);
  } catch (error) {
    const missing = scanned.segments
      .filter((s) => s.kind === 'placeholder' && !values.has(s.name))
      .map((s) => (s.kind === 'placeholder' ? `<${s.name}>` : ''));
    const why = missing.length > 0 ? ` (no value for ${[...new Set(missing)].join(', ')})` : '';
    throw new InputTransformerError(
      `the transformed input is not JSON${why}: ${(error as Error).message}; EventBridge would not deliver it`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Path parameters (HttpParameters.PathParameterValues)

/** Characters a path parameter may hold: how EventBridge encodes others is not documented, so we refuse them. */
const SAFE_PATH_PARAMETER = /^[A-Za-z0-9._~-]+$/;

/** One path parameter: a static value, or (when it starts with `$`) a JSON path into the original event. */
function resolvePathParameter(value: string, event: unknown): string {
  if (value.trim() === '') throw new InputTransformerError('a path parameter value cannot be blank');
  if (!value.startsWith('$')) return value;
  const result = evaluateJsonPath(value, event);
  if (!result.found) throw new InputTransformerError(`path parameter ${value}: the event has no such value`);
  const found = result.value;
  if (typeof found === 'string' && found.trim() !== '') return found;
  if (typeof found === 'number' || typeof found === 'boolean') return String(found);
  throw new InputTransformerError(
    `path parameter ${value}: ${JSON.stringify(found)} is not a non-blank string, number or boolean`,
  );
}

/**
 * `PathParameterValues` for an event: each value static, or a JSON path into the ORIGINAL event (never the
 * transformed input); the whole value is the path or it is static text.
 */
export function resolvePathParameterValues(values: readonly string[], event: unknown): string[] {
  return values.map((value) => resolvePathParameter(value, event));
}

/** The endpoint with each `*` replaced, in order, by a path parameter value. */
export function fillPathParameters(endpoint: string, values: readonly string[]): string {
  const parts = endpoint.split('*');
  if (parts.length - 1 !== values.length) {
    throw new InputTransformerError(
      `the endpoint has ${parts.length - 1} '*' wildcard(s) but ${values.length} path parameter value(s) were given`,
    );
  }
  return parts
    .map((part, index) => {
      const value = values[index];
      if (value === undefined) return part;
      if (!SAFE_PATH_PARAMETER.test(value)) {
        throw new InputTransformerError(
          `path parameter '${value}' needs URL encoding, which EventBridge does not document; refused`,
        );
      }
      return part + value;
    })
    .join('');
}
