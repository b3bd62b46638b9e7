/**
 * Harvests (pattern, event, expected match) cases from the test sources of aws/event-ruler, the matching
 * library EventBridge documents, into test/rules/fixtures/event-ruler-cases.json. Only test DATA is taken
 * (the JSON of rules and events and the result the tests assert), never Event Ruler's code.
 *
 *   npx tsx scripts/harvest-event-ruler.ts <path to a git directory of aws/event-ruler> [commit]
 *
 * The Java test methods are read as straight-line code: string constants and `String[]` arrays are
 * evaluated, `for (String x : array)` loops are unrolled, and each `addRule` / `rulesForJSONEvent` /
 * assertion is followed. Anything the harvester cannot follow for certain (other loops, conditions,
 * rule deletion, non-string rules, several rules under one name) makes it stop harvesting that machine
 * until the test creates a new one, so every case it records states what Event Ruler's test asserts.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const REPOSITORY = 'https://github.com/aws/event-ruler';
const TEST_DIR = 'src/test/software/amazon/event/ruler';
const FILES = [
  'RulerTest.java',
  'MachineTest.java',
  'ACMachineTest.java',
  'GenericMachineTest.java',
  'RuleCompilerTest.java',
  'JsonRuleCompilerTest.java',
];
const DATA_DIR = 'src/test/data';
const OUTPUT = new URL('../test/rules/fixtures/event-ruler-cases.json', import.meta.url);

interface Origin {
  readonly file: string;
  readonly test: string;
  readonly line: number;
}
interface HarvestedCase extends Origin {
  readonly pattern: unknown;
  readonly event: unknown;
  readonly matches: boolean;
}
/** A rule Event Ruler's compiler accepts (`check` returns null) or refuses. */
interface ValidityCase extends Origin {
  readonly pattern: unknown;
  readonly valid: boolean;
}

/** Reads a file of the harvested commit (set by main). */
let readAtCommit: (path: string) => string = () => {
  throw new Error('no commit');
};

/**
 * Parses JSON whose numbers survive as doubles: a literal that overflows (1e400) or underflows to zero
 * (1e-400) would be stored as something else, so such a case cannot be recorded in a JSON fixture.
 */
function parseFaithfully(text: string): unknown {
  const literals = text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? [];
  for (const literal of literals) {
    const n = Number(literal);
    if (!Number.isFinite(n) || (n === 0 && /[1-9]/.test(literal.split(/[eE]/)[0] ?? ''))) {
      throw new Error(`number ${literal} does not survive parsing`);
    }
  }
  return JSON.parse(text);
}

// ---- scanning Java into statements and blocks ----

interface Stmt {
  readonly kind: 'stmt';
  readonly text: string;
  readonly line: number;
}
interface Block {
  readonly kind: 'block';
  readonly header: string;
  readonly line: number;
  readonly body: Node[];
}
type Node = Stmt | Block;

