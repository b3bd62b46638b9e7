/**
 * Adapters of the `DeadLetterSink` port: where events that can never be published go, with the reason.
 * Every sink either stores every item or rejects (so the publisher keeps those events as `failed`); none
 * drops an item silently.
 * - `SqsDeadLetterSink`: SendMessageBatch, at most 10 messages and 256 KiB per call; failed entries are
 *   retried with backoff (through the Clock port), then the put rejects with `DeadLetterError`.
 * - `JsonLinesDeadLetterSink`: one JSON line per item, to a stream or appended to a file.
 * - `MemoryDeadLetterSink`: keeps the items; can be told to fail (tests).
 */

import type { Writable } from 'node:stream';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { BusEvent } from '../events/contract.ts';
import type { Clock, DeadLetterSink } from '../ports.ts';
import { fullJitterDelay } from '../util/backoff.ts';
import { packBatches } from '../util/batching.ts';
import { lineWriter } from './jsonl.ts';
import { callErrorCode, isFatalError, isRetryableCallError } from './retry-rules.ts';
import { eventIdOf } from './serialize.ts';

export type DeadLetterItem = Parameters<DeadLetterSink['put']>[0][number];

/** What a dead-letter sink stores for one event. */
export interface DeadLetterRecord {
  readonly event: BusEvent;
  readonly reason: string;
  readonly errorCode?: string;
  /** ISO time the event was dead-lettered. */
  readonly deadLetteredAt: string;
}

/** The stand-in stored when a record is too large for the sink: enough to find and redo the event. */
export interface ReducedDeadLetterRecord {
  readonly eventId: string;
  readonly source: string;
  readonly detailType: string;
  readonly time: string;
  readonly reason: string;
  readonly errorCode?: string;
  readonly deadLetteredAt: string;
  /** Always true: the event itself was left out because the record exceeded the message size limit. */
  readonly eventOmitted: true;
  readonly originalBytes: number;
}

export function toDeadLetterRecord(item: DeadLetterItem, now: number): DeadLetterRecord {
  const record: DeadLetterRecord = {
    event: item.event,
    reason: item.reason,
    deadLetteredAt: new Date(now).toISOString(),
  };
  return item.errorCode === undefined ? record : { ...record, errorCode: item.errorCode };
}

/** Thrown when a sink could not store every item. Names the events and codes, never a credential. */
export class DeadLetterError extends Error {
  override readonly name = 'DeadLetterError';
  constructor(
    message: string,
    readonly failures: readonly { readonly eventId: string; readonly code: string }[],
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------

export interface SqsDeadLetterSinkOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly clock: Clock;
  /** SendMessageBatch calls per batch before giving up. Default 4. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** SQS message (and batch payload) limit. Default 256 KiB. */
  readonly maxMessageBytes?: number;
  readonly random?: () => number;
}

interface Message {
  readonly eventId: string;
  readonly body: string;
  readonly bytes: number;
}

const SQS_MAX_BATCH_ENTRIES = 10;

export class SqsDeadLetterSink implements DeadLetterSink {
  private readonly options: Required<Omit<SqsDeadLetterSinkOptions, 'random'>> & { random: () => number };

  constructor(options: SqsDeadLetterSinkOptions) {
    this.options = {
      maxAttempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 2_000,
      maxMessageBytes: 256 * 1024,
      ...options,
      random: options.random ?? Math.random,
    };
  }

  /** The message body for an item: the full record, or the reduced record when it is too large. */
  messageBody(item: DeadLetterItem): string {
    const record = toDeadLetterRecord(item, this.options.clock.now());
    const body = JSON.stringify(record);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes <= this.options.maxMessageBytes) return body;
    const reduced: ReducedDeadLetterRecord = {
      eventId: eventIdOf(item.event),
      source: item.event.source,
      detailType: item.event.detailType,
      time: item.event.time,
      reason: item.reason,
      ...(item.errorCode === undefined ? {} : { errorCode: item.errorCode }),
      deadLetteredAt: record.deadLetteredAt,
      eventOmitted: true,
      originalBytes: bytes,
    };
    return JSON.stringify(reduced);
  }

