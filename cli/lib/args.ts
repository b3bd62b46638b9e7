/**
 * The prologue every CLI command shares: parse its options strictly, or report the usage error (exit 64);
 * show its help (exit 0).
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

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

const toStderr = (text: string): void => {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
};

/** Reports a usage error as `nutcache-cdc <command>: <message>` and returns the usage exit status. */
export function usageError(command: string, message: string, report: UsageReport = {}): number {
  const usage = report.usage !== undefined ? `\n\n${report.usage}` : '';
  (report.write ?? toStderr)(`nutcache-cdc ${command}: ${message}${usage}`);
  return USAGE_EXIT;
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
    return usageError(command, error instanceof Error ? error.message : String(error), report);
  }
}

/** Prints a command's help on stdout; returns exit status 0. */
export function showHelp(text: string): number {
  process.stdout.write(text);
  return 0;
}
