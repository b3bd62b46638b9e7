/**
 * A poll run (the state the phases share) over in-memory ports, with its lease acquired, for the unit tests
 * of the poll's phases.
 */
import { LeaseKeeper } from '../../../shared/engine/lease-keeper.ts';
import { openRun, type PollRun } from '../../../shared/engine/poll-run.ts';
import type { PollOptions } from '../../../shared/engine/poll-types.ts';
import type { Log } from '../../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../../shared/publish/memory.ts';
import { InMemorySnapshotStore } from '../../../shared/store/memory.ts';
import { RecordingMetrics } from '../../../shared/util/metrics.ts';
import { TestClock } from '../../support/clock.ts';
import { FakeSource } from '../../support/fake-source.ts';

export const ORG = '846E176E-7C4B-4BFD-A894-C98F2988927E';
export const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export function ports() {
  const clock = new TestClock();
  return {
    clock,
    store: new InMemorySnapshotStore({ clock }),
    bus: new MemoryBus(),
    deadLetters: new MemoryDeadLetterSink(),
    metrics: new RecordingMetrics(),
    source: new FakeSource(),
    log: silent,
  };
}

export type Ports = ReturnType<typeof ports>;

/** Acquires the lease for a new poll and opens its run. */
export async function openTestRun(p: Ports, options: Partial<PollOptions> = {}): Promise<PollRun> {
  const startedAtMs = p.clock.now();
  const lease = await p.store.acquireLease(ORG, 'owner-1', 60_000);
  if (!lease.acquired) throw new Error('lease busy');
  const keeper = new LeaseKeeper(p.store, p.clock, p.log, {
    organizationGuid: ORG,
    owner: 'owner-1',
    ttlMs: 60_000,
    acquiredAtMs: startedAtMs,
    logContext: {},
  });
  const identity = {
    org: ORG,
    pollNumber: lease.pollNumber,
    pollId: `poll-${lease.pollNumber}`,
    mode: options.mode ?? 'poll',
    state: lease.state,
    startedAtMs,
    requestsAtStart: p.source.requestCount,
  };
  return openRun(p, { organizationGuid: ORG, ...options }, identity, keeper);
}
