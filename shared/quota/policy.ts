/**
 * The quota policy a poller follows around each poll, shared by the poller service (shared/runtime) and the
 * CLI's `poll --watch`:
 * - `scheduledPollDeferral`: a scheduled poll before the organization's `notBefore` is deferred;
 * - `BlockReservation`: beyond its admitted estimate, a poll reserves more of the day's budget in blocks;
 * - `delayAfterPoll` and `notBeforeAfter`: after a poll that met 429s, or when the budget runs low, the
 *   next poll waits longer than the configured interval (`nextPollDelay`).
 */
import {
  DEFAULT_DAILY_BUDGET,
  expectedPollCost,
  nextPollDelay,
  type PollDelay,
  type QuotaStore,
} from './budget.ts';

/** The smallest block a poll reserves at a time once its estimate is spent. */
export const MIN_RESERVATION_BLOCK = 10;

export interface DeferralInput {
  /** The organization's `notBefore` (epoch ms; absent or 0 when polling at the configured rate). */
  readonly notBefore?: number | undefined;
  /** Epoch milliseconds. */
  readonly now: number;
  /** An explicit "sync now" names its pollId: it is never deferred. */
  readonly explicit: boolean;
  /** The single retry after a 401 is not deferred by the back-off its own first attempt may have set. */
  readonly retry: boolean;
}

/** When a scheduled poll must wait (the organization's `notBefore`), or undefined when it may run now. */
export function scheduledPollDeferral(input: DeferralInput): number | undefined {
  const backingOff = input.notBefore !== undefined && input.notBefore > input.now;
  return backingOff && !input.explicit && !input.retry ? input.notBefore : undefined;
}

export interface BlockReservationOptions {
  readonly store: QuotaStore;
  /** `apiKeyId(apiKey)`. */
  readonly apiKeyId: string;
  /** The UTC day of the admitted reservation. */
  readonly day: string;
  /** Requests the admission reserved (the poll's estimate). */
  readonly reserved: number;
  readonly dailyBudget?: number | undefined;
}

/**
 * A poll's hold on the budget beyond its admitted estimate: each time the requests sent reach what is
 * reserved, another block (half the estimate, at least `MIN_RESERVATION_BLOCK`) is reserved atomically;
 * the part of a block past the budget is given back. So polls sharing a key never spend more than the
 * budget between them.
 */
export class BlockReservation {
  readonly #options: BlockReservationOptions;
  readonly #block: number;
  readonly #budget: number;
  #reserved: number;
  #extra = 0;

  constructor(options: BlockReservationOptions) {
    this.#options = options;
    this.#reserved = options.reserved;
    this.#block = Math.max(MIN_RESERVATION_BLOCK, Math.ceil(options.reserved / 2));
    this.#budget = options.dailyBudget ?? DEFAULT_DAILY_BUDGET;
  }

  /** Requests reserved in blocks since the admission (not part of the admitted reservation). */
  get extra(): number {
    return this.#extra;
  }

  /** The engine's budget gate: may the poll send one more request, having sent `sent`? */
  readonly gate = async (sent: number): Promise<boolean> => {
    if (sent < this.#reserved) return true;
    const { store, apiKeyId, day } = this.#options;
    const total = await store.consume(apiKeyId, day, this.#block);
    // Keep only the part of the block that fits in the budget; give the rest back.
    const over = Math.min(Math.max(0, total - this.#budget), this.#block);
    if (over > 0) await store.consume(apiKeyId, day, -over);
    const granted = this.#block - over;
    this.#reserved += granted;
    this.#extra += granted;
    return granted > 0;
  };
}

export interface DelayAfterPollInput {
  /** The interval the operator asked for. */
  readonly configuredIntervalMs: number;
  /** 429 answers the poll met. */
  readonly recent429s: number;
  /** Requests counted for the key today after the poll. */
  readonly usedToday: number;
  readonly dailyBudget?: number | undefined;
  /** Epoch milliseconds. */
  readonly now: number;
  /** Listing pages of the poll (or of the last complete listing); 0 or absent when unknown. */
  readonly pages?: number | undefined;
}

/** How long to wait before the next poll, given what this one met (`nextPollDelay` for the next poll's cost). */
export function delayAfterPoll(input: DelayAfterPollInput): PollDelay {
  return nextPollDelay({
    configuredIntervalMs: input.configuredIntervalMs,
    recent429s: input.recent429s,
    usedToday: input.usedToday,
    ...(input.dailyBudget !== undefined ? { dailyBudget: input.dailyBudget } : {}),
    now: input.now,
    expectedCost: expectedPollCost(input.pages ? { lastPages: input.pages } : {}),
  });
}

/**
 * The `notBefore` a scheduled poller (one poll every `intervalMs`) records after a poll: 0 when the delay is
 * the configured rate, else the instant the delay ends, less a tenth of an interval of slack so the tick
 * that falls on it is not skipped by jitter.
 */
export function notBeforeAfter(delay: PollDelay, intervalMs: number, now: number): number {
  return delay.delayMs > intervalMs ? Math.round(now + delay.delayMs - intervalMs / 10) : 0;
}

/** Counts the 429s a source meets from now on. */
export function throttlesSince(source: { readonly throttledCount?: number }): () => number {
  const before = source.throttledCount ?? 0;
  return () => (source.throttledCount ?? 0) - before;
}
