/**
 * Where each event handed to the publisher ended, in input order: published, dead-lettered or failed
 * (see reliable.ts), with the counts of the calls it took.
 */
import type { BusEvent } from '../events/contract.ts';
import type { BusEntry } from '../ports.ts';

export interface DeadLetteredEvent {
  readonly eventId: string;
  readonly reason: string;
  readonly errorCode: string;
}

export interface FailedEvent {
  readonly eventId: string;
  readonly errorCode: string;
  readonly reason: string;
}

export interface PublishOutcome {
  /** Event ids the bus accepted, in input order. */
  readonly published: string[];
  /** Events put in the dead-letter sink, in input order. */
  readonly deadLettered: DeadLetteredEvent[];
  /** Events neither published nor dead-lettered, in input order: do not commit them. */
  readonly failed: FailedEvent[];
  /** Event ids sent in their reduced form (before/after left out), in input order. */
  readonly truncated: string[];
  /** PutEvents calls made, rejected ones included. */
  readonly putEventsCalls: number;
  /** Entries sent over all calls, re-sends included. */
  readonly entriesSent: number;
  /** The dead-letter sink's error, when it failed (those events are in `failed`). */
  readonly deadLetterError?: Error;
}

/** An event ready to send: serialised, and fitted to the entry limit. */
export interface Item {
  readonly index: number;
  readonly eventId: string;
  readonly event: BusEvent;
  readonly entry: BusEntry;
  readonly size: number;
}

/** An event the dead-letter sink is to take. */
export interface DeadLetterRequest {
  readonly index: number;
  readonly event: BusEvent;
  readonly reason: string;
  readonly errorCode: string;
}

const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;

export class PublishLedger {
  readonly published: { index: number; eventId: string }[] = [];
  readonly toDeadLetter: DeadLetterRequest[] = [];
  readonly deadLettered: { index: number; item: DeadLetteredEvent }[] = [];
  readonly failed: { index: number; failure: FailedEvent }[] = [];
  readonly truncated: string[] = [];
  deadLetterError: Error | undefined;
  putEventsCalls = 0;
  entriesSent = 0;
  retries = 0;

  accept(item: Item): void {
    this.published.push({ index: item.index, eventId: item.eventId });
  }

  fail(item: { readonly index: number; readonly eventId: string }, errorCode: string, reason: string): void {
    this.failed.push({ index: item.index, failure: { eventId: item.eventId, errorCode, reason } });
  }

  /** The outcome, each list in input order. */
  outcome(): PublishOutcome {
    this.published.sort(byIndex);
    this.deadLettered.sort(byIndex);
    this.failed.sort(byIndex);
    return {
      published: this.published.map((p) => p.eventId),
      deadLettered: this.deadLettered.map((d) => d.item),
      failed: this.failed.map((f) => f.failure),
      truncated: this.truncated,
      putEventsCalls: this.putEventsCalls,
      entriesSent: this.entriesSent,
      ...(this.deadLetterError ? { deadLetterError: this.deadLetterError } : {}),
    };
  }
}
