/**
 * One measured step of the benchmark, run in its own process so its peak RSS is the poller's alone (the
 * sandbox and the embedded DynamoDB live in the parent). Receives a `ChildTask` over IPC, answers a
 * `ChildResult`, exits.
 */
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runPoll } from '../shared/engine/poll.ts';
import { NutcacheClient } from '../shared/nutcache/client.ts';
import { SlidingWindowLimiter } from '../shared/nutcache/rate-limiter.ts';
import type { Log, MetricsSink } from '../shared/ports.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../shared/store/dynamodb.ts';
import { systemClock } from '../shared/util/clock.ts';
import { CountingBus, refusingDeadLetters } from './counting-bus.ts';

export interface ChildTask {
  readonly kind: 'fetch' | 'poll';
  readonly sandboxUrl: string;
  readonly organizationGuid: string;
  readonly credentials: { readonly apiKey: string; readonly username: string; readonly password: string };
  readonly dynamoEndpoint: string;
  readonly tableName: string;
}

export interface ChildResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly wallMs: number;
  /** CPU time (user + system) of the poller process during the step: less sensitive to a busy machine. */
  readonly cpuMs?: number;
  readonly customers: number;
  readonly pages: number;
  readonly nutcacheRequests: number;
  /** Resident set size after the imports, before the measured step (MB). */
  readonly baselineRssMb: number;
  /** Peak resident set size of this process (MB), from /proc/self/status VmHWM. */
  readonly peakRssMb: number;
  /** Peak resident set size seen by sampling every 20 ms (MB). */
  readonly sampledPeakRssMb?: number;
  readonly dynamo?: { readUnits: number; writeUnits: number; requests: Record<string, number> };
  readonly putEventsCalls?: number;
  readonly eventsPublished?: number;
  readonly eventsByType?: Record<string, number>;
  readonly snapshotsCommitted?: number;
  readonly outcome?: string;
  readonly counts?: Record<string, number>;
}

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };
const noMetrics: MetricsSink = { count() {}, gauge() {} };

/**
 * Peak RSS of this process image. getrusage's maxRSS is not usable here: on Linux it keeps the parent's
 * high-water mark across fork+exec, so a child of a large parent reports the parent's size. VmHWM in
 * /proc/self/status is the peak of this process's own memory map; elsewhere the 20 ms samples stand in.
 */
function peakRssMb(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return Math.max(sampledPeakRss, process.memoryUsage.rss()) / 2 ** 20;
}

/** Highest RSS seen by sampling every 20 ms (a cross-check of VmHWM). */
let sampledPeakRss = 0;
const sampler = setInterval(() => {
  sampledPeakRss = Math.max(sampledPeakRss, process.memoryUsage.rss());
}, 20);
sampler.unref();

async function run(task: ChildTask): Promise<ChildResult> {
  const source = new NutcacheClient({
    baseUrl: task.sandboxUrl,
    organizationGuid: task.organizationGuid,
    credentials: task.credentials,
    // The sandbox enforces no rate limit in the benchmark; the client's limiter must not slow it either.
    rateLimit: new SlidingWindowLimiter({ perSecond: 100_000, perMinute: 1_000_000 }),
  });
  const baselineRssMb = process.memoryUsage.rss() / 2 ** 20;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const cpuMs = () => {
    const used = process.cpuUsage(cpuStart);
    return (used.user + used.system) / 1000;
  };

  if (task.kind === 'fetch') {
    // The baseline: list and parse every page, no diffing, no store, no bus.
    let customers = 0;
    let pages = 0;
    for await (const page of source.listCustomers()) {
      pages += 1;
      for (const record of page.records) if (record.ok) customers += 1;
    }
    return {
      ok: true,
      wallMs: performance.now() - started,
      cpuMs: cpuMs(),
      customers,
      pages,
      nutcacheRequests: source.requestCount,
      baselineRssMb,
      peakRssMb: peakRssMb(),
      sampledPeakRssMb: Math.max(sampledPeakRss, process.memoryUsage.rss()) / 2 ** 20,
    };
  }

  const dynamo = new DynamoDBClient({
    endpoint: task.dynamoEndpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const store = new DynamoSnapshotStore({ client: createDocumentClient(dynamo), tableName: task.tableName });
  const bus = new CountingBus();
  const result = await runPoll(
    {
      source,
      store,
      bus,
      deadLetters: refusingDeadLetters,
      clock: systemClock,
      log: silent,
      metrics: noMetrics,
    },
    { organizationGuid: task.organizationGuid },
  );
  const wallMs = performance.now() - started;
  const cpu = cpuMs();
  dynamo.destroy();
  return {
    ok: result.outcome === 'success',
    ...(result.error ? { error: result.error } : {}),
    wallMs,
    cpuMs: cpu,
    customers: result.counts.customersListed,
    pages: result.counts.pages,
    nutcacheRequests: result.nutcacheRequests,
    baselineRssMb,
    peakRssMb: peakRssMb(),
    sampledPeakRssMb: Math.max(sampledPeakRss, process.memoryUsage.rss()) / 2 ** 20,
    dynamo: store.stats as ChildResult['dynamo'] & object,
    putEventsCalls: bus.calls,
    eventsPublished: bus.entries,
    eventsByType: bus.byDetailType,
    snapshotsCommitted: result.counts.committed,
    outcome: result.outcome,
    counts: { ...result.counts },
  };
}

process.once('message', (task: ChildTask) => {
  run(task).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      process.send?.(
        {
          ok: false,
          error: message,
          wallMs: 0,
          customers: 0,
          pages: 0,
          nutcacheRequests: 0,
          baselineRssMb: 0,
          peakRssMb: 0,
        },
        () => process.exit(1),
      );
    },
  );
});
