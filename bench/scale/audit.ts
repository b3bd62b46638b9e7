/**
 * The independent audit of the requests the simulation sent on one API key: it knows nothing of the
 * limiter, only the start time of every request. Nutcache's limits are per key: 5 requests in any 1 s,
 * 200 in any 60 s, 20,000 per UTC day.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

export const NUTCACHE_LIMITS = [
  { name: '5/s', limit: 5, windowMs: 1_000 },
  { name: '200/min', limit: 200, windowMs: 60_000 },
] as const;

/**
 * Windows of `windowMs` that hold more than `limit` starts: the number of starts i for which the
 * (limit + 1)-th start counted from i falls less than `windowMs` after it. 0 means no sliding window of
 * that length, wherever it is placed, ever saw more than `limit` requests. `starts` must be sorted.
 */
export function slidingWindowViolations(starts: readonly number[], limit: number, windowMs: number): number {
  let violations = 0;
  for (let i = 0; i + limit < starts.length; i++) {
    if ((starts[i + limit] as number) - (starts[i] as number) < windowMs) violations += 1;
  }
  return violations;
}

/** The most starts any window of `windowMs` holds (two pointers over sorted starts). */
export function peakInWindow(starts: readonly number[], windowMs: number): number {
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < starts.length; hi++) {
    while ((starts[hi] as number) - (starts[lo] as number) >= windowMs) lo += 1;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/** Requests per UTC day (keyed by days since the epoch). */
export function requestsPerDay(starts: readonly number[]): Map<number, number> {
  const days = new Map<number, number>();
  for (const t of starts) {
    const day = Math.floor(t / DAY_MS);
    days.set(day, (days.get(day) ?? 0) + 1);
  }
  return days;
}

export interface KeyAudit {
  readonly requests: number;
  /** Violating windows per limit name ('5/s', '200/min'). */
  readonly violations: Record<string, number>;
  /** The most requests seen in any window, per limit name. */
  readonly peaks: Record<string, number>;
  /** The busiest UTC day's requests. */
  readonly maxDayRequests: number;
  /** Requests beyond the daily budget, summed over days. */
  readonly budgetOverrun: number;
}

export function auditKey(starts: readonly number[], dailyBudget: number): KeyAudit {
  const sorted = [...starts].sort((a, b) => a - b);
  const violations: Record<string, number> = {};
  const peaks: Record<string, number> = {};
  for (const { name, limit, windowMs } of NUTCACHE_LIMITS) {
    violations[name] = slidingWindowViolations(sorted, limit, windowMs);
    peaks[name] = peakInWindow(sorted, windowMs);
  }
  const days = [...requestsPerDay(sorted).values()];
  return {
    requests: sorted.length,
    violations,
    peaks,
    maxDayRequests: Math.max(0, ...days),
    budgetOverrun: days.reduce((sum, n) => sum + Math.max(0, n - dailyBudget), 0),
  };
}
