/**
 * The schedule model: which interval each organization gets, and when EventBridge Scheduler fires it.
 *
 * Intervals: the smallest of `ALLOWED_INTERVALS` that the key's daily budget sustains for every
 * organization sharing the key (one interval per key), checked with the synth-time check
 * (shared/quota/schedule-check.ts) against the budget less a headroom: one extra poll per organization (a
 * fire jittered past midnight counts in the next UTC day) and the largest reservation margin the quota guard
 * adds to a poll's cost (shared/quota/budget.ts `expectedPollCost`), so every admission fits.
 *
 * Fires: the schedule the registry really creates (`scheduleInput` of shared/registry/schedules.ts: its
 * `rate(N minutes)` expression and flexible window, `max(1, floor(N / 20))` minutes in the design), from a
 * phase fixed by when the organization was onboarded (uniform over one interval), each invocation delayed
 * within the flexible window; the spread inside the window is not documented by AWS and is modelled as
 * uniform. `windowDivisor` overrides the window, to measure another choice.
 */
import { expectedPollCost } from '../../shared/quota/budget.ts';
import { checkScheduleBudget, pagesPerPoll } from '../../shared/quota/schedule-check.ts';
import type { DeploymentRecord } from '../../shared/registry/deployment.ts';
import { scheduleInput } from '../../shared/registry/schedules.ts';
import { apiKeyGroup, type SimOrganization } from './workload.ts';

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;

/** Intervals an organization may get (minutes); each divides a day. */
export const ALLOWED_INTERVALS = [15, 30, 60, 120, 240, 360, 720, 1440] as const;

/** A deployment record for the schedule inputs (only the rate, window and message group are used). */
const BENCH_DEPLOYMENT: DeploymentRecord = {
  environment: 'bench',
  region: 'us-east-1',
  scheduleGroupName: 'nutcache-cdc-bench',
  pollQueueArn: 'arn:aws:sqs:us-east-1:111111111111:nutcache-cdc-bench-polls.fifo',
  schedulerRoleArn: 'arn:aws:iam::111111111111:role/nutcache-cdc-bench-scheduler',
  scheduleDeadLetterQueueArn: 'arn:aws:sqs:us-east-1:111111111111:nutcache-cdc-bench-dlq',
  secretNamePrefix: 'nutcache-cdc/bench/organizations/',
  secretTag: { key: 'nutcache-cdc:environment', value: 'bench' },
  eventBusName: 'nutcache-cdc-bench',
};

/** What the simulation needs of an organization's schedule. */
export interface SimSchedule {
  readonly everyMinutes: number;
  /** Scheduler's flexible window (minutes; 0 when the window is OFF). */
  readonly windowMinutes: number;
  /** The FIFO message group its fires are sent to. */
  readonly messageGroupId: string;
}

/**
 * The organization's schedule as the registry creates it (CreateSchedule input), or with a window of
 * `max(1, floor(everyMinutes / windowDivisor))` minutes when `windowDivisor` is given.
 */
export function designedSchedule(
  org: SimOrganization,
  everyMinutes: number,
  windowDivisor?: number,
): SimSchedule {
  const input = scheduleInput(
    {
      organizationGuid: org.organizationGuid,
      everyMinutes,
      apiKeyGroup: apiKeyGroup(org.key),
      state: 'active',
    },
    BENCH_DEPLOYMENT,
  );
  const rate = /^rate\((\d+) minutes?\)$/.exec(input.ScheduleExpression ?? '');
  const messageGroupId = input.Target?.SqsParameters?.MessageGroupId;
  if (!rate || messageGroupId === undefined) {
    throw new Error(`unexpected schedule input: ${JSON.stringify(input)}`);
  }
  const window = input.FlexibleTimeWindow;
  const designed = window?.Mode === 'FLEXIBLE' ? (window.MaximumWindowInMinutes ?? 0) : 0;
  return {
    everyMinutes: Number(rate[1]),
    windowMinutes:
      windowDivisor === undefined ? designed : Math.max(1, Math.floor(everyMinutes / windowDivisor)),
    messageGroupId,
  };
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
  schedule: SimSchedule,
  window: { readonly start: number; readonly durationMs: number },
  random: () => number,
): Fire[] {
  const { everyMinutes } = schedule;
  const intervalMs = everyMinutes * MINUTE_MS;
  const windowMs = schedule.windowMinutes * MINUTE_MS;
  const fires: Fire[] = [];
  const end = window.start + window.durationMs;
  for (let dueAt = window.start + Math.floor(random() * intervalMs); dueAt < end; dueAt += intervalMs) {
    fires.push({ org, everyMinutes, dueAt, firedAt: dueAt + Math.floor(random() * windowMs) });
  }
  return fires;
}
