/**
 * The webhook message: the EventBridge event JSON exactly as a rule target receives it, and its
 * `webhook-id` (the event's stable `detail.eventId`, so a re-delivery of the same change carries the same
 * id and receivers can deduplicate).
 */
import type { EventBridgeEvent } from '../events/contract.ts';
import type { BusEntry } from '../ports.ts';
import { toEventBridgeEvent as toRuleTargetEvent } from '../publish/serialize.ts';

export interface LocalEventEnvelope {
  /** Default 000000000000 (a local run has no account). */
  readonly account?: string;
  /** Default `local`. */
  readonly region?: string;
}

/** The EventBridge-shaped event of a PutEvents entry (what a rule target would receive). */
export function toEventBridgeEvent(entry: BusEntry, envelope: LocalEventEnvelope = {}): EventBridgeEvent {
  return toRuleTargetEvent(entry, {
    ...(envelope.account !== undefined ? { account: envelope.account } : {}),
    ...(envelope.region !== undefined ? { region: envelope.region } : {}),
  });
}

/** `detail.eventId` when the event carries one, else the EventBridge event id. */
export function webhookIdOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const record = event as { detail?: unknown; id?: unknown };
  const detail = record.detail;
  if (typeof detail === 'object' && detail !== null) {
    const eventId = (detail as { eventId?: unknown }).eventId;
    if (typeof eventId === 'string' && eventId.length > 0) return eventId;
  }
  return typeof record.id === 'string' && record.id.length > 0 ? record.id : undefined;
}