/** Skips a string, text block or char literal starting at i; returns the index after it. */
function skipLiteral(src: string, i: number): number {
  if (src.startsWith('"""', i)) return src.indexOf('"""', i + 3) + 3;
  const quote = src[i];
  let j = i + 1;
  while (j < src.length && src[j] !== quote) j += src[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** Skips a comment at i if there is one; returns i unchanged otherwise. */
function skipComment(src: string, i: number): number {
  if (src.startsWith('//', i)) return src.indexOf('\n', i);
  if (src.startsWith('/*', i)) return src.indexOf('*/', i) + 2;
  return i;
}

function isInitializer(text: string): boolean {
  const t = text.trimEnd();
  return /(=|\]|,|\{|\()$/.test(t);
}

function lineAt(src: string, i: number): number {
  let n = 1;
  for (let k = 0; k < i; k++) if (src.charCodeAt(k) === 10) n++;
  return n;
}

/** Parses `src` from `start` into nodes until the closing brace of the enclosing block. */
function scan(src: string, start: number): { nodes: Node[]; end: number } {
  const nodes: Node[] = [];
  let text = '';
  let textStart = start;
  let depth = 0; // parentheses and initializer braces inside the current statement
  let i = start;
  while (i < src.length) {
    const afterComment = skipComment(src, i);
    if (afterComment !== i) {
      i = afterComment < 0 ? src.length : afterComment;
      continue;
    }
    const c = src[i] as string;
    if (c === '"' || c === "'") {
      const end = skipLiteral(src, i);
      text += src.slice(i, end);
      i = end;
      continue;
    }
    if (text.trim() === '') textStart = i;
    if (c === '(' || (c === '{' && (depth > 0 || isInitializer(text)))) depth++;
    else if ((c === ')' || c === '}') && depth > 0) depth--;
    else if (c === '{') {
      const inner = scan(src, i + 1);
      nodes.push({ kind: 'block', header: text.trim(), line: lineAt(src, textStart), body: inner.nodes });
      text = '';
      i = inner.end + 1;
      continue;
    } else if (c === '}') return { nodes, end: i };
    else if (c === ';' && depth === 0) {
      nodes.push({ kind: 'stmt', text: text.trim(), line: lineAt(src, textStart) });
      text = '';
      i++;
      continue;
    }
    text += c;
    i++;
  }
  return { nodes, end: i };
}

// ---- evaluating string expressions ----

/** Variables: strings, string arrays, and the int index of a `for (int i = 0; i < a.length; i++)` loop. */
type Env = Map<string, string | string[] | number>;

function unescapeJava(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, e: string) => {
    if (e.startsWith('u') && e.length === 5) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', s: ' ' };
    return map[e] ?? e;
  });
}

function textBlock(raw: string): string {
  const lines = raw.replace(/^[ \t]*\n/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
  const strip = Math.min(...indents, /^[ \t]*$/.test(lines.at(-1) ?? '') ? (lines.at(-1)?.length ?? 0) : 1e9);
  return unescapeJava(lines.map((l) => l.slice(strip)).join('\n'));
}

/** Splits an expression at top-level occurrences of `sep` (outside literals and brackets). */
function splitTop(expr: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < expr.length; ) {
    const c = expr[i] as string;
    if (c === '"' || c === "'") {
      const end = skipLiteral(expr, i);
      current += expr.slice(i, end);
      i = end;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    if (')]}'.includes(c)) depth--;
    if (c === sep && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
    i++;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

function evalTerm(term: string, env: Env): string | undefined {
  if (term.startsWith('"""')) return textBlock(term.slice(3, -3));
  if (/^"(?:[^"\\]|\\.)*"$/s.test(term)) return unescapeJava(term.slice(1, -1));
  if (term.startsWith('(') && term.endsWith(')')) return evalString(term.slice(1, -1), env);
  const indexed = /^(\w+)\[(\w+)\]$/.exec(term);
  if (indexed) {
    const [array, index] = [env.get(indexed[1] as string), env.get(indexed[2] as string)];
    return Array.isArray(array) && typeof index === 'number' ? array[index] : undefined;
  }
  const format = /^String\.format\(([\s\S]+)\)$/.exec(term);
  if (format) return evalFormat(splitTop(format[1] as string, ','), env);
  const data = /^(?:\w+\.)?readData\("([\w.-]+)"\)$/.exec(term);
  if (data) return readAtCommit(`${DATA_DIR}/${data[1]}`);
  const unwrapped =
    /^(?:new\s+(?:StringReader|ByteArrayInputStream)\(([\s\S]+)\)|([\s\S]+)\.getBytes\([\w.]*\))$/.exec(term);
  if (unwrapped) return evalString((unwrapped[1] ?? unwrapped[2]) as string, env);
  const value = env.get(term.replace(/^\w+Test\./, ''));
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : undefined;
}

/** `String.format` with `%d` and `%s` only. */
function evalFormat(args: readonly string[], env: Env): string | undefined {
  const [template, ...rest] = args.map((a) => evalString(a, env));
  if (template === undefined || rest.some((a) => a === undefined)) return undefined;
  let next = 0;
  const out = template.replace(/%[ds]/g, () => rest[next++] ?? '%');
  return /%[^ds]/.test(template) || next !== rest.length ? undefined : out;
}

function evalString(expr: string, env: Env): string | undefined {
  let out = '';
  for (const term of splitTop(expr, '+')) {
    const value = evalTerm(term, env);
    if (value === undefined) return undefined;
    out += value;
  }
  return out;
}

function evalArray(expr: string, env: Env): string[] | undefined {
  const init = /^(?:new\s+String\s*\[\s*\]\s*)?\{([\s\S]*)\}$/.exec(expr.trim());
  if (init) {
    const items = splitTop(init[1] as string, ',').filter((s) => s !== '');
    const values = items.map((item) => evalString(item, env));
    return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
  }
  const value = env.get(expr.trim());
  return Array.isArray(value) ? value : undefined;
}

// ---- following a test method ----

interface Machine {
  rules: Map<string, string>;
  poisoned: boolean;
}
interface Results {
  readonly event: string;
  readonly rules: Map<string, string>;
  /** From `rulesForEvent`, which ignores array membership: only used for events without object arrays. */
  readonly flat: boolean;
  /** What the assertions said so far: the number of matching rules, and rules named as matching. */
  size?: number;
  readonly found: Set<string>;
}

const QUERY = String.raw`(\w+)\.(rulesForJSONEvent|rulesForEvent)\(([\s\S]+)\)`;

/** Whether array membership cannot matter for this event (no array holds an object or an array). */
function withoutNestedArrays(event: unknown): boolean {
  if (Array.isArray(event)) return event.every((e) => e === null || typeof e !== 'object');
  if (event === null || typeof event !== 'object') return true;
  return Object.values(event).every(withoutNestedArrays);
}

class MethodRunner {
  readonly env: Env;
  readonly machines = new Map<string, Machine>();
  readonly results = new Map<string, Results>();
  readonly cases: HarvestedCase[] = [];
  readonly validity: ValidityCase[] = [];
  /** `String m = RuleCompiler.check(rule)`: the rule whose verdict m holds. */
  readonly checks = new Map<string, string>();

  constructor(
    readonly file: string,
    readonly test: string,
    constants: Env,
  ) {
    this.env = new Map(constants);
  }

  run(nodes: readonly Node[]): void {
    for (const node of nodes) {
      if (node.kind === 'stmt') this.statement(node.text, node.line);
      else this.block(node);
    }
  }

  private block(node: Block): void {
    const loop = /^for\s*\(\s*(?:final\s+)?String\s+(\w+)\s*:\s*(.+)\)$/s.exec(node.header);
    const values = loop ? evalArray(loop[2] as string, this.env) : undefined;
    if (loop && values) {
      for (const value of values) {
        this.env.set(loop[1] as string, value);
        this.run(node.body);
      }
      return;
    }
    const counted =
      /^for\s*\(\s*int\s+(\w+)\s*=\s*0\s*;\s*(\w+)\s*<\s*(\w+)\.length\s*;\s*(\w+)\+\+\s*\)$/.exec(
        node.header,
      );
    const array = counted ? this.env.get(counted[3] as string) : undefined;
    if (counted && Array.isArray(array) && counted[1] === counted[2] && counted[1] === counted[4]) {
      for (let i = 0; i < array.length; i++) {
        this.env.set(counted[1] as string, i);
        this.run(node.body);
      }
      return;
    }
    if (/^(try|finally)$/.test(node.header)) {
      this.run(node.body);
      return;
    }
    // Conditions and other loops: not followed; any machine they touch is no longer known.
    for (const machine of this.machines.values()) machine.poisoned = true;
    this.results.clear();
  }

  private record(pattern: string, event: string, matches: boolean, line: number, flat = false): void {
    let parsed: { pattern: unknown; event: unknown };
    try {
      parsed = { pattern: parseFaithfully(pattern), event: parseFaithfully(event) };
    } catch {
      return; // Jackson leniencies (comments, single quotes) are not JSON; such a case is not recorded.
    }
    if (flat && !withoutNestedArrays(parsed.event)) return;
    this.cases.push({ file: this.file, test: this.test, line, ...parsed, matches });
  }

  private statement(text: string, line: number): void {
    const handlers: ((t: string, l: number) => boolean)[] = [
      (t) => this.checkDeclaration(t),
      (t) => this.declaration(t),
      (t) => this.newMachine(t),
      (t) => this.addRule(t),
      (t) => this.deleteRule(t),
      (t) => this.query(t),
      (t, l) => this.assertion(t, l),
    ];
    for (const handle of handlers) if (handle(text, line)) return;
    for (const [name, machine] of this.machines) {
      if (new RegExp(`\\b${name}\\.`).test(text) && !/\.(rulesForEvent|isEmpty)\(/.test(text)) {
        machine.poisoned = true;
      }
    }
  }

  private checkDeclaration(text: string): boolean {
    const m = /^(?:final\s+)?String\s+(\w+)\s*=\s*(?:Json)?RuleCompiler\.check\(([\s\S]+)\)$/.exec(text);
    if (!m) return false;
    const rule = evalString(m[2] as string, this.env);
    if (rule === undefined) this.checks.delete(m[1] as string);
    else this.checks.set(m[1] as string, rule);
    return true;
  }

  /** `assertNull(RuleCompiler.check(rule))` (accepted) / `assertNotNull(...)` (refused). */
  private checkAssertion(valid: boolean, expr: string, line: number): boolean {
    const inline = /^(?:Json)?RuleCompiler\.check\(([\s\S]+)\)$/.exec(expr);
    const rule = inline ? evalString(inline[1] as string, this.env) : this.checks.get(expr);
    if (rule === undefined) return true;
    try {
      this.validity.push({ file: this.file, test: this.test, line, pattern: parseFaithfully(rule), valid });
    } catch {
      // Not JSON (or numbers that do not survive parsing): not recordable as a pattern.
    }
    return true;
  }

  private declaration(text: string): boolean {
    const array = /^(?:final\s+)?String\s*\[\s*\]\s+(\w+)\s*=\s*([\s\S]+)$/.exec(text);
    if (array) {
      const values = evalArray(array[2] as string, this.env);
      if (values) this.env.set(array[1] as string, values);
      else this.env.delete(array[1] as string);
      return true;
    }
    const str = /^(?:(?:final\s+)?String\s+)?(\w+)\s*=\s*([\s\S]+)$/.exec(text);
    if (!str || this.machines.has(str[1] as string) || /rulesFor/.test(str[2] as string)) return false;
    const value = evalString(str[2] as string, this.env);
    if (value !== undefined) this.env.set(str[1] as string, value);
    else this.env.delete(str[1] as string);
    return value !== undefined;
  }

  private newMachine(text: string): boolean {
    const m =
      /^(?:(?:final\s+)?[\w<>, ]+\s+)?(\w+)\s*=\s*(new\s+(Generic)?Machine\b|createMachine\(|(Generic)?Machine\.builder\(\))[\s\S]*$/.exec(
        text,
      );
    if (!m) return false;
    this.machines.set(m[1] as string, { rules: new Map(), poisoned: false });
    return true;
  }

  private addRule(text: string): boolean {
    const m = /^(\w+)\.addRule\(([\s\S]+)\)$/.exec(text);
    const machine = m ? this.machines.get(m[1] as string) : undefined;
    if (!m || !machine) return false;
    const [nameExpr, ruleExpr, ...rest] = splitTop(m[2] as string, ',');
    const name = nameExpr === undefined ? undefined : evalString(nameExpr, this.env);
    const rule = ruleExpr === undefined ? undefined : evalString(ruleExpr, this.env);
    if (name === undefined || rule === undefined || rest.length > 0 || machine.rules.has(name)) {
      machine.poisoned = true;
    } else machine.rules.set(name, rule);
    return true;
  }

  /** `m.deleteRule(name, rule)` of the very rule added under that name. */
  private deleteRule(text: string): boolean {
    const m = /^(\w+)\.deleteRule\(([\s\S]+)\)$/.exec(text);
    const machine = m ? this.machines.get(m[1] as string) : undefined;
    if (!m || !machine) return false;
    const [nameExpr, ruleExpr, ...rest] = splitTop(m[2] as string, ',');
    const name = nameExpr === undefined ? undefined : evalString(nameExpr, this.env);
    const rule = ruleExpr === undefined ? undefined : evalString(ruleExpr, this.env);
    if (name === undefined || rule === undefined || rest.length > 0 || machine.rules.get(name) !== rule) {
      machine.poisoned = true;
    } else machine.rules.delete(name);
    return true;
  }

  /** `x = m.rulesForJSONEvent(e)`; a query of an unknown machine forgets x. */
  private query(text: string): boolean {
    const m = new RegExp(`^(?:[\\w<>]+\\s+)?(\\w+)\\s*=\\s*${QUERY}$`).exec(text);
    if (!m) return false;
    const results = this.inlineQuery(text.slice(text.indexOf('=') + 1));
    if (results) this.results.set(m[1] as string, results);
    else this.results.delete(m[1] as string);
    return true;
  }

  /** The results of an inline query or a results variable (`new HashSet<>(...)` looked through). */
  private inlineQuery(expr: string): Results | undefined {
    const inner = /^new\s+HashSet<>\(([\s\S]+)\)$/.exec(expr.trim())?.[1] ?? expr.trim();
    const m = new RegExp(`^${QUERY}$`).exec(inner);
    if (!m) return this.results.get(inner);
    const machine = this.machines.get(m[1] as string);
    const event = evalString(m[3] as string, this.env);
    if (!machine || machine.poisoned || event === undefined) return undefined;
    return { event, rules: new Map(machine.rules), flat: m[2] === 'rulesForEvent', found: new Set() };
  }

  /** `assertEquals(Collections.singletonList("r"), q)` / `new HashSet<>(Arrays.asList("a", "b"))`. */
  private exactSet(expected: string, actual: string, line: number): boolean {
    const list = /^(?:Collections\.singletonList|new\s+HashSet<>\(Arrays\.asList)\(([\s\S]*?)\)\)?$/.exec(
      expected,
    );
    const results = list ? this.inlineQuery(actual) : undefined;
    if (!list || !results) return true;
    const names = splitTop(list[1] as string, ',').map((n) => evalString(n, this.env));
    if (names.some((n) => n === undefined || !results.rules.has(n))) return true;
    for (const [name, rule] of results.rules) {
      this.record(rule, results.event, names.includes(name), line, results.flat);
    }
    return true;
  }

  private all(results: Results | undefined, matches: boolean, line: number): boolean {
    if (!results) return true;
    for (const rule of results.rules.values()) this.record(rule, results.event, matches, line, results.flat);
    return true;
  }

  private one(results: Results | undefined, name: string | undefined, matches: boolean, line: number) {
    const rule = name === undefined ? undefined : results?.rules.get(name);
    if (!results || name === undefined || rule === undefined) return true;
    this.record(rule, results.event, matches, line, results.flat);
    if (matches) results.found.add(name);
    return this.complete(results, line);
  }

  /** Once as many rules were named as matching as the asserted size, every other rule does not match. */
  private complete(results: Results, line: number): boolean {
    if (results.size !== results.found.size) return true;
    for (const [name, rule] of results.rules) {
      if (!results.found.has(name)) this.record(rule, results.event, false, line, results.flat);
    }
    return true;
  }

  private assertion(text: string, line: number): boolean {
    const call = /^(assertTrue|assertFalse|assertEquals|assertNull|assertNotNull)\(([\s\S]+)\)$/.exec(text);
    if (!call) return false;
    const args = splitTop(call[2] as string, ',');
    const kind = call[1] as string;
    if (kind === 'assertNull' || kind === 'assertNotNull') {
      return this.checkAssertion(kind === 'assertNull', args.at(-1) ?? '', line);
    }
    const [a, b] = kind === 'assertEquals' ? args.slice(-2) : args.slice(-1);
    if (a === undefined) return true;
    if (kind === 'assertEquals' && b !== undefined) return this.assertEquals(a, b, line);
    const truth = kind === 'assertTrue';
    const ruler = /^Ruler\.matchesRule\(([\s\S]+)\)$/.exec(a);
    if (ruler) {
      const [eventExpr, ruleExpr] = splitTop(ruler[1] as string, ',');
      const event = eventExpr === undefined ? undefined : evalString(eventExpr, this.env);
      const rule = ruleExpr === undefined ? undefined : evalString(ruleExpr, this.env);
      if (event !== undefined && rule !== undefined) this.record(rule, event, truth, line);
      return true;
    }
    const empty = /^([\s\S]+)\.isEmpty\(\)$/.exec(a);
    if (empty) {
      const results = this.inlineQuery(empty[1] as string);
      if (truth) return this.all(results, false, line);
      return results?.rules.size === 1 ? this.all(results, true, line) : true;
    }
    const contains = /^(\w+)\.contains\(([\s\S]+)\)$/.exec(a);
    if (contains) {
      const name = evalString(contains[2] as string, this.env);
      return this.one(this.inlineQuery(contains[1] as string), name, truth, line);
    }
    return true;
  }

  private assertEquals(expected: string, actual: string, line: number): boolean {
    const size = /^([\s\S]+)\.size\(\)$/.exec(actual);
    if (size && /^\d+$/.test(expected)) {
      const results = this.inlineQuery(size[1] as string);
      const n = Number(expected);
      if (!results) return true;
      if (n === 0) return this.all(results, false, line);
      if (n === results.rules.size) return this.all(results, true, line);
      results.size = n;
      return this.complete(results, line);
    }
    if (/^(Collections\.singletonList|new\s+HashSet)/.test(expected))
      return this.exactSet(expected, actual, line);
    const first = /^(\w+)\.get\(0\)$/.exec(actual);
    if (first)
      return this.one(this.results.get(first[1] as string), evalString(expected, this.env), true, line);
    return true;
  }
}

// ---- files ----

function classConstants(nodes: readonly Node[], env: Env): void {
  for (const node of nodes) {
    if (node.kind === 'block') {
      if (/\bclass\b/.test(node.header)) classConstants(node.body, env);
      continue;
    }
    const m =
      /^(?:(?:private|public|protected|static|final)\s+)+String(\s*\[\s*\])?\s+(\w+)\s*=\s*([\s\S]+)$/.exec(
        node.text,
      );
    if (!m) continue;
    const value = m[1] ? evalArray(m[3] as string, env) : evalString(m[3] as string, env);
    if (value !== undefined) env.set(m[2] as string, value);
  }
}

function testMethods(nodes: readonly Node[]): Block[] {
  const out: Block[] = [];
  for (const node of nodes) {
    if (node.kind !== 'block') continue;
    if (/\bclass\b/.test(node.header)) out.push(...testMethods(node.body));
    else if (/@Test\b/.test(node.header)) out.push(node);
  }
  return out;
}

function harvestFile(source: string, file: string): { cases: HarvestedCase[]; validity: ValidityCase[] } {
  const tree = scan(source, 0).nodes;
  const constants: Env = new Map();
  classConstants(tree, constants);
  const cases: HarvestedCase[] = [];
  const validity: ValidityCase[] = [];
  for (const method of testMethods(tree)) {
    const name = /(\w+)\s*\([^)]*\)[^(]*$/.exec(method.header)?.[1] ?? 'unknown';
    const runner = new MethodRunner(file, name, constants);
    runner.run(method.body);
    cases.push(...runner.cases);
    validity.push(...runner.validity);
  }
  return { cases, validity };
}

/** One case per key; the same key asserted with two outcomes would be a harvesting error. */
function dedupe<T extends Origin>(
  cases: readonly T[],
  key: (c: T) => unknown,
  outcome: (c: T) => boolean,
): T[] {
  const seen = new Map<string, T>();
  for (const c of cases) {
    const k = JSON.stringify(key(c));
    const earlier = seen.get(k);
    if (earlier && outcome(earlier) !== outcome(c)) {
      throw new Error(`conflicting expectations: ${earlier.file}:${earlier.line} vs ${c.file}:${c.line}`);
    }
    if (!earlier) seen.set(k, c);
  }
  return [...seen.values()];
}

function main(): void {
  const [gitDir, commitArg] = process.argv.slice(2);
  if (!gitDir) throw new Error('usage: harvest-event-ruler.ts <git dir of aws/event-ruler> [commit]');
  const git = (...args: string[]) =>
    execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8' });
  const commit = git('rev-parse', commitArg ?? 'HEAD').trim();
  readAtCommit = (path) => git('show', `${commit}:${path}`);
  const all: HarvestedCase[] = [];
  const allValidity: ValidityCase[] = [];
  for (const name of FILES) {
    const file = `${TEST_DIR}/${name}`;
    const harvested = harvestFile(readAtCommit(file), file);
    all.push(...harvested.cases);
    allValidity.push(...harvested.validity);
  }
  const cases = dedupe(
    all,
    (c) => [c.pattern, c.event],
    (c) => c.matches,
  );
  const validity = dedupe(
    allValidity,
    (c) => c.pattern,
    (c) => c.valid,
  );
  const header = { repository: REPOSITORY, commit, harvestedBy: 'scripts/harvest-event-ruler.ts' };
  // One case a line: small, and readable diffs when the harvest is re-run on a newer commit.
  const lines = (list: readonly unknown[]) => list.map((c) => `  ${JSON.stringify(c)}`).join(',\n');
  const body = `"cases": [\n${lines(cases)}\n],\n"validity": [\n${lines(validity)}\n]`;
  writeFileSync(OUTPUT, `{${JSON.stringify(header).slice(1, -1)},\n${body}}\n`);
  console.log(`${cases.length} match cases (${all.length} before removing duplicates) from ${commit}`);
  console.log(`${validity.length} accept/refuse cases (${allValidity.length} before removing duplicates)`);
}

main();
