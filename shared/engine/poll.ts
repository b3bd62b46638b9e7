/**
 * One poll of one organization: list every customer, compare with the committed snapshots, publish the
 * changes, then commit them. Pure orchestration over ports (shared/ports.ts): it runs unchanged in the
 * Lambda, in the CLI, in the benchmark and in tests.
 *
 * The guarantees and how they are kept:
 * - No change is lost. Events are written to a journal before they are published, and a snapshot is
 *   committed only after its event was accepted by the bus. A poll that finds a journal left by a crashed
 *   poll first re-publishes it (same eventIds, same payload) and commits it, so whatever consumers may
 *   have seen becomes the baseline of the next comparison.
 * - No false change. Customers missing from the listing are only deletion candidates: each is confirmed
 *   with `GET customers/{id}` (404 = deleted), only after a complete listing, and never beyond the
 *   mass-deletion guard. Records are normalised (key casing) before hashing and comparing.
 * - Duplicates are recognisable: eventIds are deterministic (organization, customer, poll number, type).
 * - Order: every event of a poll carries the poll number as `sequence`; poll numbers are handed out
 *   atomically with the lease, so sequences only ever increase per customer, across crashes and reruns.
 */
import { randomUUID } from 'node:crypto';
import { type CanonicalCustomer, customerDigest } from '../customer.ts';
import {
  type BusEvent,
  type ChangeType,
  type CustomerChangeDetail,
  DEFAULT_EVENT_SOURCE,
} from '../events/contract.ts';
import type { CustomerSource } from '../nutcache/types.ts';
import type {
  Clock,
  DeadLetterSink,
  EventBus,
  JournalEntry,
  Log,
  MetricsSink,
  RunRecord,
  SnapshotStore,
  StoredSnapshot,
} from '../ports.ts';
import { type PublishOutcome, publishEvents } from '../publish/reliable.ts';
import { entrySize, reduceOversizedEvent, toBusEntry } from '../publish/serialize.ts';
import { buildChangeEvent, buildMassDeletionEvent, type ChangeContext } from './events.ts';
import { type Observed, ObservedCustomers } from './observed.ts';
import { PriorSnapshots } from './prior.ts';

export interface PollDependencies {
  readonly source: CustomerSource;
  readonly store: SnapshotStore;
  readonly bus: EventBus;
  readonly deadLetters: DeadLetterSink;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: MetricsSink;
}

export interface MassDeletionGuard {
  /** Hold deletions when more than this share of the known customers would be deleted… */
  readonly ratio: number;
  /** …and more than this many. */
  readonly minimum: number;
}

export interface PollOptions {
  readonly organizationGuid: string;
  /** `resync` also emits a `Customer Snapshot` event for every unchanged customer. */
  readonly mode?: 'poll' | 'resync';
  /** What the first poll of an organization emits for the customers it finds (default `snapshot`). */
  readonly initialEvents?: 'snapshot' | 'none';
  /** Lets deletions held by the mass-deletion guard through. */
  readonly allowMassDeletion?: boolean;
  readonly massDeletionGuard?: MassDeletionGuard;
  /** Epoch ms by which the poll must have stopped (e.g. the Lambda's remaining time). */
  readonly deadline?: number;
  /** Time kept free before the deadline to publish and commit what was found (default 10 s). */
  readonly deadlineReserveMs?: number;
  /** `source` of published events. */
  readonly eventSource?: string;
  readonly pollId?: string;
  /** Lease owner id (default: a random UUID per poll). */
  readonly owner?: string;
  /** Lease duration; renewed every third of it while the poll runs (default 60 s). */
  readonly leaseTtlMs?: number;
  /** Page size of the listing (default 100). */
  readonly pageLimit?: number;
  /** Events journaled, published and committed together (default 500). */
  readonly chunkSize?: number;
  /** Events larger than this (default DEFAULT_MAX_EVENT_BYTES) are reduced before journaling. */
  readonly maxEntryBytes?: number;
  /**
   * Largest customer record kept as a snapshot, in bytes of JSON (default 256 KB, so a snapshot and its
   * journal entry always fit a 400 KB DynamoDB item). A larger record is quarantined like an invalid one.
   */
  readonly maxRecordBytes?: number;
  /**
   * Nutcache requests this poll may send (e.g. what is left of the API key's daily budget). The listing
   * stops when it is spent (no deletion is decided), and so do deletion confirmations; the rest waits for
   * the next poll.
   */
  readonly requestAllowance?: number;
  /**
   * Asked before each further page and each deletion confirmation, with the requests sent so far: false
   * stops there like a spent `requestAllowance` (the poller service reserves more of the daily budget
   * through it, so polls sharing an API key never spend more than the budget between them).
   */
  readonly budgetGate?: (requestsSoFar: number) => Promise<boolean>;
  /** Called for each listed page (progress reporting). */
  readonly onPage?: (pageNumber: number, customersSoFar: number) => void;
}

