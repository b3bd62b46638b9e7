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
import { fullJitterDelay } from '../util/backoff.ts';
import { packBatches } from '../util/batching.ts';
import { type FailedEvent, type Item, PublishLedger, type PublishOutcome } from './ledger.ts';
import { deadLetterRest, sample } from './phases/dead-letter-rest.ts';
import { prepareItems } from './phases/prepare.ts';
import { type SendContext, sendBatch } from './phases/send-batch.ts';
import { type PublishDeps, type PublishOptions, resolveOptions } from './publish-options.ts';

export type { DeadLetteredEvent, FailedEvent, PublishOutcome } from './ledger.ts';
export type { PublishDeps, PublishOptions } from './publish-options.ts';
export {
  callErrorCode,
  isFatalError,
  isRetryableCallError,
  isRetryableEntryCode,
  MAX_ENTRIES_PER_PUT_EVENTS,
  NON_RETRYABLE_ENTRY_CODES,
  RETRYABLE_ENTRY_CODES,
} from './retry-rules.ts';

/** Full-jitter exponential backoff before attempt `attempt + 1` (see shared/util/backoff.ts). */
export const backoffDelay = fullJitterDelay;

/**
 * Publishes `events` and reports where each one ended: prepare (serialise, fit) → send each batch → hand
 * the rest to the dead-letter sink → report. Never throws for a bus or dead-letter failure (they are
 * reported in the outcome); throws only for invalid options or a `fatal` error (simulated crash).
 */
export async function publishEvents(
  events: readonly BusEvent[],
  deps: PublishDeps,
  options: PublishOptions = {},
): Promise<PublishOutcome> {
  const opts = resolveOptions(options);
  const { bus, clock, log, metrics } = deps;
  const startedAt = clock.now();
  const ledger = new PublishLedger();
  const singleLimit = Math.min(opts.maxEntryBytes, opts.maxRequestBytes);
  const items = prepareItems(events, singleLimit, ledger, { log, metrics });
  const batches = packBatches(items, opts.maxEntriesPerRequest, opts.maxRequestBytes, (item) => item.size);
  await sendBatches(batches, { bus, clock, log, opts, ledger });
  await deadLetterRest(ledger, deps.deadLetters, log);
  const outcome = ledger.outcome();
  report(outcome, ledger, deps, events.length, clock.now() - startedAt);
  return outcome;
}

/** Sends the batches in order; once the bus rejects calls for good, the rest fail without a call. */
async function sendBatches(batches: readonly (readonly Item[])[], context: SendContext): Promise<void> {
  const { ledger } = context;
  let unavailable: FailedEvent | undefined;
  for (const batch of batches) {
    if (unavailable) {
      for (const item of batch)
        ledger.fail(item, unavailable.errorCode, 'not sent: the bus kept rejecting calls');
      continue;
    }
    const before = ledger.failed.length;
    if ((await sendBatch(batch, context)) === 'bus-unavailable') {
      unavailable = ledger.failed[before]?.failure;
    }
  }
}

function report(
  outcome: PublishOutcome,
  ledger: PublishLedger,
  deps: PublishDeps,
  events: number,
  durationMs: number,
): void {
  const { log, metrics } = deps;
  if (outcome.failed.length > 0) {
    log.warn('events not published; they must not be committed', {
      count: outcome.failed.length,
      sample: sample(outcome.failed.map((f) => ({ eventId: f.eventId, errorCode: f.errorCode }))),
    });
  }
  if (metrics) {
    metrics.count('EventsPublished', outcome.published.length);
    metrics.count('EventsDeadLettered', outcome.deadLettered.length);
    metrics.count('EventsFailed', outcome.failed.length);
    metrics.count('PutEventsCalls', outcome.putEventsCalls);
    metrics.count('PutEventsEntryRetries', ledger.retries);
    metrics.gauge('PublishDuration', durationMs, 'Milliseconds');
  }
  log.info('publish finished', {
    events,
    published: outcome.published.length,
    deadLettered: outcome.deadLettered.length,
    failed: outcome.failed.length,
    truncated: outcome.truncated.length,
    putEventsCalls: outcome.putEventsCalls,
    entriesSent: outcome.entriesSent,
  });
}
