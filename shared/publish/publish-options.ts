/**
 * What the reliable publisher is given: its ports and its options, with their defaults applied in one
 * function (`resolveOptions`).
 */
import type { Clock, DeadLetterSink, EventBus, Log, MetricsSink } from '../ports.ts';
import { MAX_ENTRIES_PER_PUT_EVENTS } from './retry-rules.ts';
import { DEFAULT_MAX_ENTRY_BYTES } from './serialize.ts';

export interface PublishDeps {
  readonly bus: EventBus;
  readonly deadLetters: DeadLetterSink;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics?: MetricsSink;
}

export interface PublishOptions {
  /** Largest entry (EventBridge size rule) sent as is; larger ones are reduced or dead-lettered. 256 KiB. */
  readonly maxEntryBytes?: number;
  /** Largest sum of entry sizes in one PutEvents call. 256 KiB. */
  readonly maxRequestBytes?: number;
  /** Entries per PutEvents call, 1 to 10. 10. */
  readonly maxEntriesPerRequest?: number;
  /** Calls made for one batch before its still-failing entries are given up as `failed`. 6. */
  readonly maxAttempts?: number;
  /** First backoff ceiling. 100 ms. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling. 5,000 ms. */
  readonly maxDelayMs?: number;
  /** Epoch ms after which no call is started and no backoff sleep may end. */
  readonly deadline?: number;
  /** Random source in [0, 1) for the jitter. Math.random. */
  readonly random?: () => number;
}

export interface ResolvedPublishOptions {
  readonly maxEntryBytes: number;
  readonly maxRequestBytes: number;
  readonly maxEntriesPerRequest: number;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly deadline: number | undefined;
  readonly random: () => number;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`publishEvents: ${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: PublishOptions): ResolvedPublishOptions {
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) {
    throw new RangeError('publishEvents: baseDelayMs and maxDelayMs must be non-negative');
  }
  return {
    maxEntryBytes: positiveInteger('maxEntryBytes', options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES),
    maxRequestBytes: positiveInteger('maxRequestBytes', options.maxRequestBytes ?? DEFAULT_MAX_ENTRY_BYTES),
    maxEntriesPerRequest: positiveInteger(
      'maxEntriesPerRequest',
      options.maxEntriesPerRequest ?? MAX_ENTRIES_PER_PUT_EVENTS,
      MAX_ENTRIES_PER_PUT_EVENTS,
    ),
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts ?? 6),
    baseDelayMs,
    maxDelayMs,
    deadline: options.deadline,
    random: options.random ?? Math.random,
  };
}
