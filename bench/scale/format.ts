/** The scale scenario's printed report and JSON (bench/results/scale.json). */
import { NUTCACHE_LIMITS } from './audit.ts';
import type { ScaleRun } from './index.ts';
import { costPerOrganization, overheadPerPoll, summary } from './report.ts';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const usd = (x: number) => `$${x.toFixed(5)}`;
const met = (ok: boolean) => (ok ? 'met' : 'MISSED');

export const ON_TIME_TARGET = 0.99;

/** The figures the targets are judged on. */
export function scaleFigures(run: ScaleRun, memoryMb: number) {
  const { aggregate: agg, options } = run;
  const days = options.durationMs / 86_400_000;
  const violations = NUTCACHE_LIMITS.reduce((sum, { name }) => sum + (agg.violations[name] ?? 0), 0);
  const s = summary(agg, options.durationMs);
  return {
    ...s,
    violations,
    targetsMet: s.onTimeShare >= ON_TIME_TARGET && violations === 0 && agg.budgetOverrun === 0,
    overhead: overheadPerPoll(agg.meter),
    cost: costPerOrganization(agg, days, memoryMb),
  };
}

function scheduleLines(run: ScaleRun): string[] {
  const { aggregate: agg, options } = run;
  const w = options.workload;
  const rows = [...agg.byInterval.entries()].sort((a, b) => a[0] - b[0]);
  return [
    `Scale scenario: ${int(agg.organizations)} organizations over ${int(w.apiKeys)} API keys ` +
      `(${int(w.minCustomers)}–${int(w.maxCustomers)} customers, log-uniform; seed ${w.seed}), ` +
      `${(options.durationMs / 3_600_000).toFixed(0)} h simulated, limiter: ${options.limiter}, ` +
      `flexible window ${options.windowDivisor === undefined ? "of the registry's CreateSchedule input" : `max(1, floor(every / ${options.windowDivisor})) min (override)`}, page latency ${options.latencyMs} ms, pick-up ${options.pickupMs} ms`,
    `Intervals (every N minutes: organizations, polls, late): ${rows
      .map(([every, r]) => `${every}: ${int(r.organizations)}, ${int(r.polls)}, ${int(r.late)}`)
      .join(' | ')}${agg.unschedulable > 0 ? ` | unschedulable: ${int(agg.unschedulable)}` : ''}`,
  ];
}

function targetLines(run: ScaleRun, f: ReturnType<typeof scaleFigures>): string[] {
  const agg = run.aggregate;
  const audit = NUTCACHE_LIMITS.map(
    ({ name, windowMs }) =>
      `${name}: ${int(agg.violations[name] ?? 0)} violating windows (busiest ${windowMs / 1000} s on a key: ${int(agg.peaks[name] ?? 0)})`,
  ).join('; ');
  const budget = run.options.dailyBudget;
  return [
    `  ${met(f.onTimeShare >= ON_TIME_TARGET)}  polls on time (start ≤ due + 10% of the interval) ≥ 99%: ` +
      `${pct(f.onTimeShare)} of ${int(agg.polls)} (${int(agg.late)} late: ${int(agg.late - agg.lateQueued)} from the window and pick-up alone, ` +
      `${int(agg.lateQueued)} after waiting for a poll of the same key; ${int(agg.deferred)} deferred by the quota guard; ` +
      `${int(agg.queued)} polls waited for one of their key); ` +
      `start delay / interval p50 ${pct(f.delayRatioP50, 1)}, p99 ${pct(f.delayRatioP99, 1)}, max ${pct(f.delayRatioMax, 1)}`,
    `  ${met(f.violations === 0)}  rate-limit violations per key (independent sliding-window audit of ${int(agg.requests)} request starts) = 0: ${audit}; keys with a violation: ${agg.keysWithViolations}`,
    `  ${met(agg.budgetOverrun === 0)}  daily budget overruns = 0: ${int(agg.budgetOverrun)} requests over; busiest key-day ${int(agg.maxDayRequests)} of ${int(budget)}; ` +
      `mean use ${pct(agg.requests / (agg.keys * budget * (run.options.durationMs / 86_400_000)), 1)} of the keys' budgets`,
  ];
}

function overheadLines(f: ReturnType<typeof scaleFigures>): string[] {
  const o = f.overhead;
  return [
    `Overhead per poll (beyond its Nutcache requests): ${Object.entries(o.awsRequests)
      .map(([name, n]) => `${name} ${n.toFixed(2)}`)
      .join(', ')}; DynamoDB ${o.readUnits.toFixed(2)} read + ${o.writeUnits.toFixed(2)} write units; ` +
      `quota counter ${o.quotaRequests.toFixed(2)} requests (paid before too); Lambda ${o.lambdaSeconds.toFixed(1)} s`,
    `Scheduler fires: ${f.meanFiresPerSecond.toFixed(2)} a second on average, at most ${f.peakFiresPerSecond} in one second`,
    `Cost per organization per month (us-east-1 list prices): ${Object.entries(f.cost.items)
      .map(([name, x]) => `${name} ${usd(x)}`)
      .join(', ')}; scheduling ${usd(f.cost.scheduling)}, all requests and duration ${usd(f.cost.total)}; ` +
      `plus the secret ${usd(f.cost.secretStorage)}`,
  ];
}

export function formatScale(run: ScaleRun, memoryMb: number, cpuMs: number): string {
  const f = scaleFigures(run, memoryMb);
  return [
    ...scheduleLines(run),
    'Targets:',
    ...targetLines(run, f),
    ...overheadLines(f),
    `Simulation: ${(run.wallMs / 1000).toFixed(1)} s wall, ${(cpuMs / 1000).toFixed(1)} s CPU.`,
  ].join('\n');
}

export function scaleJson(run: ScaleRun, memoryMb: number, cpuMs: number): unknown {
  const agg = run.aggregate;
  return {
    options: run.options,
    figures: scaleFigures(run, memoryMb),
    organizations: agg.organizations,
    keys: agg.keys,
    unschedulable: agg.unschedulable,
    polls: agg.polls,
    late: agg.late,
    lateQueued: agg.lateQueued,
    queued: agg.queued,
    deferred: agg.deferred,
    requests: agg.requests,
    byInterval: Object.fromEntries(agg.byInterval),
    violations: agg.violations,
    peaks: agg.peaks,
    maxDayRequests: agg.maxDayRequests,
    budgetOverrun: agg.budgetOverrun,
    meter: agg.meter,
    wallMs: run.wallMs,
    cpuMs,
  };
}
