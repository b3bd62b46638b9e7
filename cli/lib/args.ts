/**
 * The prologue every CLI command shares: parse its options strictly, or report the usage error (exit 64)
 * with the command's usage and, for an unknown option, the closest known one; show its help (exit 0). One
 * parser for the numbers and URLs of every command, so they all accept and refuse the same things.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { webhookSecretSchema } from '../../shared/webhooks/signing.ts';

/** Exit status of a usage error (EX_USAGE). */
export const USAGE_EXIT = 64;

export type OptionValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true }>
>['values'];

export interface UsageReport {
  /** Printed after the error, separated by a blank line. */
  readonly usage?: string;
  /** Writes the report; default: stderr, ending the text with a newline when it has none. */
  readonly write?: (text: string) => void;
}

/** A mistake on the command line; its message names the option at fault. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const toStderr = (text: string): void => {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
};

/** Reports a usage error as `nutcache-cdc <command>: <message>` and returns the usage exit status. */
export function usageError(command: string, message: string, report: UsageReport = {}): number {
  const usage = report.usage !== undefined ? `\n\n${report.usage.trimEnd()}` : '';
  (report.write ?? toStderr)(`nutcache-cdc ${command}: ${message}${usage}`);
  return USAGE_EXIT;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate closest to `word` when it is close enough to be a typo (at most 2 edits), else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word, name);
    if (distance <= 2 && distance < word.length && (!best || distance < best.distance))
      best = { name, distance };
  }
  return best?.name;
}

/** node:util's parse error, in the CLI's words (it names the option; an unknown one gets a suggestion). */
function describeParseError(error: unknown, options: ParseArgsOptionsConfig): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const given = /'([^']+)'/.exec(message)?.[1] ?? '';
    const name = given.replace(/^-+/, '').split('=')[0] ?? '';
    const suggestion = closest(name, Object.keys(options));
    return `unknown option '${given}'${suggestion ? `; did you mean --${suggestion}?` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return `unexpected argument ${/'([^']+)'/.exec(message)?.[0] ?? ''}`.trim();
  }
  return message.split('. ')[0] ?? message;
}

/** The command's option values, or the exit status of the usage error already reported. */
export function parseCommandLine<O extends ParseArgsOptionsConfig>(
  command: string,
  argv: string[],
  options: O,
  report: UsageReport = {},
): OptionValues<O> | number {
  try {
    return parseArgs({ args: argv, options, strict: true }).values;
  } catch (error) {
    return usageError(command, describeParseError(error, options), report);
  }
}

/** Prints a command's help on stdout; returns exit status 0. */
export function showHelp(text: string): number {
  process.stdout.write(text);
  return 0;
}

export interface NumberRule {
  /** Smallest value accepted. */
  readonly min: number;
  readonly max?: number;
  /** Accept only whole numbers (default true). */
  readonly integer?: boolean;
}

/** The value of `--name` as a number within `rule`, `fallback` when absent; throws UsageError otherwise. */
export function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  rule: NumberRule,
): number {
  if (raw === undefined) return fallback;
  const integer = rule.integer ?? true;
  const pattern = integer ? /^[0-9]+$/ : /^[0-9]+(\.[0-9]+)?$/;
  const value = Number(raw);
  const kind = integer ? 'a whole number' : 'a number';
  const range = `>= ${rule.min}${rule.max !== undefined ? ` and <= ${rule.max}` : ''}`;
  if (!pattern.test(raw) || !Number.isFinite(value) || value < rule.min || value > (rule.max ?? Infinity)) {
    throw new UsageError(`--${name} must be ${kind} ${range}, got '${raw}'`);
  }
  if (integer && !Number.isSafeInteger(value)) throw new UsageError(`--${name} is too large, got '${raw}'`);
  return value;
}

/** `raw` as an http(s) URL; throws UsageError naming `--name` otherwise. */
export function urlOption(name: string, raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`--${name} must be an http(s) URL such as https://example.com/path, got '${raw}'`);
  }
  return url;
}

/** Runs `check`; a UsageError it throws is reported (exit 64, with the usage) and its status returned. */
export function checked<T extends object>(command: string, usage: string, check: () => T): T | number {
  try {
    return check();
  } catch (error) {
    if (error instanceof UsageError) return usageError(command, error.message, { usage });
    throw error;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `raw` when it is a GUID; throws UsageError naming `source` (an option or a variable) otherwise. */
export function guidOption(source: string, raw: string): string {
  if (!GUID.test(raw)) {
    throw new UsageError(`${source} must be a GUID like 846E176E-7C4B-4BFD-A894-C98F2988927E, got '${raw}'`);
  }
  return raw;
}

/** `--webhook-url` and `--webhook-secret` checked together: a URL, and a secret for it (never shown). */
export function checkWebhookOptions(url: string | undefined, secret: string | undefined): void {
  if (url !== undefined) urlOption('webhook-url', url);
  if (url !== undefined && !secret) {
    throw new UsageError(
      '--webhook-url needs --webhook-secret whsec_… (the secret the receiver verifies with)',
    );
  }
  if (secret !== undefined) {
    const parsed = webhookSecretSchema.safeParse(secret);
    if (!parsed.success) throw new UsageError(`--webhook-secret: ${parsed.error.issues[0]?.message}`);
  }
}
