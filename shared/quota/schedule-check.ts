/**
 * The synth-time check of the polling configuration against Nutcache's daily quota: a schedule whose
 * expected calls per day exceed the budget of its API key is reported with the largest safe rate.
 * Pure: the CDK stack calls it and turns each warning into an annotation.
 */
import { DEFAULT_DAILY_BUDGET, PAGE_SIZE } from './budget.ts';

const MINUTES_PER_DAY = 24 * 60;

export interface ScheduledOrganization {
  readonly organizationGuid: string;
  /**
   * Organizations with the same group share one API key, hence one budget. Without a group an
   * organization is assumed to have a key of its own.
   */
  readonly apiKeyGroup?: string;
  /** The schedule: one poll every `rateMinutes` minutes. */
  readonly rateMinutes: number;
  /** Customers the organization is expected to hold. */
  readonly expectedCustomers: number;
}

export interface ScheduleBudgetWarning {
  readonly organizationGuid: string;
  /** The API key group (the organization's own guid when it has no group). */
  readonly apiKeyGroup: string;
  readonly rateMinutes: number;
  /** Nutcache calls a day this organization's schedule needs. */
  readonly callsPerDay: number;
  /** Calls a day of every organization sharing the key. */
  readonly groupCallsPerDay: number;
  readonly dailyBudget: number;
  /**
   * The shortest whole-minute interval that keeps the key within budget (with the other organizations of
   * the group adjusted as suggested too), or null when even one poll a day does not fit.
   */
  readonly largestSafeRateMinutes: number | null;
  readonly message: string;
}

/** Listing pages per poll. */
export function pagesPerPoll(expectedCustomers: number): number {
  return Math.max(1, Math.ceil(Math.max(0, expectedCustomers) / PAGE_SIZE));
}

/** Polls in the busiest day of a `rate(n minutes)` schedule. */
export function pollsPerDay(rateMinutes: number): number {
  return Math.ceil(MINUTES_PER_DAY / rateMinutes);
}

/** Calls a day of one organization on a schedule. */
export function callsPerDay(expectedCustomers: number, rateMinutes: number): number {
  return pagesPerPoll(expectedCustomers) * pollsPerDay(rateMinutes);
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Checks each API key group's schedules against `dailyBudget` (default 20,000). For every organization of
 * an over-budget group it returns a warning with the largest safe rate: rates are lengthened starting with
 * the organization that costs the most until the group fits (a lone organization gets the shortest
 * interval that fits, e.g. 10,000 customers: every 8 minutes, since 100 pages × 180 polls = 18,000).
 */
export function checkScheduleBudget(
  orgs: readonly ScheduledOrganization[],
  dailyBudget: number = DEFAULT_DAILY_BUDGET,
): ScheduleBudgetWarning[] {
  if (!Number.isFinite(dailyBudget) || dailyBudget <= 0) {
    throw new RangeError(`daily budget must be positive, got ${String(dailyBudget)}`);
  }
  for (const org of orgs) {
    if (!Number.isFinite(org.rateMinutes) || org.rateMinutes <= 0) {
      throw new RangeError(
        `organization ${org.organizationGuid}: rateMinutes must be positive, got ${String(org.rateMinutes)}`,
      );
    }
  }
  const groups = new Map<string, ScheduledOrganization[]>();
  for (const org of orgs) {
    const group = org.apiKeyGroup ?? org.organizationGuid;
    const members = groups.get(group) ?? [];
    members.push(org);
    groups.set(group, members);
  }

  const warnings: ScheduleBudgetWarning[] = [];
  for (const [group, members] of groups) {
    const groupCalls = members.reduce((sum, o) => sum + callsPerDay(o.expectedCustomers, o.rateMinutes), 0);
    if (groupCalls <= dailyBudget) continue;
    const safe = safeRates(members, dailyBudget);
    const shared = members.length > 1;
    for (const [i, org] of members.entries()) {
      const calls = callsPerDay(org.expectedCustomers, org.rateMinutes);
      const safeRate = safe?.[i] ?? null;
      const pages = pagesPerPoll(org.expectedCustomers);
      const why = `${fmt(org.expectedCustomers)} customers every ${fmt(org.rateMinutes)} minutes need ${fmt(calls)} Nutcache calls a day (${fmt(pages)} pages × ${fmt(pollsPerDay(org.rateMinutes))} polls)`;
      const over = shared
        ? `; with the ${members.length - 1} other organization(s) sharing API key group "${group}" that is ${fmt(groupCalls)}, over the daily budget of ${fmt(dailyBudget)}`
        : `, over the daily budget of ${fmt(dailyBudget)} of its API key`;
      const advice =
        safeRate === null
          ? '; even one poll a day does not fit: raise the budget or split the organization across API keys'
          : `; the largest safe rate is every ${fmt(safeRate)} minutes`;
      warnings.push({
        organizationGuid: org.organizationGuid,
        apiKeyGroup: group,
        rateMinutes: org.rateMinutes,
        callsPerDay: calls,
        groupCallsPerDay: groupCalls,
        dailyBudget,
        largestSafeRateMinutes: safeRate,
        message: `Organization ${org.organizationGuid}: ${why}${over}${advice}.`,
      });
    }
  }
  return warnings;
}

/** Whole-minute rates (one per member) that fit the budget together, or null when impossible. */
function safeRates(members: readonly ScheduledOrganization[], budget: number): number[] | null {
  const floorCost = members.reduce((sum, o) => sum + pagesPerPoll(o.expectedCustomers), 0);
  if (floorCost > budget) return null; // one poll a day each is already too much
  // Start from a proportional stretch of the exact (unrounded) cost, which no fitting rate is below for a
  // lone organization, then lengthen the costliest schedule one minute at a time until the group fits.
  const exact = members.reduce(
    (sum, o) => sum + (pagesPerPoll(o.expectedCustomers) * MINUTES_PER_DAY) / o.rateMinutes,
    0,
  );
  const stretch = exact / budget;
  const rates = members.map((o) =>
    Math.min(MINUTES_PER_DAY, Math.max(Math.ceil(o.rateMinutes), Math.floor(o.rateMinutes * stretch))),
  );
  const cost = () => members.reduce((sum, o, i) => sum + callsPerDay(o.expectedCustomers, rates[i] ?? 1), 0);
  while (cost() > budget) {
    let worst = -1;
    let worstCalls = -1;
    for (const [i, o] of members.entries()) {
      const r = rates[i] ?? MINUTES_PER_DAY;
      if (r >= MINUTES_PER_DAY) continue;
      const c = callsPerDay(o.expectedCustomers, r);
      if (c > worstCalls) {
        worst = i;
        worstCalls = c;
      }
    }
    if (worst < 0) return null;
    rates[worst] = (rates[worst] ?? 1) + 1;
  }
  return rates;
}
