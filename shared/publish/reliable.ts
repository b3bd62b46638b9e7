/**
 * The reliable publisher: hands a poll's events to the `EventBus` port in PutEvents-sized requests and
 * accounts for every one of them. Each event ends in exactly one of:
 * - `published`: the bus accepted it (the caller may commit its snapshot);
 * - `deadLettered`: it can never be published (non-retryable per-entry error, or too large even reduced);
 *   it is in the dead-letter sink, so the caller may commit it too;
 * - `failed`: a retryable failure was not resolved within the attempts or the deadline, or the dead-letter
 *   sink failed; the caller must NOT commit it, and the next poll redoes it (at-least-once).
 *
 * No well-kept library in our dependencies does PutEvents batching with per-entry partial-failure retries:
 * the AWS SDK retries a whole call (throttling, 5xx, network) but never re-sends the failed entries of a
 * call that succeeded with `FailedEntryCount > 0`, and Powertools' batch utility handles the consuming
 * side (SQS/Kinesis/DynamoDB streams), not PutEvents. Hence this module.
 *
 * Retry rules:
 * - Per entry, `InternalFailure`, `ThrottlingException` and `MissingResult` (our code for an entry the
 *   response did not answer) are retryable. AWS's documented non-retryable codes (`MalformedDetail`,
 *   `InvalidArgument`, `AccessDenied(Exception)`, `InvalidAccountIdException`, `RedactionFailure`,
 *   `NotAuthorizedFor…`) and `…ValidationException` codes go to the dead-letter sink.
 * - An UNKNOWN per-entry code is treated as retryable: retrying is bounded, and if it persists the event
 *   lands in `failed` and is redone by the next poll. Dead-lettering an unknown (possibly transient) code
 *   would take the event out of the normal flow for good on a guess.
 * - A whole call that throws (network, throttling, 5xx) is retried with the same entries. A whole call
 *   rejected with a non-throttling client fault (`$fault: 'client'`, e.g. a missing bus or IAM denial) is
 *   not retried: its entries are `failed`, and so are the batches after it, without calling the bus again.
 *   An error with `fatal: true` (such as the fault-injection `SimulatedCrash`) is never caught: it
 *   propagates as if the process died.
 * - Backoff is exponential with full jitter (delay = random × min(maxDelay, base × 2^(attempt−1))), slept
 *   through the Clock port, and no sleep may end at or after the deadline.
 */
import type { BusEvent } from '../events/contract.ts';
import type {
  BusEntry,
  BusEntryResult,
  Clock,
  DeadLetterSink,
  EventBus,
  Log,
  MetricsSink,
} from '../ports.ts';
import { fullJitterDelay } from '../util/backoff.ts';
import { packBatches } from '../util/batching.ts';
import { type FittedEvent, fitEvent } from './fit.ts';
import { DEFAULT_MAX_ENTRY_BYTES, eventIdOf, InvalidBusEventError } from './serialize.ts';

/** EventBridge's PutEvents limit on entries per call. */
export const MAX_ENTRIES_PER_PUT_EVENTS = 10;

/** Per-entry codes retried with backoff. */
export const RETRYABLE_ENTRY_CODES: ReadonlySet<string> = new Set([
  'InternalFailure',
  'ThrottlingException',
  'MissingResult',
]);

/** Per-entry codes that can never succeed for this entry: the event is dead-lettered. */
export const NON_RETRYABLE_ENTRY_CODES: ReadonlySet<string> = new Set([
  'MalformedDetail',
  'InvalidArgument',
  'InvalidArgumentException',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidAccountIdException',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
  'ValidationException',
]);

/** True unless the code is a known permanent failure (unknown codes are retried, see the header). */
export function isRetryableEntryCode(code: string): boolean {
  if (NON_RETRYABLE_ENTRY_CODES.has(code)) return false;
  if (code.endsWith('ValidationException') || code.startsWith('NotAuthorized')) return false;
  return true;
}

const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly fatal?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

function errorShape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

/** An error marked `fatal: true` stands for the death of the process: it is never retried or recorded. */
export function isFatalError(error: unknown): boolean {
  return errorShape(error).fatal === true;
}

/** The code recorded for a failed call: the error's name (e.g. `ThrottlingException`, `TimeoutError`). */
export function callErrorCode(error: unknown): string {
  const name = errorShape(error).name;
  return typeof name === 'string' && name.length > 0 ? name : 'UnknownError';
}

