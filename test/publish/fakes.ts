/** Test doubles for the publish tests: a clock at START, a recording logger and metrics sink. */
import type { CanonicalCustomer } from '../../shared/customer.ts';
import type { BusEvent, CustomerChangeDetail } from '../../shared/events/contract.ts';
import { DEFAULT_EVENT_SOURCE, DETAIL_TYPES } from '../../shared/events/contract.ts';
import type { Log, MetricsSink } from '../../shared/ports.ts';
import { TestClock } from '../support/clock.ts';
import { customerRecord } from '../support/customer.ts';

export const START = Date.parse('2026-11-27T10:00:00.000Z');

/** The test clock at START: sleeping advances `now` instantly and is recorded. */
export function publishClock(): TestClock {
  return new TestClock({ start: START });
}

export class RecordingLog implements Log {
  readonly lines: { level: string; message: string; extra: object[] }[] = [];
  debug(message: string, ...extra: object[]): void {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: object[]): void {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: object[]): void {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: object[]): void {
    this.lines.push({ level: 'error', message, extra });
  }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

export class RecordingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();
  count(name: string, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  gauge(): void {}
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}

export function customer(id: number, notes = ''): CanonicalCustomer {
  return customerRecord(id, { notes });
}

/** An "updated" event for customer `n`; `notesBytes` pads before/after to make it big. */
export function makeEvent(n: number, options: { notesBytes?: number; changesBytes?: number } = {}): BusEvent {
  const notes = 'x'.repeat(options.notesBytes ?? 0);
  const before = customer(n, notes);
  const after = { ...customer(n, notes), name: `Customer ${n} renamed` };
  const detail: CustomerChangeDetail = {
    eventId: `evt-${n}`,
    schemaVersion: '1.0',
    organizationGuid: 'org-1',
    customerId: n,
    changeType: 'updated',
    changedFields: ['name'],
    changes: {
      name: { before: before.name ?? null, after: after.name },
      ...(options.changesBytes ? { notes: { before: 'y'.repeat(options.changesBytes), after: '' } } : {}),
    },
    before,
    after,
    sequence: 7,
    observedAt: '2026-11-27T10:00:00.000Z',
    pollId: 'poll-1',
  };
  return {
    source: DEFAULT_EVENT_SOURCE,
    detailType: DETAIL_TYPES.updated,
    detail,
    time: '2026-11-27T10:00:00.000Z',
    resources: [],
  };
}

export function makeEvents(count: number, options?: { notesBytes?: number }): BusEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent(i + 1, options));
}

/** The eventId inside a serialised entry's detail. */
export function entryEventId(entry: { detail: string }): string {
  const parsed: unknown = JSON.parse(entry.detail);
  if (typeof parsed === 'object' && parsed !== null && 'eventId' in parsed) return String(parsed.eventId);
  throw new Error('entry without eventId');
}
