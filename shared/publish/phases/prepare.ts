/**
 * Publishing phase 1: serialise each event and fit it to the entry limit (shared/publish/fit.ts); what can
 * never be serialised or does not fit even reduced is set aside for the dead-letter sink.
 */
import type { BusEvent } from '../../events/contract.ts';
import type { Log, MetricsSink } from '../../ports.ts';
import { type FittedEvent, fitEvent } from '../fit.ts';
import type { Item, PublishLedger } from '../ledger.ts';
import { eventIdOf, InvalidBusEventError } from '../serialize.ts';

/** The events to send, in input order; the others are in `ledger.toDeadLetter`. */
export function prepareItems(
  events: readonly BusEvent[],
  limit: number,
  ledger: PublishLedger,
  report: { readonly log: Log; readonly metrics?: MetricsSink | undefined },
): Item[] {
  const items: Item[] = [];
  events.forEach((event, index) => {
    const eventId = eventIdOf(event);
    const fit = fitOrDeadLetter(event, index, limit, ledger, report);
    if (!fit) return;
    if (fit.kind === 'reduced') ledger.truncated.push(eventId);
    items.push({ index, eventId, event: fit.event, entry: fit.entry, size: fit.size });
  });
  return items;
}

function fitOrDeadLetter(
  event: BusEvent,
  index: number,
  limit: number,
  ledger: PublishLedger,
  report: { readonly log: Log; readonly metrics?: MetricsSink | undefined },
): Exclude<FittedEvent, { kind: 'too-large' }> | undefined {
  const eventId = eventIdOf(event);
  let fit: FittedEvent;
  try {
    fit = fitEvent(event, limit, report);
  } catch (error) {
    if (!(error instanceof InvalidBusEventError)) throw error;
    report.log.error('event cannot be serialised; dead-lettering it', { eventId, error: error.message });
    ledger.toDeadLetter.push({ index, event, reason: 'invalid', errorCode: 'InvalidArgument' });
    return undefined;
  }
  if (fit.kind !== 'too-large') return fit;
  report.log.warn('event exceeds the bus entry limit even reduced; dead-lettering it', {
    eventId,
    bytes: fit.size,
    limit,
  });
  ledger.toDeadLetter.push({ index, event, reason: 'oversized', errorCode: 'EntryTooLarge' });
  return undefined;
}
