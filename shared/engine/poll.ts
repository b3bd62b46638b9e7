/**
 * One poll of one organization: list every customer, compare with the committed snapshots, publish the
 * changes, then commit them. Pure orchestration over ports (shared/ports.ts): it runs unchanged in the
 * Lambda, in the CLI, in the benchmark and in tests.
 *
 * The guarantees and how they are kept:
 * - No change is lost. Events are written to a journal before they are published, and a snapshot is
 *   committed only after its event was accepted by the bus. A poll that finds a journal left by an earlier
 *   poll (a crash, a failed delivery, a parked resync) first re-publishes it (same eventIds, same payload)
 *   and commits it, so whatever consumers may have seen becomes the baseline of the next comparison.
 * - No false change. Customers missing from the listing are only deletion candidates: each is confirmed
 *   with `GET customers/{id}` (404 = deleted), only after a complete listing, and never beyond the
 *   mass-deletion guard. Records are normalised (key casing) before hashing and comparing.
 * - Duplicates are recognisable: eventIds are deterministic (organization, customer, poll number, type).
 *   A resync whose delivery fails journals the rest of its events, and a customer re-published from the
 *   journal is done for that resync: its continuation never sends it again under another id.
 * - Order: every event of a poll carries the poll number as `sequence`; poll numbers are handed out
 *   atomically with the lease, so sequences only ever increase per customer, across crashes and reruns.
 */
import { randomUUID } from 'node:crypto';
import type { LeaseResult } from '../ports.ts';
import { JournalPublishCommit } from './journal-publish-commit.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { confirmDeletions, heldStop } from './phases/confirm-deletions.ts';
import { deliver } from './phases/deliver.ts';
import { finish } from './phases/finish.ts';
import { listCustomers } from './phases/list-customers.ts';
import { planChanges, priorIdsNeeded } from './phases/plan-changes.ts';
import { recoverJournal } from './phases/recover-journal.ts';
import { openRun, type PollRun, type Stop } from './poll-run.ts';
import {
  DEFAULT_MAX_EVENT_BYTES,
  errorMessage,
  type PollDependencies,
  type PollOptions,
  type PollResult,
  resultOfNoRun,
} from './poll-types.ts';
import { PriorSnapshots } from './prior.ts';

export {
  type PollDependencies,
  type PollOptions,
  type PollResult,
  resultOfNoRun,
} from './poll-types.ts';

/**
 * Runs one poll: acquire the lease → recover the journal → list → confirm deletions → plan changes →
 * deliver → finish. Never throws for expected conditions (busy lease, deadline, Nutcache or bus failures):
 * they are reported in the result's `outcome`. Throws only for programming errors and for faults of the
 * store that leave nothing safe to report (the next poll recovers from the journal).
 */
export async function runPoll(deps: PollDependencies, options: PollOptions): Promise<PollResult> {
  const { store, clock, log, source } = deps;
  const org = options.organizationGuid;
  const owner = options.owner ?? randomUUID();
  const leaseTtlMs = options.leaseTtlMs ?? 60_000;
  const startedAtMs = clock.now();
  const requestsAtStart = source.requestCount;
  const throttledAtStart = source.throttledCount ?? 0;

  const lease = await store.acquireLease(org, owner, leaseTtlMs);
  if (!lease.acquired) return busy(deps, options, lease, startedAtMs);

  // A resync cut short (deadline, failure) stays requested in the organization's state, and the next
  // poll carries it on.
  const mode = options.mode ?? (lease.state.resyncRequested ? 'resync' : 'poll');
  const pollNumber = lease.pollNumber;
  const pollId = options.pollId ?? `${pollNumber}-${randomUUID().slice(0, 8)}`;
  const runLog = { organizationGuid: org, pollId, pollNumber, mode };
  const keeper = new LeaseKeeper(store, clock, log, {
    organizationGuid: org,
    owner,
    ttlMs: leaseTtlMs,
    acquiredAtMs: startedAtMs,
    logContext: runLog,
  });
  const identity = { org, pollNumber, pollId, mode, state: lease.state, startedAtMs, requestsAtStart };
  const run = openRun(deps, options, identity, keeper);
  log.info('poll started', runLog);

  keeper.start();
  const progress: Progress = { listingComplete: false };
  let stop: Stop | undefined;
  try {
    stop = await runPhases(run, progress);
  } catch (caught) {
    const error = errorMessage(caught);
    log.error('poll failed', { ...runLog, error });
    stop = { outcome: 'failed', error, failure: caught };
  } finally {
    keeper.stop();
  }
  return finish(run, {
    outcome: 'success',
    ...stop,
    listingComplete: progress.listingComplete,
    throttledAtStart,
    owner,
  });
}