export type PollOutcome = RunRecord['outcome'];

export interface PollCounts {
  created: number;
  updated: number;
  deleted: number;
  snapshot: number;
  unchanged: number;
  invalid: number;
  duplicatesInListing: number;
  deletionCandidates: number;
  deletionsConfirmedAbsent: number;
  deletionsHeld: number;
  deletionsUnconfirmed: number;
  recoveredFromJournal: number;
  published: number;
  deadLettered: number;
  publishFailed: number;
  committed: number;
  pages: number;
  customersListed: number;
}

export interface PollResult {
  readonly outcome: PollOutcome;
  readonly organizationGuid: string;
  readonly pollId: string;
  readonly pollNumber: number;
  readonly counts: PollCounts;
  readonly nutcacheRequests: number;
  readonly durationMs: number;
  /** The events this poll got accepted by the bus (recovered ones included), in publishing order. */
  readonly publishedEventIds: string[];
  /** Whether the listing reached its last page. */
  readonly listingComplete: boolean;
  /** Set when the lease was held by another poll. */
  readonly busyUntil?: number;
  readonly error?: string;
  /** The error behind `error`, for callers that react to its type (e.g. refresh credentials after a 401). */
  readonly failure?: unknown;
}

export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;
/**
 * Largest event the engine publishes whole: EventBridge takes 256 KB entries, but a rule target receives
 * the event inside an envelope (id, account, region, time…) and an SQS target holds 256 KB messages, so
 * 2 KB are kept free for it. A larger event is reduced (`truncated: true`).
 */
export const DEFAULT_MAX_EVENT_BYTES = 254 * 1024;
const DEFAULT_GUARD: MassDeletionGuard = { ratio: 0.25, minimum: 5 };

/** Raised when the poll's lease was lost (expired and taken by another poll); nothing more is committed. */
export class LeaseLostError extends Error {
  constructor(organizationGuid: string) {
    super(`lease of organization ${organizationGuid} was lost; stopping without committing`);
    this.name = 'LeaseLostError';
  }
}

/** Raised when a listing has spent the poll's request allowance (the API key's daily budget). */
class AllowanceSpent extends Error {
  constructor() {
    super("the poll's request allowance (what is left of the API key's daily budget) is spent");
    this.name = 'AllowanceSpent';
  }
}

/** Raised when a poll stops early because its deadline is near. */
class DeadlineReached extends Error {
  constructor() {
    super('deadline reached');
    this.name = 'DeadlineReached';
  }
}

