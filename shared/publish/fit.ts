/**
 * The one place that decides whether an event fits the bus whole, reduced (before/after left out,
 * `truncated: true`) or not at all, and that reports a reduction (a warning and the `EventsTruncated`
 * metric). The engine fits its events before journaling them, so what is journaled is exactly what is
 * published; the publisher fits whatever it is handed at its own boundary (an event fitted already passes
 * whole).
 */
import type { BusEvent } from '../events/contract.ts';
import type { BusEntry, Log, MetricsSink } from '../ports.ts';
import { entrySize, reduceOversizedEvent, toBusEntry } from './serialize.ts';

export type FittedEvent =
  | { readonly kind: 'whole'; readonly event: BusEvent; readonly entry: BusEntry; readonly size: number }
  | { readonly kind: 'reduced'; readonly event: BusEvent; readonly entry: BusEntry; readonly size: number }
  | { readonly kind: 'too-large'; readonly size: number };

export interface FitReport {
  readonly log: Log;
  readonly metrics?: MetricsSink | undefined;
  /** Fields added to the warning (e.g. the poll's organization and number). */
  readonly context?: Record<string, unknown>;
}

/**
 * `event` as it goes to the bus when entries may hold `limit` bytes. Throws `InvalidBusEventError` (from
 * `toBusEntry`) when the event can never be serialised.
 */
export function fitEvent(event: BusEvent, limit: number, report: FitReport): FittedEvent {
  const entry = toBusEntry(event);
  const size = entrySize(entry);
  if (size <= limit) return { kind: 'whole', event, entry, size };
  const reduced = reduceOversizedEvent(event, limit);
  if (!reduced) return { kind: 'too-large', size };
  report.metrics?.count('EventsTruncated');
  report.log.warn('event exceeds the bus entry limit; publishing it without before/after', {
    ...report.context,
    eventId: event.detail.eventId,
    bytes: size,
    reducedBytes: reduced.size,
    limit,
    droppedChanges: reduced.droppedChanges,
  });
  return { kind: 'reduced', event: reduced.event, entry: reduced.entry, size: reduced.size };
}