/** Whether a rejected PutEvents call is worth sending again (network, throttling and 5xx are). */
export function isRetryableCallError(error: unknown): boolean {
  const shape = errorShape(error);
  if (shape.$retryable !== undefined && shape.$retryable !== null) return true;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
  if (THROTTLING_ERROR_NAMES.has(callErrorCode(error))) return true;
  return shape.$fault !== 'client';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------------

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

interface Item {
  readonly index: number;
  readonly eventId: string;
  readonly event: BusEvent;
  readonly entry: BusEntry;
  readonly size: number;
}

interface Resolved {
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

function resolveOptions(options: PublishOptions): Resolved {
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

/** Full-jitter exponential backoff before attempt `attempt + 1` (see shared/util/backoff.ts). */
export const backoffDelay = fullJitterDelay;

type BatchEnd = 'done' | 'bus-unavailable';

/** Log lines name at most this many events (a failed initial load can hold thousands). */
const LOG_SAMPLE = 20;
function sample<T>(values: readonly T[]): T[] {
  return values.slice(0, LOG_SAMPLE);
}

/**
 * Publishes `events` and reports where each one ended. Never throws for a bus or dead-letter failure (they
 * are reported in the outcome); throws only for invalid options or a `fatal` error (simulated crash).
 */
export async function publishEvents(
  events: readonly BusEvent[],
  deps: PublishDeps,
  options: PublishOptions = {},
): Promise<PublishOutcome> {
  const opts = resolveOptions(options);
  const { bus, clock, log, metrics } = deps;
  const startedAt = clock.now();

  const published: { index: number; eventId: string }[] = [];
  const toDeadLetter: { index: number; event: BusEvent; reason: string; errorCode: string }[] = [];
  const failed: { index: number; failure: FailedEvent }[] = [];
  const truncated: string[] = [];
  let putEventsCalls = 0;
  let entriesSent = 0;
  let retries = 0;

  // 1. Serialise; reduce or dead-letter what cannot fit one entry.
  const singleLimit = Math.min(opts.maxEntryBytes, opts.maxRequestBytes);
  const items: Item[] = [];
  events.forEach((event, index) => {
    const eventId = eventIdOf(event);
    let fit: FittedEvent;
    try {
      fit = fitEvent(event, singleLimit, { log, metrics });
    } catch (error) {
      if (!(error instanceof InvalidBusEventError)) throw error;
      log.error('event cannot be serialised; dead-lettering it', { eventId, error: error.message });
      toDeadLetter.push({ index, event, reason: 'invalid', errorCode: 'InvalidArgument' });
      return;
    }
    if (fit.kind !== 'too-large') {
      if (fit.kind === 'reduced') truncated.push(eventId);
      items.push({ index, eventId, event: fit.event, entry: fit.entry, size: fit.size });
      return;
    }
    log.warn('event exceeds the bus entry limit even reduced; dead-lettering it', {
      eventId,
      bytes: fit.size,
      limit: singleLimit,
    });
    toDeadLetter.push({ index, event, reason: 'oversized', errorCode: 'EntryTooLarge' });
  });

  const fail = (item: Item, errorCode: string, reason: string) => {
    failed.push({ index: item.index, failure: { eventId: item.eventId, errorCode, reason } });
  };

  // 2. Send each batch, re-sending only its retryable failures.
  const sendBatch = async (batch: readonly Item[]): Promise<BatchEnd> => {
    let pending = batch;
    const lastCode = new Map<Item, string>();
    let attempt = 0;
    /** Sleeps before the next attempt; false (and the items failed) when that would pass the deadline. */
    const backoff = async (waiting: readonly Item[]): Promise<boolean> => {
      const delay = backoffDelay(attempt, opts.baseDelayMs, opts.maxDelayMs, opts.random);
      if (opts.deadline !== undefined && clock.now() + delay >= opts.deadline) {
        for (const item of waiting) fail(item, lastCode.get(item) ?? 'DeadlineExceeded', 'deadline reached');
        return false;
      }
      retries += waiting.length;
      await clock.sleep(delay);
      return true;
    };
    for (;;) {
      if (opts.deadline !== undefined && clock.now() >= opts.deadline) {
        for (const item of pending) fail(item, lastCode.get(item) ?? 'DeadlineExceeded', 'deadline reached');
        return 'done';
      }
      attempt += 1;
      putEventsCalls += 1;
      entriesSent += pending.length;
      let results: BusEntryResult[];
      try {
        results = await bus.putEvents(pending.map((item) => item.entry));
      } catch (error) {
        if (isFatalError(error)) throw error;
        const code = callErrorCode(error);
        if (!isRetryableCallError(error)) {
          log.error('PutEvents call rejected with a non-retryable error', {
            errorCode: code,
            error: messageOf(error),
            entries: pending.length,
          });
          for (const item of pending) fail(item, code, `bus call rejected: ${messageOf(error)}`);
          return 'bus-unavailable';
        }
        log.warn('PutEvents call rejected; retrying the whole batch', {
          errorCode: code,
          error: messageOf(error),
          attempt,
          entries: pending.length,
        });
        for (const item of pending) lastCode.set(item, code);
        if (attempt >= opts.maxAttempts) {
          for (const item of pending) fail(item, code, 'retries exhausted: bus call kept failing');
          return 'bus-unavailable';
        }
        if (!(await backoff(pending))) return 'done';
        continue;
      }

      if (results.length !== pending.length) {
        log.warn('PutEvents answered a different number of results than entries sent', {
          sent: pending.length,
          answered: results.length,
        });
      }
      const next: Item[] = [];
      pending.forEach((item, i) => {
        const result: BusEntryResult = results[i] ?? { ok: false, errorCode: 'MissingResult' };
        if (result.ok) {
          published.push({ index: item.index, eventId: item.eventId });
          return;
        }
        if (isRetryableEntryCode(result.errorCode)) {
          lastCode.set(item, result.errorCode);
          next.push(item);
          return;
        }
        const detail = result.errorMessage ? `: ${result.errorMessage}` : '';
        toDeadLetter.push({
          index: item.index,
          event: item.event,
          reason: `rejected by the bus${detail}`,
          errorCode: result.errorCode,
        });
      });
      pending = next;
      if (pending.length === 0) return 'done';
      if (attempt >= opts.maxAttempts) {
        for (const item of pending) fail(item, lastCode.get(item) ?? 'Unknown', 'retries exhausted');
        return 'done';
      }
      if (!(await backoff(pending))) return 'done';
    }
  };

  const batches = packBatches(items, opts.maxEntriesPerRequest, opts.maxRequestBytes, (item) => item.size);
  let unavailable: FailedEvent | undefined;
  for (const batch of batches) {
    if (unavailable) {
      for (const item of batch) fail(item, unavailable.errorCode, 'not sent: the bus kept rejecting calls');
      continue;
    }
    const before = failed.length;
    if ((await sendBatch(batch)) === 'bus-unavailable') {
      unavailable = failed[before]?.failure;
    }
  }

  // 3. Dead letters: a sink failure is not swallowed; those events stay unpublished (`failed`).
  let deadLetterError: Error | undefined;
  const deadLettered: { index: number; item: DeadLetteredEvent }[] = [];
  if (toDeadLetter.length > 0) {
    toDeadLetter.sort((a, b) => a.index - b.index);
    try {
      await deps.deadLetters.put(
        toDeadLetter.map(({ event, reason, errorCode }) => ({ event, reason, errorCode })),
      );
      for (const d of toDeadLetter) {
        deadLettered.push({
          index: d.index,
          item: { eventId: eventIdOf(d.event), reason: d.reason, errorCode: d.errorCode },
        });
      }
      log.warn('events dead-lettered', {
        count: toDeadLetter.length,
        sample: sample(toDeadLetter.map((d) => ({ eventId: eventIdOf(d.event), errorCode: d.errorCode }))),
      });
    } catch (error) {
      if (isFatalError(error)) throw error;
      deadLetterError = error instanceof Error ? error : new Error(String(error));
      log.error('dead-letter sink failed; the events stay unpublished and will be redone', {
        error: deadLetterError.message,
        count: toDeadLetter.length,
        sample: sample(toDeadLetter.map((d) => eventIdOf(d.event))),
      });
      for (const d of toDeadLetter) {
        failed.push({
          index: d.index,
          failure: {
            eventId: eventIdOf(d.event),
            errorCode: 'DeadLetterFailed',
            reason: `${d.reason}; dead-letter sink failed: ${deadLetterError.message}`,
          },
        });
      }
    }
  }

  const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
  published.sort(byIndex);
  deadLettered.sort(byIndex);
  failed.sort(byIndex);

  if (failed.length > 0) {
    log.warn('events not published; they must not be committed', {
      count: failed.length,
      sample: sample(failed.map((f) => ({ eventId: f.failure.eventId, errorCode: f.failure.errorCode }))),
    });
  }
  if (metrics) {
    metrics.count('EventsPublished', published.length);
    metrics.count('EventsDeadLettered', deadLettered.length);
    metrics.count('EventsFailed', failed.length);
    metrics.count('PutEventsCalls', putEventsCalls);
    metrics.count('PutEventsEntryRetries', retries);
    metrics.gauge('PublishDuration', clock.now() - startedAt, 'Milliseconds');
  }
  log.info('publish finished', {
    events: events.length,
    published: published.length,
    deadLettered: deadLettered.length,
    failed: failed.length,
    truncated: truncated.length,
    putEventsCalls,
    entriesSent,
  });

  return {
    published: published.map((p) => p.eventId),
    deadLettered: deadLettered.map((d) => d.item),
    failed: failed.map((f) => f.failure),
    truncated,
    putEventsCalls,
    entriesSent,
    ...(deadLetterError ? { deadLetterError } : {}),
  };
}
