/**
 * Nutcache's documented rate limits, as the sandbox enforces them: per API key, sliding (rolling) windows
 * of one second, one minute and, optionally, one day. Only accepted requests use up the budget; a request
 * answered 429 does not (so a client that waits for `Retry-After` gets through).
 */

export interface RateLimits {
  /** Requests per rolling second (default 5; null: not enforced). */
  readonly perSecond?: number | null;
  /** Requests per rolling minute (default 200; null: not enforced). */
  readonly perMinute?: number | null;
  /** Requests per rolling 24 hours (default: not enforced; Nutcache documents 20,000). */
  readonly perDay?: number | null;
}

export const DEFAULT_RATE_LIMITS = { perSecond: 5, perMinute: 200 } as const;

export type RateDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly retryAfterSeconds: number;
      readonly window: 'second' | 'minute' | 'day';
    };

interface Window {
  readonly name: 'second' | 'minute' | 'day';
  readonly ms: number;
  readonly limit: number | null;
}

/** Accepted request times of one API key, oldest first, with a moving start index (amortised O(1)). */
class History {
  times: number[] = [];
  start = 0;

  prune(before: number): void {
    while (this.start < this.times.length && (this.times[this.start] ?? 0) <= before) this.start++;
    if (this.start > 1024 && this.start * 2 > this.times.length) {
      this.times = this.times.slice(this.start);
      this.start = 0;
    }
  }

  /** How many recorded times are later than `after`. */
  countAfter(after: number): number {
    let lo = this.start;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] ?? 0) <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.times.length - lo;
  }
}

export class SlidingWindowLimiter {
  readonly #windows: readonly Window[];
  readonly #history = new Map<string, History>();
  /** Highest number of accepted requests seen inside one rolling second / minute, any key. */
  peakPerSecond = 0;
  peakPerMinute = 0;

  constructor(limits: RateLimits | null) {
    const l = limits ?? { perSecond: null, perMinute: null, perDay: null };
    this.#windows = [
      {
        name: 'second',
        ms: 1000,
        limit: l.perSecond === undefined ? DEFAULT_RATE_LIMITS.perSecond : l.perSecond,
      },
      {
        name: 'minute',
        ms: 60_000,
        limit: l.perMinute === undefined ? DEFAULT_RATE_LIMITS.perMinute : l.perMinute,
      },
      { name: 'day', ms: 86_400_000, limit: l.perDay ?? null },
    ];
    for (const w of this.#windows) {
      if (w.limit !== null && !(Number.isInteger(w.limit) && w.limit > 0)) {
        throw new Error(`rate limit per ${w.name} must be a positive integer or null, got ${w.limit}`);
      }
    }
  }

  get enforced(): boolean {
    return this.#windows.some((w) => w.limit !== null);
  }

  /** Decides on one request of `key` at time `now`; an allowed request is recorded. */
  check(key: string, now: number): RateDecision {
    let h = this.#history.get(key);
    if (!h) {
      h = new History();
      this.#history.set(key, h);
    }
    // Keep a day of history only when a daily limit is enforced; otherwise a minute is enough.
    const keep = this.#windows[2]?.limit !== null ? 86_400_000 : 60_000;
    h.prune(now - keep);
    for (const w of this.#windows) {
      if (w.limit === null) continue;
      const inWindow = h.countAfter(now - w.ms);
      if (inWindow >= w.limit) {
        // The request may pass once enough of the oldest requests in the window have left it.
        const times = h.times;
        const leaving = times[times.length - w.limit];
        const waitMs = leaving === undefined ? w.ms : leaving + w.ms - now;
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), window: w.name };
      }
    }
    h.times.push(now);
    this.peakPerSecond = Math.max(this.peakPerSecond, h.countAfter(now - 1000));
    this.peakPerMinute = Math.max(this.peakPerMinute, h.countAfter(now - 60_000));
    return { allowed: true };
  }

  /** Forgets the peaks (the history that enforces the limits is kept). */
  resetPeaks(): void {
    this.peakPerSecond = 0;
    this.peakPerMinute = 0;
  }
}
