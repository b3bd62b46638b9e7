/**
 * The schedule model: which interval each organization gets, and when EventBridge Scheduler fires it.
 *
 * Intervals: the smallest of `ALLOWED_INTERVALS` that the key's daily budget sustains for every
 * organization sharing the key (one interval per key), checked with the synth-time check
 * (shared/quota/schedule-check.ts) against the budget less a headroom: one extra poll per organization (a
 * fire jittered past midnight counts in the next UTC day) and the largest reservation margin the quota guard
 * adds to a poll's cost (shared/quota/budget.ts `expectedPollCost`), so every admission fits.
 *
 * Fires (the design's schedule, ORG-DESIGN.md): `rate(everyMinutes minutes)` from a phase fixed by when the
 * organization was onboarded (uniform over one interval), each invocation delayed within the flexible window
 * of `max(1, floor(everyMinutes / 10))` minutes; the spread inside the window is not documented by AWS and
 * is modelled as uniform.
 */
import { expectedPollCost } from '../../shared/quota/budget.ts';
import { checkScheduleBudget, pagesPerPoll } from '../../shared/quota/schedule-check.ts';
import type { SimOrganization } from './workload.ts';

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;

/** Intervals an organization may get (minutes); each divides a day. */
export const ALLOWED_INTERVALS = [15, 30, 60, 120, 240, 360, 720, 1440] as const;

/** The design's flexible window (minutes): a tenth of the interval (`divisor` 10), at least a minute. */
export function flexibleWindowMinutes(everyMinutes: number, divisor = 10): number {
  return Math.max(1, Math.floor(everyMinutes / divisor));
}

/** The reservation margin the quota guard adds to a poll of `pages` pages. */
function reservationMargin(pages: number): number {
  return expectedPollCost({ lastPages: pages }) - pages;
}

/**
 * The smallest allowed interval the key's budget sustains for all `members`, or undefined when even the
 * longest does not fit (the report counts those organizations as unschedulable).
 */
export function keyInterval(
  members: readonly SimOrganization[],
  dailyBudget: number,
  allowed: readonly number[] = ALLOWED_INTERVALS,
): number | undefined {
  const pages = members.map((o) => pagesPerPoll(o.customers));
  const headroom = pages.reduce((a, b) => a + b, 0) + Math.max(0, ...pages.map(reservationMargin));
  const budget = dailyBudget - headroom;
  if (budget <= 0) return undefined;
  return allowed.find(
    (rateMinutes) =>
      checkScheduleBudget(
        members.map((o) => ({
          organizationGuid: o.organizationGuid,
          apiKeyGroup: 'key',
          rateMinutes,
          expectedCustomers: o.customers,
        })),
        budget,
      ).length === 0,
  );
}

/** One invocation of an organization's schedule. */
export interface Fire {
  readonly org: SimOrganization;
  readonly everyMinutes: number;
  /** The schedule's nominal time (epoch ms): the poll's due time. */
  readonly dueAt: number;
  /** When Scheduler invoked the target (due + jitter within the flexible window). */
  readonly firedAt: number;
}

/** The fires of one organization whose due time falls in [start, start + durationMs). */
export function scheduleFires(
  org: SimOrganization,
  everyMinutes: number,
  window: { readonly start: number; readonly durationMs: number; readonly divisor?: number },
  random: () => number,
): Fire[] {
  const intervalMs = everyMinutes * MINUTE_MS;
  const windowMs = flexibleWindowMinutes(everyMinutes, window.divisor) * MINUTE_MS;
  const fires: Fire[] = [];
  const end = window.start + window.durationMs;
  for (let dueAt = window.start + Math.floor(random() * intervalMs); dueAt < end; dueAt += intervalMs) {
    fires.push({ org, everyMinutes, dueAt, firedAt: dueAt + Math.floor(random() * windowMs) });
  }
  return fires;
}
