/**
 * The CLI's logger: one line per message on stderr (stdout may carry events as JSON lines), with its fields
 * as JSON. Commands that sum up their work in a line of their own (`poll`) keep it `off` by default, so a
 * failure reads as that line and a hint; `--verbose` shows everything. Never given credentials.
 */
import type { Log } from '../../shared/ports.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogThreshold = Level | 'off';
const ORDER: Record<LogThreshold, number> = { debug: 10, info: 20, warn: 30, error: 40, off: 50 };

export function createCliLog(
  minLevel: LogThreshold = 'warn',
  write: (line: string) => void = (l) => process.stderr.write(l),
): Log {
  const emit =
    (level: Level) =>
    (message: string, ...extra: Record<string, unknown>[]): void => {
      if (ORDER[level] < ORDER[minLevel]) return;
      const fields = Object.assign({}, ...extra) as Record<string, unknown>;
      const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      write(`${level.toUpperCase().padEnd(5)} ${message}${rest}\n`);
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
