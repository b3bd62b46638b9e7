/**
 * Quota-aware polling: the pure logic. Nutcache allows 20,000 calls a day per API key (plus 5/s and
 * 200/min bursts). The daily count lives behind the `QuotaStore` port (DynamoDB in AWS, memory in tests);
 * this module decides whether a poll may run now, how long to wait before the next one, and hands out
 * reservations so that pollers sharing a key never overrun the budget together.
 *
 * Nothing here knows about AWS. Days are UTC calendar days, which is how the counter's sort key is named.
 */
import { createHash } from 'node:crypto';
import type { Clock, Log, MetricsSink } from '../ports.ts';

/** Nutcache's documented daily request quota per API key. */
export const DEFAULT_DAILY_BUDGET = 20_000;
/** Customers per listing page (Nutcache's maximum `limit`). */
export const PAGE_SIZE = 100;
/** Longest delay `nextPollDelay` asks for because of 429s (the budget pacing may ask for more). */
export const DEFAULT_MAX_BACKOFF_MS = 60 * 60 * 1000;
/** Name of the metric emitted when a poll is deferred for lack of budget. */
export const POLL_DEFERRED_METRIC = 'PollDeferred';

const DAY_MS = 24 * 60 * 60 * 1000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

// ---------------------------------------------------------------------------------------------------
// The port

/**
 * A per-API-key, per-UTC-day request counter. Implementations must make `consume` atomic: two pollers
 * sharing a key that consume at the same moment both see a total that includes the other's requests.
 */
export interface QuotaStore {
  /**
   * Adds `requests` to the key's count for `day` (YYYY-MM-DD, UTC) and returns the total used that day
   * after the addition. A negative integer gives back an unused reservation.
   */
  consume(apiKeyId: string, day: string, requests: number): Promise<number>;
  /** The total used for `day` so far (0 when nothing was counted). */
  used(apiKeyId: string, day: string): Promise<number>;
}

