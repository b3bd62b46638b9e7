/**
 * Aggregates the groups' results into the scenario's figures (on-time share, audit, budget, overhead per
 * poll, cost per organization per month) and formats them.
 */
import { NUTCACHE_LIMITS } from './audit.ts';
import { DAYS_PER_MONTH, EMPTY_RECEIVES_PER_MONTH, PRICES_USD } from './cost.ts';
import { addMeter, type Meter, newMeter } from './meter.ts';
import { MINUTE_MS } from './schedule.ts';
import { type KeyResult, onTimeLimit } from './simulate.ts';

export interface IntervalRow {
  organizations: number;
  polls: number;
  late: number;
}

export class ScaleAggregate {
  organizations = 0;
  keys = 0;
  unschedulable = 0;
  polls = 0;
  deferred = 0;
  deferredMetric = 0;
  late = 0;
  /** Polls that waited for another poll of their key (received later than `pickupMs` after the fire). */
  queued = 0;
  /** Late polls that had waited for another poll of their key (the others are late from the window alone). */
  lateQueued = 0;
  requests = 0;
  readonly byInterval = new Map<number, IntervalRow>();
  readonly delayRatios: number[] = [];
  readonly violations: Record<string, number> = {};
  readonly peaks: Record<string, number> = {};
  keysWithViolations = 0;
  maxDayRequests = 0;
  budgetOverrun = 0;
  readonly meter: Meter = newMeter();
  /** Scheduler invocations per second of simulated time (for the jitter spread). */
  readonly firesPerSecond = new Map<number, number>();

  constructor(private readonly pickupMs: number) {}

  add(result: KeyResult): void {
    this.keys += 1;
    this.organizations += result.organizations;
    this.deferredMetric += result.deferredMetric;
    if (result.everyMinutes === undefined) {
      this.unschedulable += result.organizations;
      return;
    }
    const row = this.byInterval.get(result.everyMinutes) ?? { organizations: 0, polls: 0, late: 0 };
    row.organizations += result.organizations;
    this.byInterval.set(result.everyMinutes, row);
    for (const poll of result.polls) this.addPoll(poll, row);
    this.addAudit(result);
    addMeter(this.meter, result.meter);
  }

  private addPoll(poll: KeyResult['polls'][number], row: IntervalRow): void {
    this.polls += 1;
    row.polls += 1;
    const late = poll.deferred || poll.startedAt > onTimeLimit(poll);
    const queued = poll.startedAt > poll.firedAt + this.pickupMs;
    if (queued) this.queued += 1;
    if (late) {
      this.late += 1;
      row.late += 1;
      if (queued) this.lateQueued += 1;
    }
    if (poll.deferred) this.deferred += 1;
    this.requests += poll.requests;
    this.delayRatios.push((poll.startedAt - poll.dueAt) / (poll.everyMinutes * MINUTE_MS));
    const second = Math.floor(poll.firedAt / 1000);
    this.firesPerSecond.set(second, (this.firesPerSecond.get(second) ?? 0) + 1);
  }

  private addAudit(result: KeyResult): void {
    const { audit } = result;
    let violating = false;
    for (const { name } of NUTCACHE_LIMITS) {
      const v = audit.violations[name] ?? 0;
      this.violations[name] = (this.violations[name] ?? 0) + v;
      this.peaks[name] = Math.max(this.peaks[name] ?? 0, audit.peaks[name] ?? 0);
      if (v > 0) violating = true;
    }
    if (violating) this.keysWithViolations += 1;
    this.maxDayRequests = Math.max(this.maxDayRequests, audit.maxDayRequests);
    this.budgetOverrun += audit.budgetOverrun;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

export interface OverheadPerPoll {
  readonly awsRequests: Record<string, number>;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly quotaRequests: number;
  readonly lambdaSeconds: number;
}

export function overheadPerPoll(meter: Meter): OverheadPerPoll {
  const n = Math.max(1, meter.polls);
  return {
    awsRequests: {
      'Scheduler invocation': meter.schedulerInvocations / n,
      'SQS SendMessage': meter.sqsSend / n,
      'SQS ReceiveMessage': meter.sqsReceive / n,
      'SQS DeleteMessage': meter.sqsDelete / n,
      'DynamoDB GetItem (registry)': meter.registryReads / n,
      'DynamoDB UpdateItem (lease)': meter.leaseWrites / n,
    },
    readUnits: meter.registryReads / n,
    writeUnits: meter.leaseWrites / n,
    quotaRequests: (meter.quotaWrites + meter.quotaReads) / n,
    lambdaSeconds: meter.lambdaMs / 1000 / n,
  };
}

/** Monthly cost per organization (USD) by item, from one simulated day scaled to 30. */
export function costPerOrganization(agg: ScaleAggregate, days: number, lambdaMemoryMb: number) {
  const m = agg.meter;
  const scale = DAYS_PER_MONTH / days / Math.max(1, agg.organizations);
  const sqs = m.sqsSend + m.sqsReceive + m.sqsDelete;
  const items = {
    'Scheduler invocations': m.schedulerInvocations * PRICES_USD.schedulerInvocation * scale,
    'SQS FIFO requests': sqs * PRICES_USD.sqsFifoRequest * scale,
    'SQS empty receives (estimated)':
      (EMPTY_RECEIVES_PER_MONTH * PRICES_USD.sqsFifoRequest) / Math.max(1, agg.organizations),
    'DynamoDB registry + lease':
      (m.registryReads * PRICES_USD.dynamoReadUnit + m.leaseWrites * PRICES_USD.dynamoWriteUnit) * scale,
    'DynamoDB quota counter':
      (m.quotaReads * PRICES_USD.dynamoReadUnit + m.quotaWrites * PRICES_USD.dynamoWriteUnit) * scale,
    'Lambda requests': m.lambdaInvocations * PRICES_USD.lambdaRequest * scale,
    'Lambda duration (waits included)':
      (m.lambdaMs / 1000) * (lambdaMemoryMb / 1024) * PRICES_USD.lambdaGbSecond * scale,
    'Secrets Manager GetSecretValue (≤ 1 per poll, estimated)': m.polls * PRICES_USD.secretsCall * scale,
  };
  const scheduling =
    items['Scheduler invocations'] +
    items['SQS FIFO requests'] +
    items['SQS empty receives (estimated)'] +
    items['DynamoDB registry + lease'];
  const total = Object.values(items).reduce((a, b) => a + b, 0);
  return { items, scheduling, total, secretStorage: PRICES_USD.secretMonth };
}

export function summary(agg: ScaleAggregate, durationMs: number) {
  const ratios = [...agg.delayRatios].sort((a, b) => a - b);
  return {
    onTimeShare: agg.polls === 0 ? Number.NaN : (agg.polls - agg.late) / agg.polls,
    delayRatioP50: percentile(ratios, 0.5),
    delayRatioP99: percentile(ratios, 0.99),
    delayRatioMax: ratios.at(-1) ?? Number.NaN,
    peakFiresPerSecond: Math.max(0, ...agg.firesPerSecond.values()),
    meanFiresPerSecond: agg.polls / Math.max(1, durationMs / 1000),
  };
}
