/**
 * `nutcache-cdc rules validate --rules <file>` and `nutcache-cdc rules test --event <file> [--rules <file>]`:
 * checks a CRM sync rules file, and evaluates its rules against events with the local EventBridge matcher,
 * printing for each rule whether it matches and, when not, which fields did not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type CrmTarget, isCrmTarget } from '../../shared/crm/model.ts';
import { crmRequest, formatCrmRequest } from '../../shared/crm/request.ts';
import { crmRulePattern } from '../../shared/crm/transformer.ts';
import { type EventBridgeEvent, eventBridgeEventSchema } from '../../shared/events/contract.ts';
import {
  compileRulePattern,
  type EventPattern,
  MAX_PATTERN_LENGTH,
  patternJson,
  unknownFieldWarnings,
} from '../../shared/rules/compile.ts';
import { InputTransformerError } from '../../shared/rules/input-transformer.ts';
import {
  compileEventPattern,
  InvalidPatternError,
  matchCompiledPattern,
} from '../../shared/rules/matcher.ts';
import {
  parseRulesText,
  RulesConfigError,
  type SyncRuleSpec,
  type TargetSpec,
} from '../../shared/rules/model.ts';
import { parseCommandLine, USAGE_EXIT, usageError } from '../lib/args.ts';

const USAGE = `Usage:
  nutcache-cdc rules validate [--rules <file>] [--strict]
  nutcache-cdc rules test --event <file> [--rules <file>] [--event-source <source>]

  --rules <file>         rules file (YAML or JSON). Default: the syncRulesFile of nutcache-cdc.config.json,
                         else examples/sync-rules.yaml
  --event <file>         an EventBridge event as a rule target receives it (JSON), or JSON lines of them
                         (the local sink's output)
  --event-source <src>   the events' source the rules are compiled for. Default: the eventSource of
                         nutcache-cdc.config.json, else nutcache.customers
  --strict               validate: exit 1 on warnings too (a field name that is not a customer field)

Exit status: 0 valid (warnings on stderr), 1 an invalid rules file, or an event file without events,
64 usage.`;

interface Io {
  out(text: string): void;
  err(text: string): void;
}
const stdio: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** What `rules` takes from nutcache-cdc.config.json (the deployment's settings), when it is there. */
interface ConfigDefaults {
  readonly syncRulesFile?: string;
  readonly eventSource?: string;
}

function configDefaults(): ConfigDefaults {
  if (!existsSync('nutcache-cdc.config.json')) return {};
  try {
    const config = JSON.parse(readFileSync('nutcache-cdc.config.json', 'utf8')) as {
      syncRulesFile?: unknown;
      eventSource?: unknown;
    };
    return {
      ...(typeof config.syncRulesFile === 'string' ? { syncRulesFile: config.syncRulesFile } : {}),
      ...(typeof config.eventSource === 'string' ? { eventSource: config.eventSource } : {}),
    };
  } catch {
    // An unreadable config is the config command's business; fall back to the defaults.
    return {};
  }
}

export function loadRules(file: string): SyncRuleSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new RulesConfigError(`${file}: cannot read the rules file`, []);
  }
  return parseRulesText(text, file);
}

function describeTarget(target: TargetSpec): string {
  switch (target.type) {
    case 'webhook':
      return `webhook ${new URL(target.url).host}`;
    case 'sqs':
      return `SQS ${target.queueArn.split(':').at(-1)}`;
    case 'lambda':
      return `Lambda ${target.functionArn.split(':').at(-1)}`;
    case 'stepFunctions':
      return `Step Functions ${target.stateMachineArn.split(':').at(-1)}`;
    case 'apiDestination':
      return `API destination ${target.apiDestinationArn.split('/')[1] ?? target.apiDestinationArn}`;
    case 'hubspot':
      return `HubSpot ${target.object}`;
    case 'salesforce':
      return `Salesforce ${target.object}`;
  }
}

/** One event per non-empty line (JSON lines), or one JSON document. */
function loadEvents(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  try {
    return [JSON.parse(text)];
  } catch {
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line, index) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          throw new Error(`${file}: line ${index + 1} is not JSON`);
        }
      });
  }
}

/**
 * The file's events, each as given (what patterns match: the schema drops unknown keys) with its checked
 * envelope (for its label), or why they are not events (one line).
 */
type CheckedEvent = { readonly event: unknown; readonly envelope: EventBridgeEvent };

function checkedEvents(events: readonly unknown[], file: string): CheckedEvent[] | string {
  if (events.length === 0) return `${file}: no event in the file`;
  const checked: CheckedEvent[] = [];
  for (const [index, event] of events.entries()) {
    const parsed = eventBridgeEventSchema.safeParse(event);
    if (parsed.success) {
      checked.push({ event, envelope: parsed.data });
      continue;
    }
    const path = parsed.error.issues[0]?.path.join('.') || 'the document';
    return `${file}: event ${index + 1} is not an EventBridge event ('${path}' is missing or invalid); give the JSON a rule target receives, or JSON lines of them`;
  }
  return checked;
}

function eventLabel(event: EventBridgeEvent, index: number): string {
  const detail = event.detail as { customerId?: unknown; eventId?: unknown } | undefined;
  const customer = detail?.customerId !== undefined ? ` customer ${String(detail.customerId)}` : '';
  const id = typeof detail?.eventId === 'string' ? ` [${detail.eventId}]` : '';
  return `event ${index + 1}: ${event['detail-type']}${customer}${id}`;
}