export function emptyCounts(): PollCounts {
  return {
    created: 0,
    updated: 0,
    deleted: 0,
    snapshot: 0,
    unchanged: 0,
    invalid: 0,
    duplicatesInListing: 0,
    deletionCandidates: 0,
    deletionsConfirmedAbsent: 0,
    deletionsHeld: 0,
    deletionsUnconfirmed: 0,
    recoveredFromJournal: 0,
    published: 0,
    deadLettered: 0,
    publishFailed: 0,
    committed: 0,
    pages: 0,
    customersListed: 0,
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Runs one poll. Never throws for expected conditions (busy lease, deadline, Nutcache or bus failures):
 * they are reported in the result's `outcome`. Throws only for programming errors and for faults of the
 * store that leave nothing safe to report (the next poll recovers from the journal).
 */
export async function runPoll(deps: PollDependencies, options: PollOptions): Promise<PollResult> {
  const { store, clock, log, metrics, source } = deps;
  const org = options.organizationGuid;
  const owner = options.owner ?? randomUUID();
  const leaseTtlMs = options.leaseTtlMs ?? 60_000;
  const startedAtMs = clock.now();
  const requestsAtStart = source.requestCount;
  const throttledAtStart = source.throttledCount ?? 0;
  /** Whether the poll may send more requests (its allowance and budget gate). */
  const mayContinue = async (): Promise<boolean> => {
    const sent = source.requestCount - requestsAtStart;
    if (options.requestAllowance !== undefined && sent >= options.requestAllowance) return false;
    return options.budgetGate ? options.budgetGate(sent) : true;
  };
  const counts = emptyCounts();
  const publishedEventIds: string[] = [];
  let mode: 'poll' | 'resync' = options.mode ?? 'poll';

  const lease = await store.acquireLease(org, owner, leaseTtlMs);
  if (!lease.acquired) {
    metrics.count('PollBusy');
    log.info('another poll of this organization holds the lease; exiting', {
      organizationGuid: org,
      leaseHolder: lease.holder,
      leaseExpiresAt: new Date(lease.expiresAt).toISOString(),
    });
    return {
      outcome: 'busy',
      organizationGuid: org,
      pollId: options.pollId ?? '',
      pollNumber: 0,
      counts,
      nutcacheRequests: 0,
      durationMs: clock.now() - startedAtMs,
      publishedEventIds,
      listingComplete: false,
      busyUntil: lease.expiresAt,
    };
  }

  // A resync cut short (deadline, failure) stays requested in the organization's state, and the next
  // poll carries it on.
  if (options.mode === undefined && lease.state.resyncRequested) mode = 'resync';
  const pollNumber = lease.pollNumber;
  const pollId = options.pollId ?? `${pollNumber}-${randomUUID().slice(0, 8)}`;
  const ctx: ChangeContext = {
    organizationGuid: org,
    source: options.eventSource ?? DEFAULT_EVENT_SOURCE,
    pollId,
    sequence: pollNumber,
    observedAt: new Date(startedAtMs).toISOString(),
  };
  const runLog = { organizationGuid: org, pollId, pollNumber, mode };
  log.info('poll started', runLog);

  // The lease is renewed in the background (real time) and checked before every publish and commit.
  // The lease is only trusted until `leaseConfirmedUntil`: the start of the last successful acquisition or
  // renewal plus its duration. A renewal that fails (throttling, network) does not extend it, so a poll cut
  // off from the store stops before another poll can have taken over.
  let leaseLost = false;
  let leaseConfirmedUntil = startedAtMs + leaseTtlMs;
  const renew = async (): Promise<void> => {
    if (leaseLost) return;
    const attemptedAt = clock.now();
    try {
      const ok = await store.renewLease(org, owner, leaseTtlMs);
      if (ok) leaseConfirmedUntil = attemptedAt + leaseTtlMs;
      else leaseLost = true;
    } catch (error) {
      log.warn('lease renewal failed; will retry', { ...runLog, error: errorMessage(error) });
    }
  };
  const timer = setInterval(() => void renew(), Math.max(1_000, Math.floor(leaseTtlMs / 3)));
  timer.unref();
  const checkpoint = async (): Promise<void> => {
    // Renew when less than two thirds of the lease are left; give up when less than a third is.
    if (leaseConfirmedUntil - clock.now() < (leaseTtlMs * 2) / 3) await renew();
    if (!leaseLost && leaseConfirmedUntil - clock.now() < leaseTtlMs / 3) leaseLost = true;
    if (leaseLost) throw new LeaseLostError(org);
  };

  const reserveMs = options.deadlineReserveMs ?? 10_000;
  const nearDeadline = (): boolean =>
    options.deadline !== undefined && clock.now() >= options.deadline - reserveMs;
  const pastDeadline = (): boolean => options.deadline !== undefined && clock.now() >= options.deadline;
  const publishOptions = {
    ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    ...(options.maxEntryBytes !== undefined ? { maxEntryBytes: options.maxEntryBytes } : {}),
  };

  let outcome: PollOutcome = 'success';
  let error: string | undefined;
  let failure: unknown;
  let listingComplete = false;

  // Snapshots are committed chunk by chunk, right after their events were accepted; the index and the
  // journal are settled once, at the end (`settle`): the index first, then the journal items whose every
  // event is committed. A crash before that leaves the journal, and the next poll re-publishes and
  // re-commits it, so the index is never behind a snapshot a consumer may have seen once the journal is gone.
  const touched = new Set<number>();
  const settledJournalKeys: string[] = [];

  /** Journal → publish → commit for one chunk of events. Returns false when something could not be committed. */
  const publishAndCommit = async (
    entries: readonly JournalEntry[],
    index: Map<number, string>,
  ): Promise<boolean> => {
    if (entries.length === 0) return true;
    await checkpoint();
    const journalKeys = await store.writeJournal(org, pollNumber, entries);
    return publishJournaled(entries, journalKeys, index);
  };

  const publishJournaled = async (
    entries: readonly JournalEntry[],
    journalKeys: readonly string[],
    index: Map<number, string>,
    recovered = false,
  ): Promise<boolean> => {
    const outcomeOfPublish: PublishOutcome = await publishEvents(
      entries.map((e) => e.event),
      { bus: deps.bus, deadLetters: deps.deadLetters, clock, log, metrics },
      publishOptions,
    );
    publishedEventIds.push(...outcomeOfPublish.published);
    counts.published += outcomeOfPublish.published.length;
    counts.deadLettered += outcomeOfPublish.deadLettered.length;
    counts.publishFailed += outcomeOfPublish.failed.length;
    // Dead-lettered events are committed too: they can never be published, they are kept in the
    // dead-letter store, and re-detecting them every poll would only dead-letter them again.
    const settled = new Set([
      ...outcomeOfPublish.published,
      ...outcomeOfPublish.deadLettered.map((d) => d.eventId),
    ]);
    const puts: StoredSnapshot[] = [];
    const deletes: number[] = [];
    for (const entry of entries) {
      if (!settled.has(entry.event.detail.eventId)) continue;
      // Counted once settled, so a poll cut short reports what it really delivered.
      if (!recovered && 'changeType' in entry.event.detail) counts[entry.event.detail.changeType] += 1;
      if (entry.snapshot === null) {
        if (index.has(entry.customerId)) deletes.push(entry.customerId);
        index.delete(entry.customerId);
        touched.add(entry.customerId);
      } else if (index.get(entry.customerId) !== entry.snapshot.hash) {
        // (a resync's snapshot of an unchanged customer needs no write)
        puts.push(entry.snapshot);
        index.set(entry.customerId, entry.snapshot.hash);
        touched.add(entry.customerId);
      }
    }
    await checkpoint();
    if (puts.length > 0 || deletes.length > 0) await store.commitSnapshots(org, puts, deletes);
    counts.committed += puts.length + deletes.length;
    if (outcomeOfPublish.failed.length > 0) {
      // Keep the journal: the failed events may still have reached the bus, so the next poll re-publishes
      // them with the same ids before it compares anything.
      log.warn('some events could not be published; they stay journaled for the next poll', {
        ...runLog,
        failed: outcomeOfPublish.failed.length,
        errorCodes: [...new Set(outcomeOfPublish.failed.map((f) => f.errorCode))],
      });
      return false;
    }
    settledJournalKeys.push(...journalKeys);
    return true;
  };

  /** Writes the index parts holding what this poll committed, then deletes the settled journal items. */
  const settle = async (index: Map<number, string>): Promise<void> => {
    if (touched.size === 0 && settledJournalKeys.length === 0) return;
    await checkpoint();
    if (touched.size > 0) await store.commitIndex(org, index, touched);
    touched.clear();
    if (settledJournalKeys.length > 0) await store.deleteJournal(org, settledJournalKeys);
    settledJournalKeys.length = 0;
  };

  try {
    const state = lease.state;
    if (mode === 'resync' && !state.resyncRequested)
      await store.updateOrgState(org, { resyncRequested: true });
    const index = await store.loadIndex(org);

    // 1. Finish what a crashed poll left in flight.
    const journal = await store.loadJournal(org);
    for (const batch of journal) {
      if (nearDeadline()) {
        // Keep what was recovered so far: the next poll carries on with the batches left.
        outcome = 'deadline';
        await settle(index);
        throw new RecoveryIncomplete();
      }
      counts.recoveredFromJournal += batch.entries.length;
      log.info('re-publishing events journaled by an unfinished poll', {
        ...runLog,
        journalKey: batch.key,
        events: batch.entries.length,
      });
      await checkpoint();
      const ok = await publishJournaled(batch.entries, [batch.key], index, true);
      if (!ok) {
        outcome = 'partial';
        error = 'events journaled by an earlier poll could not all be published';
        await settle(index);
        throw new RecoveryIncomplete();
      }
    }

    // 2. List every customer, keeping only what differs from the index.
    const seen = new Set<number>();
    const invalidIds = new Set<number>();
    // Each customer is observed at most once (`seen`), so these only ever grow until they are drained.
    const changed = new ObservedCustomers();
    /** Unchanged customers a resync reports as snapshots; a plain poll only counts them. */
    const resyncUnchanged = new ObservedCustomers();
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const observe = (customer: CanonicalCustomer): void => {
      const { hash, bytes } = customerDigest(customer);
      if (bytes > maxRecordBytes) {
        counts.invalid += 1;
        invalidIds.add(customer.id);
        metrics.count('CustomersOversized');
        log.warn('customer record too large to keep as a snapshot; left as it was', {
          ...runLog,
          customerId: customer.id,
          bytes,
          maxRecordBytes,
        });
        return;
      }
      if (index.get(customer.id) === hash) {
        counts.unchanged += 1;
        if (mode === 'resync') resyncUnchanged.add(customer, hash);
      } else {
        changed.add(customer, hash);
      }
    };
    try {
      for await (const page of source.listCustomers(options.pageLimit ? { limit: options.pageLimit } : {})) {
        counts.pages += 1;
        for (const record of page.records) {
          if (!record.ok) {
            counts.invalid += 1;
            if (record.id !== undefined) invalidIds.add(record.id);
            log.warn('invalid customer record left as it was', {
              ...runLog,
              customerId: record.id,
              reason: record.reason,
            });
            continue;
          }
          const id = record.customer.id;
          if (seen.has(id)) {
            counts.duplicatesInListing += 1;
            continue;
          }
          seen.add(id);
          counts.customersListed += 1;
          observe(record.customer);
        }
        options.onPage?.(counts.pages, counts.customersListed);
        if (nearDeadline()) throw new DeadlineReached();
        if (page.last !== true && !(await mayContinue())) throw new AllowanceSpent();
      }
      listingComplete = true;
    } catch (listingError) {
      if (listingError instanceof DeadlineReached) {
        outcome = 'deadline';
        log.warn('deadline near: listing stopped early; no deletion is decided this poll', runLog);
      } else if (listingError instanceof AllowanceSpent) {
        outcome = 'partial';
        error = listingError.message;
        log.warn('request allowance spent: listing stopped early; no deletion is decided this poll', {
          ...runLog,
          requestsSent: source.requestCount - requestsAtStart,
        });
      } else {
        outcome = 'partial';
        error = `listing failed: ${errorMessage(listingError)}`;
        failure = listingError;
        log.error('listing did not finish; publishing what was seen, deciding no deletion', {
          ...runLog,
          error: errorMessage(listingError),
        });
      }
    }

    // 3. Deletion candidates: known, not listed, not quarantined. Only after a complete listing.
    const confirmedAbsent: number[] = [];
    if (listingComplete) {
      const candidates = [...index.keys()].filter((id) => !seen.has(id) && !invalidIds.has(id));
      counts.deletionCandidates = candidates.length;
      const guard = options.massDeletionGuard ?? DEFAULT_GUARD;
      const massDeletion = candidates.length > guard.minimum && candidates.length > guard.ratio * index.size;
      if (massDeletion && !options.allowMassDeletion) {
        counts.deletionsHeld = candidates.length;
        metrics.count('MassDeletionHeld', candidates.length);
        log.error('mass deletion held: too many known customers are missing from the listing', {
          ...runLog,
          missing: candidates.length,
          known: index.size,
        });
        const anomaly = buildMassDeletionEvent(ctx, candidates, index.size);
        await checkpoint();
        const anomalyOutcome = await publishEvents(
          [anomaly],
          { bus: deps.bus, deadLetters: deps.deadLetters, clock, log, metrics },
          publishOptions,
        );
        publishedEventIds.push(...anomalyOutcome.published);
        counts.published += anomalyOutcome.published.length;
      } else {
        let stopConfirming: string | undefined;
        for (const id of candidates) {
          if (!stopConfirming && nearDeadline()) stopConfirming = 'the deadline is near';
          if (!stopConfirming && !(await mayContinue())) stopConfirming = 'the request allowance is spent';
          if (stopConfirming) {
            counts.deletionsUnconfirmed += 1;
            continue;
          }
          try {
            const found = await source.getCustomer(id);
            if (found === null) {
              confirmedAbsent.push(id);
            } else if (found.ok) {
              // Still there: it was skipped by a page shift. Compare it like any listed customer.
              seen.add(id);
              observe(found.customer);
            } else {
              invalidIds.add(id);
              counts.invalid += 1;
            }
          } catch (lookupError) {
            counts.deletionsUnconfirmed += 1;
            log.warn('could not confirm a deletion; it waits for the next poll', {
              ...runLog,
              customerId: id,
              error: errorMessage(lookupError),
            });
            // Throttled or refused: asking again for every other candidate would only make it worse.
            const status = (lookupError as { status?: unknown }).status;
            if (status === 429 || status === 401 || status === 403)
              stopConfirming = `Nutcache answered ${status}`;
          }
        }
        if (stopConfirming) {
          log.warn('deletion confirmations stopped; the rest wait for the next poll', {
            ...runLog,
            reason: stopConfirming,
            unconfirmed: counts.deletionsUnconfirmed,
          });
        }
        counts.deletionsConfirmedAbsent = confirmedAbsent.length;
      }
    }

    // 4. Plan the events. Full snapshots are read only for customers that changed or went away, group by
    // group as the plan reaches them. Events are built lazily, chunk by chunk, so a large initial load
    // never holds all of them in memory.
    const needBefore = [...changed.ids()].filter((id) => index.has(id));
    needBefore.push(...confirmedAbsent);
    const before = new PriorSnapshots(needBefore, (ids) => store.getSnapshots(org, ids));
    const firstPoll = !state.initialized;
    const silentInitialLoad = firstPoll && (options.initialEvents ?? 'snapshot') === 'none';
    /** Snapshot writes that need no event (an initial load without events, an index behind its snapshot). */
    const silentPuts: StoredSnapshot[] = [];
    const silentDeletes: number[] = [];
    const snapshotOf = (o: Observed): StoredSnapshot => ({
      customerId: o.customer.id,
      hash: o.hash,
      record: o.customer,
      sequence: pollNumber,
    });
    const maxEntryBytes = options.maxEntryBytes ?? DEFAULT_MAX_EVENT_BYTES;
    /** An event too large for the bus is reduced now, so what is journaled is exactly what is published. */
    const fitted = (event: BusEvent): BusEvent => {
      if (entrySize(toBusEntry(event)) <= maxEntryBytes) return event;
      const reduced = reduceOversizedEvent(event, maxEntryBytes);
      if (!reduced) return event; // the publisher dead-letters it
      metrics.count('EventsTruncated');
      log.warn('event too large for the bus: before/after left out (truncated: true)', {
        ...runLog,
        eventId: event.detail.eventId,
      });
      return reduced.event;
    };
    const entryOf = (
      changeType: ChangeType,
      prior: CanonicalCustomer | null,
      now: Observed | null,
    ): JournalEntry => {
      const event = fitted(buildChangeEvent(ctx, changeType, prior, now?.customer ?? null));
      const customerId = (now?.customer ?? prior)?.id as number;
      return { customerId, event, snapshot: now ? snapshotOf(now) : null };
    };
    /** Yields each event to publish; `null` after each silent write, so the caller can flush those too. */
    async function* plan(): AsyncGenerator<JournalEntry | null> {
      for (const observed of changed.drain()) {
        const id = observed.customer.id;
        const prior = await before.get(id);
        if (!prior) {
          if (silentInitialLoad) {
            silentPuts.push(snapshotOf(observed));
            yield null;
          } else {
            yield entryOf(firstPoll ? 'snapshot' : 'created', null, observed);
          }
          continue;
        }
        if (prior.hash === observed.hash) {
          // The index was behind its snapshot (nothing a consumer has not seen): repair the index only.
          if (mode === 'resync') yield entryOf('snapshot', null, observed);
          else {
            silentPuts.push(snapshotOf(observed));
            yield null;
          }
          continue;
        }
        const event = buildChangeEvent(ctx, 'updated', prior.record, observed.customer);
        if ((event.detail as CustomerChangeDetail).changedFields.length === 0) {
          silentPuts.push(snapshotOf(observed));
          yield null;
          continue;
        }
        yield { customerId: id, event: fitted(event), snapshot: snapshotOf(observed) };
      }
      for (const observed of resyncUnchanged.drain()) yield entryOf('snapshot', null, observed);
      for (const id of confirmedAbsent) {
        const prior = await before.get(id);
        if (prior) yield entryOf('deleted', prior.record, null);
        else {
          silentDeletes.push(id); // an index entry without its snapshot: drop it
          yield null;
        }
      }
    }
    if (mode === 'resync' && !listingComplete) {
      log.warn('resync did not see every customer; it stays requested', runLog);
    }

    // 5. Journal, publish, commit: chunk by chunk, stopping at the deadline; then settle index and journal.
    const chunkSize = options.chunkSize ?? 500;
    const flushSilent = async (): Promise<void> => {
      if (silentPuts.length === 0 && silentDeletes.length === 0) return;
      await checkpoint();
      for (const p of silentPuts) {
        index.set(p.customerId, p.hash);
        touched.add(p.customerId);
      }
      for (const id of silentDeletes) {
        index.delete(id);
        touched.add(id);
      }
      await store.commitSnapshots(org, silentPuts, silentDeletes);
      counts.committed += silentPuts.length + silentDeletes.length;
      silentPuts.length = 0;
      silentDeletes.length = 0;
    };
    const flushChunk = async (chunk: readonly JournalEntry[]): Promise<boolean> => {
      if (chunk.length === 0) return true;
      if (pastDeadline()) {
        outcome = 'deadline';
        log.warn('deadline reached before every change was published; the rest is redone next poll', runLog);
        return false;
      }
      if (await publishAndCommit(chunk, index)) return true;
      outcome = 'partial';
      error = 'some events could not be published';
      return false;
    };
    let chunk: JournalEntry[] = [];
    let stopped = false;
    for await (const planned of plan()) {
      if (planned) chunk.push(planned);
      if (silentPuts.length + silentDeletes.length >= chunkSize) await flushSilent();
      if (chunk.length >= chunkSize) {
        if (!(await flushChunk(chunk))) {
          stopped = true;
          break;
        }
        chunk = [];
      }
    }
    if (!stopped) await flushChunk(chunk);
    await flushSilent();
    await settle(index);

    const everythingCommitted = outcome === 'success' && listingComplete;
    if (everythingCommitted) {
      await store.updateOrgState(org, {
        initialized: true,
        lastPages: counts.pages,
        lastSuccessAt: new Date(clock.now()).toISOString(),
        ...(mode === 'resync' ? { resyncRequested: false } : {}),
      });
    }
  } catch (caught) {
    if (caught instanceof DeadlineReached) {
      outcome = 'deadline';
    } else if (caught instanceof RecoveryIncomplete) {
      // outcome and error already set
    } else {
      outcome = 'failed';
      error = errorMessage(caught);
      failure = caught;
      log.error('poll failed', { ...runLog, error });
    }
  } finally {
    clearInterval(timer);
  }

  const finishedAtMs = clock.now();
  const nutcacheRequests = source.requestCount - requestsAtStart;
  const result: PollResult = {
    outcome,
    organizationGuid: org,
    pollId,
    pollNumber,
    counts,
    nutcacheRequests,
    durationMs: finishedAtMs - startedAtMs,
    publishedEventIds,
    listingComplete,
    ...(error !== undefined ? { error, failure } : {}),
  };
  recordMetrics(metrics, result);
  metrics.count('NutcacheThrottled', (source.throttledCount ?? 0) - throttledAtStart);
  const run: RunRecord = {
    pollId,
    pollNumber,
    organizationGuid: org,
    mode,
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: new Date(finishedAtMs).toISOString(),
    durationMs: result.durationMs,
    outcome,
    counts: { ...counts },
    nutcacheRequests,
    ...(error !== undefined ? { error } : {}),
  };
  try {
    await store.putRunRecord(run);
  } catch (runError) {
    log.warn('could not write the run record', { ...runLog, error: errorMessage(runError) });
  }
  try {
    await store.releaseLease(org, owner);
  } catch (releaseError) {
    log.warn('could not release the lease; it lapses by itself', {
      ...runLog,
      error: errorMessage(releaseError),
    });
  }
  const logLevel = outcome === 'success' ? 'info' : outcome === 'failed' ? 'error' : 'warn';
  log[logLevel]('poll finished', {
    ...runLog,
    outcome,
    counts,
    nutcacheRequests,
    durationMs: result.durationMs,
    error,
  });
  return result;
}

class RecoveryIncomplete extends Error {}

function recordMetrics(metrics: MetricsSink, result: PollResult): void {
  const c = result.counts;
  if (result.outcome === 'success') metrics.count('PollSucceeded');
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
