/**
 * Publishing phase 2: send one batch (at most one PutEvents call's worth), re-sending only its retryable
 * failures with full-jitter backoff, within the attempts and the deadline.
 */
import type { BusEntryResult, Clock, EventBus, Log } from '../../ports.ts';
import { fullJitterDelay } from '../../util/backoff.ts';
import type { Item, PublishLedger } from '../ledger.ts';
import type { ResolvedPublishOptions } from '../publish-options.ts';
import {
  callErrorCode,
  isFatalError,
  isRetryableCallError,
  isRetryableEntryCode,
  messageOf,
} from '../retry-rules.ts';

/** `bus-unavailable`: the bus rejected the calls for good; the batches after this one are not sent. */
export type BatchEnd = 'done' | 'bus-unavailable';

export interface SendContext {
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly log: Log;
  readonly opts: ResolvedPublishOptions;
  readonly ledger: PublishLedger;
}

export async function sendBatch(batch: readonly Item[], context: SendContext): Promise<BatchEnd> {
  return new BatchSending(batch, context).run();
}

class BatchSending {
  #pending: readonly Item[];
  readonly #context: SendContext;
  readonly #lastCode = new Map<Item, string>();
  #attempt = 0;

  constructor(batch: readonly Item[], context: SendContext) {
    this.#pending = batch;
    this.#context = context;
  }

  async run(): Promise<BatchEnd> {
    const { opts, clock } = this.#context;
    for (;;) {
      if (opts.deadline !== undefined && clock.now() >= opts.deadline) {
        this.#failPending('deadline reached', 'DeadlineExceeded');
        return 'done';
      }
      const call = await this.#call();
      if (call === 'bus-unavailable') return call;
      if (call !== 'retry') {
        this.#pending = this.#sortResults(call);
        if (this.#pending.length === 0) return 'done';
        if (this.#attempt >= opts.maxAttempts) {
          this.#failPending('retries exhausted', 'Unknown');
          return 'done';
        }
      }
      if (!(await this.#backoff())) return 'done';
    }
  }

  /** One PutEvents call with the pending entries: its results, or what a rejected call means. */
  async #call(): Promise<BusEntryResult[] | 'retry' | 'bus-unavailable'> {
    const { bus, ledger } = this.#context;
    const pending = this.#pending;
    this.#attempt += 1;
    ledger.putEventsCalls += 1;
    ledger.entriesSent += pending.length;
    try {
      return await bus.putEvents(pending.map((item) => item.entry));
    } catch (error) {
      if (isFatalError(error)) throw error;
      return this.#rejected(error);
    }
  }

  #rejected(error: unknown): 'retry' | 'bus-unavailable' {
    const { log, ledger, opts } = this.#context;
    const pending = this.#pending;
    const code = callErrorCode(error);
    if (!isRetryableCallError(error)) {
      log.error('PutEvents call rejected with a non-retryable error', {
        errorCode: code,
        error: messageOf(error),
        entries: pending.length,
      });
      for (const item of pending) ledger.fail(item, code, `bus call rejected: ${messageOf(error)}`);
      return 'bus-unavailable';
    }
    log.warn('PutEvents call rejected; retrying the whole batch', {
      errorCode: code,
      error: messageOf(error),
      attempt: this.#attempt,
      entries: pending.length,
    });
    for (const item of pending) this.#lastCode.set(item, code);
    if (this.#attempt >= opts.maxAttempts) {
      for (const item of pending) ledger.fail(item, code, 'retries exhausted: bus call kept failing');
      return 'bus-unavailable';
    }
    return 'retry';
  }

  /** Records each entry's result; returns the entries to send again. */
  #sortResults(results: readonly BusEntryResult[]): Item[] {
    const { log, ledger } = this.#context;
    if (results.length !== this.#pending.length) {
      log.warn('PutEvents answered a different number of results than entries sent', {
        sent: this.#pending.length,
        answered: results.length,
      });
    }
    const next: Item[] = [];
    this.#pending.forEach((item, i) => {
      const result: BusEntryResult = results[i] ?? { ok: false, errorCode: 'MissingResult' };
      if (result.ok) ledger.accept(item);
      else if (isRetryableEntryCode(result.errorCode)) {
        this.#lastCode.set(item, result.errorCode);
        next.push(item);
      } else {
        const detail = result.errorMessage ? `: ${result.errorMessage}` : '';
        ledger.toDeadLetter.push({
          index: item.index,
          event: item.event,
          reason: `rejected by the bus${detail}`,
          errorCode: result.errorCode,
        });
      }
    });
    return next;
  }

  /** Sleeps before the next attempt; false (and the pending items failed) when that would pass the deadline. */
  async #backoff(): Promise<boolean> {
    const { opts, clock, ledger } = this.#context;
    const delay = fullJitterDelay(this.#attempt, opts.baseDelayMs, opts.maxDelayMs, opts.random);
    if (opts.deadline !== undefined && clock.now() + delay >= opts.deadline) {
      this.#failPending('deadline reached', 'DeadlineExceeded');
      return false;
    }
    ledger.retries += this.#pending.length;
    await clock.sleep(delay);
    return true;
  }

  #failPending(reason: string, codeIfNone: string): void {
    for (const item of this.#pending) {
      this.#context.ledger.fail(item, this.#lastCode.get(item) ?? codeIfNone, reason);
    }
  }
}