const OPTIONS = {
  rules: { type: 'string' },
  event: { type: 'string' },
  'event-source': { type: 'string' },
  strict: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runRules(argv: string[], io: Io = stdio): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || (sub !== 'validate' && sub !== 'test')) {
    (sub && sub !== '--help' && sub !== '-h' ? io.err : io.out)(USAGE);
    return sub === '--help' || sub === '-h' ? 0 : USAGE_EXIT;
  }
  const values = parseCommandLine('rules', rest, OPTIONS, { usage: USAGE, write: io.err });
  if (typeof values === 'number') return values;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  // The deployed rules are compiled for the config's eventSource (the stack passes it on): test them the same.
  const defaults = configDefaults();
  const rulesFile = values.rules ?? defaults.syncRulesFile ?? 'examples/sync-rules.yaml';
  const eventSource = values['event-source'] ?? defaults.eventSource;

  let rules: SyncRuleSpec[];
  try {
    rules = loadRules(rulesFile);
  } catch (error) {
    if (error instanceof RulesConfigError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }

  // Every pattern goes through the matcher's pattern compiler, which refuses what EventBridge refuses.
  let patterns: CompiledRule[];
  try {
    patterns = rules.map((rule) => ({
      rule,
      // A CRM rule's pattern also leaves truncated events out (shared/crm/transformer.ts).
      pattern: isCrmTarget(rule.target)
        ? crmRulePattern(rule, { eventSource })
        : compileRulePattern(rule, { eventSource }),
    }));
  } catch (error) {
    if (error instanceof InvalidPatternError) {
      io.err(`${rulesFile}: ${error.message}`);
      return 1;
    }
    throw error;
  }
  if (sub === 'validate') return validateRules(patterns, rulesFile, io, values.strict === true);
  if (!values.event) {
    return usageError('rules test', '--event <file> is required', { usage: USAGE, write: io.err });
  }
  return testRules(patterns, values.event, io);
}

/** A rule with its pattern, compiled (and checked) once for both sub-commands. */
interface CompiledRule {
  readonly rule: SyncRuleSpec;
  readonly pattern: EventPattern;
}

/**
 * `rules validate`: each rule's target and pattern size; 1 when a pattern is too long. Field names that are
 * not customer fields are warnings (1 with `strict`).
 */
function validateRules(
  patterns: readonly CompiledRule[],
  rulesFile: string,
  io: Io,
  strict: boolean,
): number {
  const warnings = patterns.flatMap(({ rule }) => unknownFieldWarnings(rule));
  for (const warning of warnings) io.err(`warning: ${warning}`);
  let ok = true;
  for (const { rule, pattern } of patterns) {
    const length = patternJson(pattern).length;
    const fits = length <= MAX_PATTERN_LENGTH;
    ok &&= fits;
    io.out(
      `${fits ? '✓' : '✗'} ${rule.name} → ${describeTarget(rule.target)} (pattern ${length}/${MAX_PATTERN_LENGTH} characters)`,
    );
  }
  const warned = warnings.length > 0 ? `, ${warnings.length} warning(s)` : '';
  io.out(
    ok
      ? `${rulesFile}: ${patterns.length} rule(s), all valid${warned}`
      : `${rulesFile}: a pattern is too long`,
  );
  return ok && !(strict && warnings.length > 0) ? 0 : 1;
}

/** `rules test`: for each event of the file, which rules match it and, when not, why. */
function testRules(patterns: readonly CompiledRule[], eventFile: string, io: Io): number {
  let events: unknown[];
  try {
    events = loadEvents(eventFile);
  } catch (error) {
    io.err(`nutcache-cdc rules test: ${(error as Error).message.split('\n')[0]}`);
    return 1;
  }
  const checked = checkedEvents(events, eventFile);
  if (typeof checked === 'string') {
    io.err(`nutcache-cdc rules test: ${checked}`);
    return 1;
  }
  const compiled = patterns.map(({ rule, pattern }) => ({ rule, pattern: compileEventPattern(pattern) }));
  checked.forEach(({ event, envelope }, index) => {
    io.out(eventLabel(envelope, index));
    for (const { rule, pattern } of compiled) {
      const result = matchCompiledPattern(pattern, event);
      if (result.matched) {
        io.out(`  ✓ ${rule.name} matches → ${describeTarget(rule.target)}`);
        if (isCrmTarget(rule.target)) printCrmRequest(rule.name, rule.target, event, io);
      } else {
        io.out(`  ✗ ${rule.name} does not match:`);
        for (const why of result.mismatches) io.out(`      ${why}`);
      }
    }
  });
  return 0;
}

/** The exact HTTP request a CRM target receives for the event (or why it receives none). */
function printCrmRequest(ruleName: string, target: CrmTarget, event: unknown, io: Io): void {
  let text: string;
  try {
    const request = crmRequest(target, event, { context: { ruleName } });
    text = request
      ? formatCrmRequest(request, target)
      : 'no request: a deletion with onDelete: ignore (the default) leaves the CRM record as it is';
  } catch (error) {
    if (!(error instanceof InputTransformerError)) throw error;
    text = `no request: EventBridge would not deliver it (${error.message})`;
  }
  for (const line of text.split('\n')) io.out(line === '' ? '' : `      ${line}`);
}

export async function run(argv: string[]): Promise<number> {
  return runRules(argv);
}
