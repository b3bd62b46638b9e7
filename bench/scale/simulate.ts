/**
 * Simulates one API-key group for the scenario's duration: its organizations' schedules fire (schedule
 * model), the fires queue in the group's FIFO message group (queue model), and each is polled with the
 * key's real rate limiter and the real quota guard on the group's own virtual clock. Groups share nothing
 * (not a limiter, not a budget, not a message group), so they are simulated one after the other.
 */
import { limiterForApiKey, type RateLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { Log, MetricsSink } from '../../shared/ports.ts';
import { apiKeyId, POLL_DEFERRED_METRIC, QuotaGuard } from '../../shared/quota/budget.ts';
import { seededRandom } from '../../shared/util/random.ts';
import { auditKey, type KeyAudit } from './audit.ts';
import { FixedWindowLimiter } from './broken-limiter.ts';
import { CountingQuotaStore, type Meter, newMeter } from './meter.ts';
import { type PollRecord, runPoll } from './poll.ts';
import { consumeGroup, groupMessages } from './queue.ts';
import { designedSchedule, keyInterval, MINUTE_MS, scheduleFires } from './schedule.ts';
import { VirtualClock } from './virtual-clock.ts';
import { apiKeyGroup, type SimOrganization, type WorkloadOptions } from './workload.ts';

export type LimiterChoice = 'real' | 'fixed-window';

export interface ScaleOptions {
  readonly workload: WorkloadOptions;
  /** Simulated time (ms) in which schedules fire; polls started inside it run to completion. */
  readonly durationMs: number;
  /** Epoch ms the simulation starts (a UTC midnight, so the day is one quota day). */
  readonly start: number;
  readonly dailyBudget: number;
  /** Virtual time Nutcache takes to answer one page. */
  readonly latencyMs: number;
  /** Virtual time from SendMessage to the poll's start when the group is idle. */
  readonly pickupMs: number;
  readonly limiter: LimiterChoice;
  readonly allowedIntervals: readonly number[];
  /** Overrides the designed flexible window with max(1, floor(everyMinutes / windowDivisor)) minutes. */
  readonly windowDivisor?: number | undefined;
}

export interface KeyResult {
  readonly key: number;
  readonly organizations: number;
  readonly everyMinutes: number | undefined;
  readonly polls: readonly PollRecord[];
  readonly audit: KeyAudit;
  readonly meter: Meter;
  readonly deferredMetric: number;
}

const silentLog: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function makeLimiter(choice: LimiterChoice, key: number, clock: VirtualClock): RateLimiter {
  if (choice === 'fixed-window') return new FixedWindowLimiter(clock);
  // What the Nutcache client does with no `rateLimit` option: the process-wide limiter of its key.
  return limiterForApiKey(`bench-scale-api-key-${key}`, {}, clock);
}

export async function simulateKey(
  key: number,
  members: readonly SimOrganization[],
  options: ScaleOptions,
): Promise<KeyResult> {
  const meter = newMeter();
  const everyMinutes = keyInterval(members, options.dailyBudget, options.allowedIntervals);
  const polls: PollRecord[] = [];
  const requestStarts: number[] = [];
  let deferredMetric = 0;
  if (everyMinutes !== undefined) {
    const random = seededRandom(options.workload.seed * 7919 + key);
    const window = { start: options.start, durationMs: options.durationMs };
    const fires = members.flatMap((org) =>
      scheduleFires(org, designedSchedule(org, everyMinutes, options.windowDivisor), window, random),
    );
    const clock = new VirtualClock(options.start);
    const quota = new CountingQuotaStore(meter);
    const keyId = apiKeyId(apiKeyGroup(key));
    const metrics: MetricsSink = {
      count: (name, value = 1) => {
        if (name === POLL_DEFERRED_METRIC) deferredMetric += value;
      },
      gauge: () => {},
    };
    const guard = new QuotaGuard({
      store: quota,
      apiKeyId: keyId,
      dailyBudget: options.dailyBudget,
      clock,
      log: silentLog,
      metrics,
    });
    const ctx = {
      clock,
      limiter: makeLimiter(options.limiter, key, clock),
      guard,
      quota,
      apiKeyId: keyId,
      dailyBudget: options.dailyBudget,
      latencyMs: options.latencyMs,
      meter,
      requestStarts,
    };
    await consumeGroup(groupMessages(fires), clock, { pickupMs: options.pickupMs, meter }, async (fire) => {
      polls.push(await runPoll(ctx, fire));
    });
  }
  return {
    key,
    organizations: members.length,
    everyMinutes,
    polls,
    audit: auditKey(requestStarts, options.dailyBudget),
    meter,
    deferredMetric,
  };
}

/** The latest start that is on time: due + a tenth of the interval. */
export function onTimeLimit(poll: Pick<PollRecord, 'dueAt' | 'everyMinutes'>): number {
  return poll.dueAt + (poll.everyMinutes * MINUTE_MS) / 10;
}
