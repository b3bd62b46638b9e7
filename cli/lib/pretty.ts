/**
 * Readable rendering of published events for the terminal (the demo and `poll --pretty`), with colours
 * when the stream is a TTY and NO_COLOR is not set.
 */
import { inspect } from 'node:util';
import type { JsonValue } from '../../shared/customer.ts';
import type { BusEntry, BusEntryResult, EventBus } from '../../shared/ports.ts';

type Style = 'green' | 'yellow' | 'red' | 'cyan' | 'gray' | 'bold' | 'magenta';
const CODES: Record<Style, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  cyan: [36, 39],
  gray: [90, 39],
  magenta: [35, 39],
  bold: [1, 22],
};

export function colorizer(enabled: boolean): (style: Style, text: string) => string {
  return (style, text) => (enabled ? `\u001b[${CODES[style][0]}m${text}\u001b[${CODES[style][1]}m` : text);
}

export function useColor(stream: NodeJS.WritableStream & { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

function show(value: JsonValue | undefined): string {
  if (value === undefined) return '(absent)';
  return inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 3 });
}

interface DetailView {
  eventId?: string;
  customerId?: number;
  changeType?: string;
  sequence?: number;
  changedFields?: string[];
  changes?: Record<string, { before?: JsonValue; after?: JsonValue }>;
  before?: Record<string, JsonValue> | null;
  after?: Record<string, JsonValue> | null;
  truncated?: boolean;
  message?: string;
}

/** Renders one event (its detail-type and detail) as a few readable lines. */
export function formatEvent(detailType: string, detailJson: string, color: boolean): string {
  const c = colorizer(color);
  const detail = JSON.parse(detailJson) as DetailView;
  const name = detail.after?.name ?? detail.before?.name ?? '';
  const who =
    detail.customerId !== undefined ? `customer ${detail.customerId}${name ? ` ${show(name)}` : ''}` : '';
  const tail = c('gray', `seq ${detail.sequence ?? '-'} · ${detail.eventId ?? ''}`);
  switch (detail.changeType) {
    case 'created':
      return `${c('green', '+ Customer Created ')} ${who}  ${tail}`;
    case 'snapshot':
      return `${c('cyan', '= Customer Snapshot')} ${who}  ${tail}`;
    case 'deleted':
      return `${c('red', '- Customer Deleted ')} ${who}  ${tail}`;
    case 'updated': {
      const lines = [`${c('yellow', '~ Customer Updated ')} ${who}  ${tail}`];
      for (const [field, change] of Object.entries(detail.changes ?? {})) {
        lines.push(
          `    ${c('bold', field)}: ${c('red', show(change.before))} → ${c('green', show(change.after))}`,
        );
      }
      if (detail.truncated)
        lines.push(c('gray', '    (values left out: the event was too large for the bus)'));
      return lines.join('\n');
    }
    default:
      return `${c('magenta', `! ${detailType}`)} ${detail.message ?? ''}`;
  }
}

/**
 * A bus that prints each entry readably once it is accepted: by `inner` when given (only entries the inner
 * bus accepted are printed), else by itself.
 */
export class PrintingBus implements EventBus {
  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly inner?: EventBus,
    private readonly color = useColor(out),
  ) {}

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    const results: BusEntryResult[] = this.inner
      ? await this.inner.putEvents(entries)
      : entries.map(() => ({ ok: true }));
    entries.forEach((entry, i) => {
      if (results[i]?.ok) this.out.write(`${formatEvent(entry.detailType, entry.detail, this.color)}\n`);
    });
    return results;
  }
}
