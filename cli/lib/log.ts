/**
 * The CLI's logger: one line per message on stderr (stdout may carry events as JSON lines). Quiet by
 * default (warnings and errors); `--verbose` shows info and debug. Never given credentials.
 */
import type { Log } from '../../shared/ports.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createCliLog(
  minLevel: Level = 'warn',
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