/** Throws unless `day` is a YYYY-MM-DD string naming a real date. */
export function assertDay(day: string): void {
  if (
    !DAY_PATTERN.test(day) ||
    Number.isNaN(Date.parse(`${day}T00:00:00Z`)) ||
    utcDay(Date.parse(`${day}T00:00:00Z`)) !== day
  ) {
    throw new RangeError(`quota day must be a UTC date as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  }
}

/** Throws unless `requests` is a whole number (negative gives a reservation back). */
export function assertRequests(requests: number): void {
  if (!Number.isSafeInteger(requests)) {
    throw new RangeError(`quota requests must be a whole number, got ${String(requests)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Keys and days

/**
 * The id under which an API key's budget is counted: a SHA-256 digest of the key (domain-separated),
 * so the key itself is never stored or logged. Organizations that share a key get the same id and so
 * share the budget.
 */
export function apiKeyId(apiKey: string): string {
  if (apiKey.length === 0) throw new RangeError('apiKeyId needs a non-empty API key');
  return `k-${createHash('sha256').update('nutcache-cdc/quota/v1\0').update(apiKey).digest('hex').slice(0, 32)}`;
}

/** The UTC calendar day of an epoch-milliseconds instant, as YYYY-MM-DD. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** Epoch milliseconds of the next UTC midnight after `now` (when the daily budget resets). */
export function nextUtcMidnight(now: number): number {
  return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
}

// ---------------------------------------------------------------------------------------------------
// Expected cost of a poll

export interface PollCostInput {
  /** Pages of the last complete listing, when known (OrgState.lastPages). */
  readonly lastPages?: number;
  /** Customers known from the last poll; used when `lastPages` is unknown. */
  readonly lastKnownCustomers?: number;
  /** Deletion candidates still waiting for their confirming `GET customers/{id}`. */
  readonly pendingConfirmations?: number;
  /** Extra requests kept for retries, page shifts and growth (default: max(2, 5% of the rest)). */
  readonly safetyMargin?: number;
}

/**
 * What a poll is expected to cost in Nutcache requests: the listing's pages (from the last run, or
 * ceil(customers / 100)), one GET per deletion candidate, and a safety margin. A first poll with nothing
 * known costs at least one page.
 */
export function expectedPollCost(input: PollCostInput): number {
  const pages =
    input.lastPages !== undefined && input.lastPages > 0
      ? Math.ceil(input.lastPages)
      : Math.max(1, Math.ceil((input.lastKnownCustomers ?? 0) / PAGE_SIZE));
  const base = pages + Math.max(0, Math.ceil(input.pendingConfirmations ?? 0));
  const margin = input.safetyMargin ?? Math.max(2, Math.ceil(base * 0.05));
  return base + Math.max(0, Math.ceil(margin));
}

// ---------------------------------------------------------------------------------------------------
// Deciding whether a poll may run

export interface PlanPollInput {
  /** Requests the poll is expected to send (`expectedPollCost`). */
  readonly expectedCost: number;
  /** Requests already counted for this key today. */
  readonly usedToday: number;
  /** The key's daily budget (default 20,000). */
  readonly dailyBudget?: number;
  /** Epoch milliseconds. */
  readonly now: number;
  /** Requests kept back for other uses (e.g. an operator's "sync now"); default 0. */
  readonly reserve?: number;
}

export type PlanReason = 'within-budget' | 'would-exceed-budget' | 'budget-exhausted';

export interface PollPlan {
  readonly allowed: boolean;
  readonly reason: PlanReason;
  /** Requests left today before this poll (never negative). */
  readonly remaining: number;
  /** The UTC day the decision counts against. */
  readonly day: string;
  /** When the budget resets (epoch ms): the earliest a deferred poll can be sure to fit. */
  readonly resetsAt: number;
}

/**
 * Allows a poll when its expected cost fits in what is left of today's budget (minus the reserve);
 * otherwise it is deferred. The caller emits `PollDeferred` and logs the decision (see `QuotaGuard`).
 */
export function planPoll(input: PlanPollInput): PollPlan {
  const budget = input.dailyBudget ?? DEFAULT_DAILY_BUDGET;
  const reserve = Math.max(0, input.reserve ?? 0);
  const remaining = Math.max(0, budget - input.usedToday);
  const usable = Math.max(0, remaining - reserve);
  const day = utcDay(input.now);
  const resetsAt = nextUtcMidnight(input.now);
  if (usable <= 0) return { allowed: false, reason: 'budget-exhausted', remaining, day, resetsAt };
  if (input.expectedCost > usable) {
    return { allowed: false, reason: 'would-exceed-budget', remaining, day, resetsAt };
  }
  return { allowed: true, reason: 'within-budget', remaining, day, resetsAt };
}

// ---------------------------------------------------------------------------------------------------
// The adaptive interval

export interface NextPollDelayInput {
  /** The interval the operator asked for. */
  readonly configuredIntervalMs: number;
  /** 429 answers seen since the last poll that met none (0 when the last poll was clean). */
  readonly recent429s: number;
  readonly usedToday: number;
  readonly dailyBudget?: number;
  /** Epoch milliseconds. */
  readonly now: number;
  /** Expected cost of the next poll (`expectedPollCost`). */
  readonly expectedCost: number;
  /** Cap of the 429 back-off (default one hour, never below the configured interval). */
  readonly maxBackoffMs?: number;
  readonly reserve?: number;
}

export type DelayReason = 'configured' | 'rate-limited' | 'budget-paced' | 'budget-exhausted';

export interface PollDelay {
  readonly delayMs: number;
  readonly reason: DelayReason;
}

/**
 * How long to wait before the next poll:
 * - healthy (no 429s, budget enough for the configured rate until midnight UTC): the configured interval;
 * - under 429s: the interval doubled per recent 429 (1, 2, 4 … ×), capped at `maxBackoffMs`;
 * - budget running low: the remaining budget spread over the rest of the UTC day, i.e. the rest of the
 *   day divided by the number of polls still affordable;
 * - budget exhausted (not even one poll left): until just after the next UTC midnight.
 * The longest of these wins. Once 429s stop and the budget resets, the configured interval returns.
 */
export function nextPollDelay(input: NextPollDelayInput): PollDelay {
  const configured = Math.max(0, input.configuredIntervalMs);
  const budget = input.dailyBudget ?? DEFAULT_DAILY_BUDGET;
  const cost = Math.max(1, Math.ceil(input.expectedCost));
  const remaining = Math.max(0, budget - input.usedToday - Math.max(0, input.reserve ?? 0));
  const untilMidnight = nextUtcMidnight(input.now) - input.now;

  let best: PollDelay = { delayMs: configured, reason: 'configured' };

  const strikes = Math.max(0, Math.floor(input.recent429s));
  if (strikes > 0) {
    const cap = Math.max(configured, input.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    const base = Math.max(configured, 1000);
    const backoff = Math.min(cap, base * 2 ** Math.min(strikes, 30));
    if (backoff > best.delayMs) best = { delayMs: backoff, reason: 'rate-limited' };
  }

  const affordable = Math.floor(remaining / cost);
  if (affordable < 1) {
    // Wait for the reset; one second past midnight so the new day's counter is the one read.
    const delay = untilMidnight + 1000;
    if (delay > best.delayMs) best = { delayMs: delay, reason: 'budget-exhausted' };
  } else {
    const paced = Math.ceil(untilMidnight / affordable);
    if (paced > best.delayMs) best = { delayMs: paced, reason: 'budget-paced' };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// Reservations: the glue a poller uses

export interface QuotaGuardOptions {
  readonly store: QuotaStore;
  /** `apiKeyId(apiKey)`; never the key itself. */
  readonly apiKeyId: string;
  readonly dailyBudget?: number;
  readonly reserve?: number;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Log;
  readonly metrics: MetricsSink;
}

/** An admitted poll's hold on the budget. `settle` replaces the expected cost with what was really sent. */
export interface QuotaReservation {
  readonly day: string;
  readonly reserved: number;
  /** Total counted today after the reservation. */
  readonly usedAfterReserve: number;
  /** Records the poll's actual request count (adjusting the reservation up or down); returns today's total. */
  settle(actualRequests: number): Promise<number>;
}

export type ReserveResult =
  | { readonly admitted: true; readonly reservation: QuotaReservation; readonly plan: PollPlan }
  | { readonly admitted: false; readonly plan: PollPlan };

/**
 * Admits or defers polls against a key's shared daily budget. `admit` reserves the expected cost with one
 * atomic add; if the total then exceeds the budget (another poller sharing the key got there first, or the
 * budget is spent) the reservation is given back and the poll is deferred with a `PollDeferred` metric and
 * a log line. So concurrent pollers can never admit more than the budget between them.
 */
export class QuotaGuard {
  readonly #options: QuotaGuardOptions;
  readonly #budget: number;

  constructor(options: QuotaGuardOptions) {
    this.#options = options;
    this.#budget = options.dailyBudget ?? DEFAULT_DAILY_BUDGET;
    if (!Number.isSafeInteger(this.#budget) || this.#budget <= 0) {
      throw new RangeError(`daily budget must be a positive whole number, got ${String(this.#budget)}`);
    }
  }

  async admit(expectedCost: number, context: { organizationGuid: string }): Promise<ReserveResult> {
    const { store, clock, log, metrics } = this.#options;
    const keyId = this.#options.apiKeyId;
    const cost = Math.max(1, Math.ceil(expectedCost));
    const now = clock.now();
    const day = utcDay(now);
    const total = await store.consume(keyId, day, cost);
    const plan = planPoll({
      expectedCost: cost,
      usedToday: total - cost,
      dailyBudget: this.#budget,
      now,
      reserve: this.#options.reserve ?? 0,
    });
    if (!plan.allowed) {
      await store.consume(keyId, day, -cost);
      metrics.count(POLL_DEFERRED_METRIC, 1);
      log.warn('Poll deferred: the Nutcache daily request budget would be exceeded', {
        organizationGuid: context.organizationGuid,
        apiKeyId: keyId,
        reason: plan.reason,
        expectedCost: cost,
        usedToday: total - cost,
        remaining: plan.remaining,
        dailyBudget: this.#budget,
        resetsAt: new Date(plan.resetsAt).toISOString(),
      });
      return { admitted: false, plan };
    }
    let settled = false;
    const reservation: QuotaReservation = {
      day,
      reserved: cost,
      usedAfterReserve: total,
      settle: async (actualRequests: number) => {
        if (settled) throw new Error('quota reservation already settled');
        settled = true;
        const actual = Math.max(0, Math.ceil(actualRequests));
        if (actual === cost) return store.used(keyId, day);
        return store.consume(keyId, day, actual - cost);
      },
    };
    return { admitted: true, reservation, plan };
  }
}