/** How far the phases got, kept when one of them throws. */
interface Progress {
  listingComplete: boolean;
}

/** Recover → list → confirm deletions → plan → deliver, then mark the organization's state. */
async function runPhases(run: PollRun, progress: Progress): Promise<Stop | undefined> {
  const { deps, org, mode, state } = run;
  if (mode === 'resync' && !state.resyncRequested)
    await deps.store.updateOrgState(org, { resyncRequested: true });
  const index = await deps.store.loadIndex(org);
  const delivery = new JournalPublishCommit(run, index);

  const recoveryStop = await recoverJournal(run, delivery);
  if (recoveryStop) return recoveryStop;

  const listing = await listCustomers(run, index, delivery.recovered);
  progress.listingComplete = listing.complete;
  const { observations } = listing;
  const confirmedAbsent = listing.complete ? await confirmDeletions(run, index, observations) : [];

  const before = new PriorSnapshots(priorIdsNeeded(observations.changed, index, confirmedAbsent), (ids) =>
    deps.store.getSnapshots(org, ids),
  );
  const plan = planChanges({
    ctx: run.ctx,
    mode,
    firstPoll: !state.initialized,
    initialEvents: run.options.initialEvents ?? 'snapshot',
    changed: observations.changed,
    resyncUnchanged: observations.resyncUnchanged,
    confirmedAbsent,
    prior: (id) => before.get(id),
    maxEntryBytes: run.options.maxEntryBytes ?? DEFAULT_MAX_EVENT_BYTES,
    log: deps.log,
    metrics: deps.metrics,
    logContext: run.runLog,
  });
  if (mode === 'resync' && !listing.complete) {
    deps.log.warn('resync did not see every customer; it stays requested', run.runLog);
  }
  const delivered = await deliver(run, plan, delivery);
  const stop = mergeStops(listing.stop, delivered);
  if (!stop && listing.complete) await markCommitted(run);
  else if (listing.complete && delivered?.restJournaled) await markResyncJournaled(run);
  return stop ?? heldStop(run);
}

/** A later stop sets the outcome; what it does not report (error, failure) is kept from the earlier one. */
function mergeStops(first: Stop | undefined, second: Stop | undefined): Stop | undefined {
  if (!first || !second) return second ?? first;
  return {
    ...first,
    outcome: second.outcome,
    ...(second.error !== undefined ? { error: second.error } : {}),
    ...('failure' in second ? { failure: second.failure } : {}),
  };
}

/** Everything was listed and committed: the organization is initialized and a requested resync is done. */
async function markCommitted(run: PollRun): Promise<void> {
  await run.deps.store.updateOrgState(run.org, {
    initialized: true,
    lastPages: run.counts.pages,
    lastSuccessAt: new Date(run.deps.clock.now()).toISOString(),
    ...(run.mode === 'resync' ? { resyncRequested: false } : {}),
  });
}

/**
 * A resync listed everyone and journaled every event it could not deliver: the next poll delivers them from
 * the journal (same eventIds), which finishes the resync, so it is no longer requested.
 */
async function markResyncJournaled(run: PollRun): Promise<void> {
  await run.deps.store.updateOrgState(run.org, { resyncRequested: false });
}

function busy(
  deps: PollDependencies,
  options: PollOptions,
  lease: Extract<LeaseResult, { acquired: false }>,
  startedAtMs: number,
): PollResult {
  deps.metrics.count('PollBusy');
  deps.log.info('another poll of this organization holds the lease; exiting', {
    organizationGuid: options.organizationGuid,
    leaseHolder: lease.holder,
    leaseExpiresAt: new Date(lease.expiresAt).toISOString(),
  });
  return {
    ...resultOfNoRun(options, 'busy', deps.clock.now() - startedAtMs),
    busyUntil: lease.expiresAt,
  };
}
