/**
 * From a `BusEvent` (detail still an object) to a PutEvents entry, its size as EventBridge counts it, the
 * reduced form of an oversized event, and the EventBridge event a rule target receives (used by the local
 * JSON-lines and memory buses so local runs see exactly what a real consumer sees).
 */
import { randomUUID } from 'node:crypto';
import type { BusEvent, CustomerChangeDetail, EventBridgeEvent } from '../events/contract.ts';
import type { BusEntry } from '../ports.ts';

/** EventBridge's documented entry limit (256 KB in the PutEvents API reference). */
export const DEFAULT_MAX_ENTRY_BYTES = 256 * 1024;

/** The stable id of an event (the consumer's idempotency key). */
export function eventIdOf(event: BusEvent): string {
  return event.detail.eventId;
}

/** Thrown by `toBusEntry` for an event that can never become a valid entry (bad time). */
export class InvalidBusEventError extends Error {
  override readonly name = 'InvalidBusEventError';
}

/** Serialises an event into a PutEvents entry. Throws `InvalidBusEventError` when `time` is not a date. */
export function toBusEntry(event: BusEvent): BusEntry {
  const time = new Date(event.time);
  if (Number.isNaN(time.getTime())) {
    throw new InvalidBusEventError(`event ${eventIdOf(event)} has an invalid time '${event.time}'`);
  }
  return {
    source: event.source,
    detailType: event.detailType,
    detail: JSON.stringify(event.detail),
    time,
    resources: [...(event.resources ?? [])],
  };
}

/**
 * The size of a PutEvents entry as EventBridge computes it against the entry and request limits, per AWS,
 * "Calculating Amazon EventBridge PutEvents event entry size"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
 * Time counts 14 bytes if specified; Source and DetailType count their UTF-8 bytes; Detail counts its UTF-8
 * bytes if specified; each Resources entry counts its UTF-8 bytes. (A `BusEntry` always carries a time.)
 */
export function entrySize(entry: BusEntry): number {
  let size = 14;
  size += Buffer.byteLength(entry.source, 'utf8');
  size += Buffer.byteLength(entry.detailType, 'utf8');
  size += Buffer.byteLength(entry.detail, 'utf8');
  for (const resource of entry.resources) size += Buffer.byteLength(resource, 'utf8');
  return size;
}

function isCustomerChangeDetail(detail: BusEvent['detail']): detail is CustomerChangeDetail {
  return 'changeType' in detail;
}

export interface ReducedEvent {
  readonly event: BusEvent;
  readonly entry: BusEntry;
  readonly size: number;
  /** True when the per-field `changes` had to go as well. */
  readonly droppedChanges: boolean;
}

/**
 * The reduced form of an oversized customer change event: `before` and `after` set to null and
 * `truncated: true`, keeping `changedFields`, and `changes` only if the result then fits. The event keeps
 * its eventId (a consumer still de-duplicates it). Returns undefined when no reduction fits `maxBytes`, or
 * when the event is not a customer change (an anomaly event has nothing to leave out).
 */
export function reduceOversizedEvent(event: BusEvent, maxBytes: number): ReducedEvent | undefined {
  const detail = event.detail;
  if (!isCustomerChangeDetail(detail)) return undefined;
  const withChanges: CustomerChangeDetail = { ...detail, before: null, after: null, truncated: true };
  const first = { ...event, detail: withChanges };
  const firstEntry = toBusEntry(first);
  const firstSize = entrySize(firstEntry);
  if (firstSize <= maxBytes)
    return { event: first, entry: firstEntry, size: firstSize, droppedChanges: false };
  const { changes: _dropped, ...withoutChanges } = withChanges;
  const second = { ...event, detail: withoutChanges };
  const secondEntry = toBusEntry(second);
  const secondSize = entrySize(secondEntry);
  if (secondSize <= maxBytes) {
    return { event: second, entry: secondEntry, size: secondSize, droppedChanges: true };
  }
  return undefined;
}

/** EventBridge's `time` format: ISO 8601 in UTC without milliseconds (`2026-11-27T10:00:00Z`). */
export function eventBridgeTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface EventBridgeEnvelopeOptions {
  /** Default "000000000000". */
  readonly account?: string;
  /** Default "local". */
  readonly region?: string;
  /** Default: a random UUID, as EventBridge assigns. */
  readonly id?: string;
}

/**
 * The EventBridge event a rule target would receive for this entry. Throws a `SyntaxError` when the
 * entry's detail is not JSON (EventBridge answers `MalformedDetail` for it).
 */
export function toEventBridgeEvent(
  entry: BusEntry,
  options: EventBridgeEnvelopeOptions = {},
): EventBridgeEvent {
  const detail: unknown = JSON.parse(entry.detail);
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': entry.detailType,
    source: entry.source,
    account: options.account ?? '000000000000',
    time: eventBridgeTime(entry.time),
    region: options.region ?? 'local',
    resources: [...entry.resources],
    detail,
  };
}

/** True when the detail text is a JSON object, as EventBridge requires. */
export function isJsonObjectText(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