  async put(items: readonly DeadLetterItem[]): Promise<void> {
    const messages: Message[] = items.map((item) => {
      const body = this.messageBody(item);
      return { eventId: eventIdOf(item.event), body, bytes: Buffer.byteLength(body, 'utf8') };
    });
    for (const batch of packBatches(
      messages,
      SQS_MAX_BATCH_ENTRIES,
      this.options.maxMessageBytes,
      (m) => m.bytes,
    )) {
      await this.sendBatch(batch);
    }
  }

  private async sendBatch(batch: readonly Message[]): Promise<void> {
    const { client, queueUrl, clock, maxAttempts, baseDelayMs, maxDelayMs, random } = this.options;
    let pending = batch;
    const lastCode = new Map<Message, string>();
    for (let attempt = 1; ; attempt++) {
      const entries: SendMessageBatchRequestEntry[] = pending.map((message, i) => ({
        Id: `m${i}`,
        MessageBody: message.body,
      }));
      const permanent: { eventId: string; code: string }[] = [];
      try {
        const response = await client.send(
          new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
        );
        const succeeded = new Set((response.Successful ?? []).map((s) => s.Id));
        const failedById = new Map((response.Failed ?? []).map((f) => [f.Id, f]));
        const next: Message[] = [];
        pending.forEach((message, i) => {
          const id = `m${i}`;
          if (succeeded.has(id)) return;
          const failure = failedById.get(id);
          const code = failure?.Code ?? 'MissingResult';
          if (failure?.SenderFault) {
            permanent.push({ eventId: message.eventId, code });
            return;
          }
          lastCode.set(message, code);
          next.push(message);
        });
        pending = next;
      } catch (error) {
        if (isFatalError(error)) throw error;
        const code = callErrorCode(error);
        if (!isRetryableCallError(error)) {
          throw new DeadLetterError(
            `SendMessageBatch to the dead-letter queue was rejected: ${code}`,
            pending.map((m) => ({ eventId: m.eventId, code })),
          );
        }
        for (const message of pending) lastCode.set(message, code);
      }
      if (permanent.length > 0) {
        throw new DeadLetterError(
          `the dead-letter queue refused ${permanent.length} message(s): ${[...new Set(permanent.map((p) => p.code))].join(', ')}`,
          permanent,
        );
      }
      if (pending.length === 0) return;
      if (attempt >= maxAttempts) {
        const failures = pending.map((m) => ({ eventId: m.eventId, code: lastCode.get(m) ?? 'Unknown' }));
        throw new DeadLetterError(
          `${pending.length} message(s) not stored in the dead-letter queue after ${attempt} attempts: ${[...new Set(failures.map((f) => f.code))].join(', ')}`,
          failures,
        );
      }
      await clock.sleep(fullJitterDelay(attempt, baseDelayMs, maxDelayMs, random));
    }
  }
}

// ---------------------------------------------------------------------------------------------------

export interface JsonLinesDeadLetterSinkOptions {
  /** A stream (left open) or a file path (appended to; its directories are created). */
  readonly target: Writable | string;
  readonly clock: Pick<Clock, 'now'>;
}

export class JsonLinesDeadLetterSink implements DeadLetterSink {
  private readonly write: (text: string) => Promise<void>;
  private readonly clock: Pick<Clock, 'now'>;

  constructor(options: JsonLinesDeadLetterSinkOptions) {
    this.write = lineWriter(options.target);
    this.clock = options.clock;
  }

  async put(items: readonly DeadLetterItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = this.clock.now();
    await this.write(items.map((item) => `${JSON.stringify(toDeadLetterRecord(item, now))}\n`).join(''));
  }
}

// ---------------------------------------------------------------------------------------------------

export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly records: DeadLetterRecord[] = [];
  private failure: Error | undefined;

  constructor(private readonly clock: Pick<Clock, 'now'> = { now: () => Date.now() }) {}

  /** While set, every put rejects with this error and stores nothing. */
  failWith(error: Error | undefined): this {
    this.failure = error;
    return this;
  }

  eventIds(): string[] {
    return this.records.map((record) => eventIdOf(record.event));
  }

  async put(items: readonly DeadLetterItem[]): Promise<void> {
    if (this.failure) throw this.failure;
    const now = this.clock.now();
    for (const item of items) this.records.push(toDeadLetterRecord(item, now));
  }
}
