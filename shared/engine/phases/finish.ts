/**
 * Phase: end the poll, whatever happened: the result, its metrics, the run record, the lease released, the
 * last log line. Failures to record or release are logged, never thrown (the lease lapses by itself).
 */
import type { MetricsSink, RunRecord } from '../../ports.ts';
import type { PollRun, Stop } from '../poll-run.ts';
import { errorMessage, type PollResult } from '../poll-types.ts';

export interface Ending extends Stop {
  readonly listingComplete: boolean;
  readonly throttledAtStart: number;
  readonly owner: string;
}

export async function finish(run: PollRun, ending: Ending): Promise<PollResult> {
  const { deps, counts, runLog } = run;
  const { outcome, error, failure } = ending;
  const finishedAtMs = deps.clock.now();
  const nutcacheRequests = deps.source.requestCount - run.requestsAtStart;
  const result: PollResult = {
    outcome,
    organizationGuid: run.org,
    pollId: run.pollId,
    pollNumber: run.pollNumber,
    counts,
    nutcacheRequests,
    durationMs: finishedAtMs - run.startedAtMs,
    publishedEventIds: run.publishedEventIds,
    listingComplete: ending.listingComplete,
    ...(error !== undefined ? { error, failure } : {}),
  };
  recordMetrics(deps.metrics, result);
  deps.metrics.count('NutcacheThrottled', (deps.source.throttledCount ?? 0) - ending.throttledAtStart);
  await recordRun(run, runRecordOf(run, result, finishedAtMs));
  await releaseLease(run, ending.owner);
  const logLevel = outcome === 'success' ? 'info' : outcome === 'failed' ? 'error' : 'warn';
  deps.log[logLevel]('poll finished', {
    ...runLog,
    outcome,
    counts,
    nutcacheRequests,
    durationMs: result.durationMs,
    error,
  });
  return result;
}

function runRecordOf(run: PollRun, result: PollResult, finishedAtMs: number): RunRecord {
  return {
    pollId: run.pollId,
    pollNumber: run.pollNumber,
    organizationGuid: run.org,
    mode: run.mode,
    startedAt: new Date(run.startedAtMs).toISOString(),
    finishedAt: new Date(finishedAtMs).toISOString(),
    durationMs: result.durationMs,
    outcome: result.outcome,
    counts: { ...run.counts },
    nutcacheRequests: result.nutcacheRequests,
    ...(result.error !== undefined ? { error: result.error } : {}),
  };
}

async function recordRun(run: PollRun, record: RunRecord): Promise<void> {
  try {
    await run.deps.store.putRunRecord(record);
  } catch (runError) {
    run.deps.log.warn('could not write the run record', { ...run.runLog, error: errorMessage(runError) });
  }
}

async function releaseLease(run: PollRun, owner: string): Promise<void> {
  try {
    await run.deps.store.releaseLease(run.org, owner);
  } catch (releaseError) {
    run.deps.log.warn('could not release the lease; it lapses by itself', {
      ...run.runLog,
      error: errorMessage(releaseError),
    });
  }
}

function recordMetrics(metrics: MetricsSink, result: PollResult): void {
  const c = result.counts;
  // A held poll did all the rest: for the deployed alarms it stays a success (MassDeletionHeld tells it apart).
  if (result.outcome === 'success' || result.outcome === 'held') metrics.count('PollSucceeded');
  else if (result.outcome === 'failed' || result.outcome === 'partial') metrics.count('PollFailed');
  else if (result.outcome === 'deadline') metrics.count('PollDeadline');
  metrics.count('CustomersCreated', c.created);
  metrics.count('CustomersUpdated', c.updated);
  metrics.count('CustomersDeleted', c.deleted);
  metrics.count('CustomersSnapshot', c.snapshot);
  metrics.count('CustomersInvalid', c.invalid);
  metrics.count('NutcacheRequests', result.nutcacheRequests);
  metrics.gauge('PollDurationMs', result.durationMs, 'Milliseconds');
}
