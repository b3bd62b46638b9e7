/**
 * Phase: list every customer, keeping only what differs from the index (new and changed customers, and the
 * unchanged ones a resync reports, except those it already sent). Stops early, without deciding any deletion, at the deadline, when the
 * request allowance is spent, or when the listing fails.
 */
import { type CanonicalCustomer, customerDigest } from '../../customer.ts';
import type { CustomerPage } from '../../nutcache/types.ts';
import { ObservedCustomers } from '../observed.ts';
import { mayContinue, nearDeadline, type PollRun, requestsSent, type Stop, stopReason } from '../poll-run.ts';
import { DEFAULT_MAX_RECORD_BYTES, errorMessage } from '../poll-types.ts';

/** What the poll observed of the organization's customers. */
export class Observations {
  /** Ids listed (or found still there by a deletion confirmation). */
  readonly seen = new Set<number>();
  /** Ids whose record is invalid or too large: quarantined, never deleted. */
  readonly invalidIds = new Set<number>();
  /** Customers new or changed. Each is observed at most once, so these only grow until drained. */
  readonly changed = new ObservedCustomers();
  /** Unchanged customers a resync reports as snapshots; a plain poll only counts them. */
  readonly resyncUnchanged = new ObservedCustomers();
  readonly #run: PollRun;
  readonly #index: ReadonlyMap<number, string>;
  readonly #sentByResync: ReadonlySet<number>;

  /** `sentByResync`: unchanged customers the resync has sent already (re-published from its journal). */
  constructor(run: PollRun, index: ReadonlyMap<number, string>, sentByResync: ReadonlySet<number>) {
    this.#run = run;
    this.#index = index;
    this.#sentByResync = sentByResync;
  }

  /** Compares one valid customer with the index. */
  observe(customer: CanonicalCustomer): void {
    const { counts, deps, runLog, options, mode } = this.#run;
    const { hash, bytes } = customerDigest(customer);
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (bytes > maxRecordBytes) {
      counts.invalid += 1;
      this.invalidIds.add(customer.id);
      deps.metrics.count('CustomersOversized');
      deps.log.warn('customer record too large to keep as a snapshot; left as it was', {
        ...runLog,
        customerId: customer.id,
        bytes,
        maxRecordBytes,
      });
      return;
    }
    if (this.#index.get(customer.id) === hash) {
      counts.unchanged += 1;
      if (mode === 'resync' && !this.#sentByResync.has(customer.id)) this.resyncUnchanged.add(customer, hash);
    } else {
      this.changed.add(customer, hash);
    }
  }
}

export interface Listing {
  readonly observations: Observations;
  /** Whether the listing reached its last page. */
  readonly complete: boolean;
  /** Why the listing stopped early. */
  readonly stop?: Stop;
}

/**
 * `sentByResync`: customers whose journaled event this poll re-published; a resync does not send them again
 * (they are unchanged since, and a second event would carry another id).
 */
export async function listCustomers(
  run: PollRun,
  index: ReadonlyMap<number, string>,
  sentByResync: ReadonlySet<number> = new Set(),
): Promise<Listing> {
  const observations = new Observations(run, index, sentByResync);
  const { source } = run.deps;
  const { counts, options } = run;
  try {
    for await (const page of source.listCustomers(options.pageLimit ? { limit: options.pageLimit } : {})) {
      counts.pages += 1;
      observePage(run, observations, page.records);
      options.onPage?.(counts.pages, counts.customersListed);
      if (nearDeadline(run)) return { observations, complete: false, stop: listingStopped(run, 'deadline') };
      if (page.last !== true && !(await mayContinue(run))) {
        return { observations, complete: false, stop: listingStopped(run, 'allowance') };
      }
    }
  } catch (listingError) {
    return { observations, complete: false, stop: listingFailed(run, listingError) };
  }
  return { observations, complete: true };
}

function observePage(run: PollRun, observations: Observations, records: CustomerPage['records']): void {
  const { counts, deps, runLog } = run;
  for (const record of records) {
    if (!record.ok) {
      counts.invalid += 1;
      if (record.id !== undefined) observations.invalidIds.add(record.id);
      deps.log.warn('invalid customer record left as it was', {
        ...runLog,
        customerId: record.id,
        reason: record.reason,
      });
      continue;
    }
    const id = record.customer.id;
    if (observations.seen.has(id)) {
      counts.duplicatesInListing += 1;
      continue;
    }
    observations.seen.add(id);
    counts.customersListed += 1;
    observations.observe(record.customer);
  }
}

function listingStopped(run: PollRun, why: 'deadline' | 'allowance'): Stop {
  const { deps, runLog } = run;
  if (why === 'deadline') {
    deps.log.warn(
      `${stopReason(run, 'deadline near')}: listing stopped early; no deletion is decided this poll`,
      runLog,
    );
    return { outcome: 'deadline' };
  }
  deps.log.warn('request allowance spent: listing stopped early; no deletion is decided this poll', {
    ...runLog,
    requestsSent: requestsSent(run),
  });
  return {
    outcome: 'partial',
    error: "the poll's request allowance (what is left of the API key's daily budget) is spent",
  };
}

function listingFailed(run: PollRun, listingError: unknown): Stop {
  run.deps.log.error('listing did not finish; publishing what was seen, deciding no deletion', {
    ...run.runLog,
    error: errorMessage(listingError),
  });
  return {
    outcome: 'partial',
    error: `listing failed: ${errorMessage(listingError)}`,
    failure: listingError,
  };
}
