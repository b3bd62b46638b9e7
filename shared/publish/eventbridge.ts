/**
 * The Amazon EventBridge adapter of the `EventBus` port: one PutEvents call per `putEvents`, results mapped
 * back to the entries in order. A response that does not answer every entry (fewer results than entries,
 * or a result with neither EventId nor ErrorCode) answers the unanswered ones with `MissingResult`, which
 * the publisher retries: re-sending may duplicate an event (same eventId) but never loses it.
 * A whole-call failure (after the SDK's own retries) rejects, as the port says.
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { BusEntry, BusEntryResult, EventBus } from '../ports.ts';
import { MAX_ENTRIES_PER_PUT_EVENTS } from './retry-rules.ts';

export interface EventBridgeBusOptions {
  /** A client created once (module scope in a Lambda handler). */
  readonly client: EventBridgeClient;
  /** Name or ARN of the event bus. */
  readonly eventBusName: string;
}

export class EventBridgeBus implements EventBus {
  private readonly client: EventBridgeClient;
  private readonly eventBusName: string;

  constructor(options: EventBridgeBusOptions) {
    if (options.eventBusName.length === 0) throw new Error('EventBridgeBus: eventBusName is empty');
    this.client = options.client;
    this.eventBusName = options.eventBusName;
  }

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    if (entries.length === 0) return [];
    if (entries.length > MAX_ENTRIES_PER_PUT_EVENTS) {
      throw new RangeError(
        `EventBridgeBus: PutEvents takes at most ${MAX_ENTRIES_PER_PUT_EVENTS} entries, got ${entries.length}`,
      );
    }
    const requestEntries: PutEventsRequestEntry[] = entries.map((entry) => ({
      EventBusName: this.eventBusName,
      Source: entry.source,
      DetailType: entry.detailType,
      Detail: entry.detail,
      Time: entry.time,
      Resources: [...entry.resources],
    }));
    const response = await this.client.send(new PutEventsCommand({ Entries: requestEntries }));
    const results = response.Entries ?? [];
    return entries.map((_entry, i): BusEntryResult => {
      const result = results[i];
      if (result?.ErrorCode) {
        return result.ErrorMessage
          ? { ok: false, errorCode: result.ErrorCode, errorMessage: result.ErrorMessage }
          : { ok: false, errorCode: result.ErrorCode };
      }
      if (result?.EventId) return { ok: true, busEventId: result.EventId };
      return {
        ok: false,
        errorCode: 'MissingResult',
        errorMessage: `PutEvents answered ${results.length} results for ${entries.length} entries; entry ${i} has none`,
      };
    });
  }
}
