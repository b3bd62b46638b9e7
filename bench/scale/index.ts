/**
 * `npm run bench -- --scenario scale [--orgs 10000] [--keys 500] [--hours 24] [--seed 10]
 *  [--limiter real|fixed-window] [--window-divisor D] [--pickup-ms 1000] [--latency-ms 250] [--out file.json]`: the scale scenario of issue 10 (docs/performance.md).
 */
import { ScaleAggregate } from './report.ts';
import { ALLOWED_INTERVALS } from './schedule.ts';
import { type ScaleOptions, simulateKey } from './simulate.ts';
import { byKey, DEFAULT_WORKLOAD, generateWorkload } from './workload.ts';

/** Nutcache's daily request quota per API key. */
export const SCALE_DAILY_BUDGET = 20_000;
/** The poller function's memory (MB), for the Lambda duration cost. */
export const POLLER_MEMORY_MB = 512;

export const DEFAULT_SCALE_OPTIONS: ScaleOptions = {
  workload: DEFAULT_WORKLOAD,
  durationMs: 24 * 60 * 60 * 1000,
  start: Date.parse('2026-03-02T00:00:00Z'),
  dailyBudget: SCALE_DAILY_BUDGET,
  latencyMs: 250,
  pickupMs: 1_000,
  limiter: 'real',
  allowedIntervals: ALLOWED_INTERVALS,
};

export interface ScaleRun {
  readonly options: ScaleOptions;
  readonly aggregate: ScaleAggregate;
  readonly wallMs: number;
}

/** Runs every API-key group in turn and aggregates their figures. */
export async function runScale(
  options: ScaleOptions = DEFAULT_SCALE_OPTIONS,
  progress: (done: number, total: number) => void = () => {},
): Promise<ScaleRun> {
  const started = performance.now();
  const groups = [...byKey(generateWorkload(options.workload)).entries()].sort((a, b) => a[0] - b[0]);
  const aggregate = new ScaleAggregate(options.pickupMs);
  for (const [i, [key, members]] of groups.entries()) {
    aggregate.add(await simulateKey(key, members, options));
    progress(i + 1, groups.length);
  }
  return { options, aggregate, wallMs: performance.now() - started };
}
