/**
 * Journal → publish → commit: where "no change is lost" is kept.
 *
 * Events are written to the journal before they are published, and a snapshot is committed only after its
 * event was accepted by the bus (or dead-lettered: it can never be published, it is kept in the dead-letter
 * store, and re-detecting it every poll would only dead-letter it again). Snapshots are committed chunk by
 * chunk, right after their events were accepted; the index and the journal are settled once, at the end
 * (`settle`): the index first, then the journal items whose every event is committed. A crash or a failed
 * delivery before that leaves the journal, and the next poll re-publishes and re-commits it (`redeliver`),
 * so the index is never behind a snapshot a consumer may have seen once the journal is gone.
 */
import type { JournalBatch, JournalEntry, StoredSnapshot } from '../ports.ts';
import { type PollRun, publish } from './poll-run.ts';

export class JournalPublishCommit {
  readonly #run: PollRun;
  readonly #index: Map<number, string>;
  /** Customer ids whose index entry changed since the last `settle`. */
  readonly #touched = new Set<number>();
  /** Journal items whose every event is committed, deleted by the next `settle`. */
  readonly #settledJournalKeys: string[] = [];
  /** Customers whose journaled event (left by an earlier poll) this poll re-published and committed. */
  readonly #recovered = new Set<number>();

  /** `index`: the organization's id → hash index, kept in line with every commit. */
  constructor(run: PollRun, index: Map<number, string>) {
    this.#run = run;
    this.#index = index;
  }

  /** Journals, publishes and commits one chunk of events. False when something could not be committed. */
  async deliver(entries: readonly JournalEntry[]): Promise<boolean> {
    if (entries.length === 0) return true;
    const { deps, org, pollNumber, lease } = this.#run;
    await lease.checkpoint();
    const journalKeys = await deps.store.writeJournal(org, pollNumber, entries);
    return this.#publishJournaled(entries, journalKeys, false);
  }

  /**
   * Journals a chunk without publishing it: the next poll delivers it from the journal (same eventIds)
   * before it compares anything. What is left of a resync after a failed delivery, so the resync's
   * continuation has nothing left to send again under other ids.
   */
  async park(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { deps, org, pollNumber, lease } = this.#run;
    await lease.checkpoint();
    await deps.store.writeJournal(org, pollNumber, entries);
  }

  /** Customers re-published from the journal and committed by this poll: a resync has sent them already. */
  get recovered(): ReadonlySet<number> {
    return this.#recovered;
  }

  /** Re-publishes and commits a batch an earlier poll journaled but did not finish (same eventIds, same payload). */
  async redeliver(batch: JournalBatch): Promise<boolean> {
    await this.#run.lease.checkpoint();
    return this.#publishJournaled(batch.entries, [batch.key], true);
  }

  /** Commits snapshot writes that need no event (an initial load without events, an index behind). */
  async commitSilent(puts: readonly StoredSnapshot[], deletes: readonly number[]): Promise<void> {
    if (puts.length === 0 && deletes.length === 0) return;
    await this.#run.lease.checkpoint();
    for (const p of puts) this.#setIndex(p.customerId, p.hash);
    for (const id of deletes) this.#deleteIndex(id);
    await this.#run.deps.store.commitSnapshots(this.#run.org, puts, deletes);
    this.#run.counts.committed += puts.length + deletes.length;
  }

  /** Writes the index parts holding what this poll committed, then deletes the settled journal items. */
  async settle(): Promise<void> {
    if (this.#touched.size === 0 && this.#settledJournalKeys.length === 0) return;
    const { deps, org, lease } = this.#run;
    await lease.checkpoint();
    if (this.#touched.size > 0) await deps.store.commitIndex(org, this.#index, this.#touched);
    this.#touched.clear();
    if (this.#settledJournalKeys.length > 0) await deps.store.deleteJournal(org, this.#settledJournalKeys);
    this.#settledJournalKeys.length = 0;
  }

  async #publishJournaled(
    entries: readonly JournalEntry[],
    journalKeys: readonly string[],
    recovered: boolean,
  ): Promise<boolean> {
    const { counts, deps, org, lease, runLog } = this.#run;
    const outcome = await publish(
      this.#run,
      entries.map((e) => e.event),
    );
    counts.deadLettered += outcome.deadLettered.length;
    counts.publishFailed += outcome.failed.length;
    const settled = new Set([...outcome.published, ...outcome.deadLettered.map((d) => d.eventId)]);
    const { puts, deletes } = this.#applySettled(entries, settled, recovered);
    await lease.checkpoint();
    if (puts.length > 0 || deletes.length > 0) await deps.store.commitSnapshots(org, puts, deletes);
    counts.committed += puts.length + deletes.length;
    if (outcome.failed.length > 0) {
      // Keep the journal: the failed events may still have reached the bus, so the next poll re-publishes
      // them with the same ids before it compares anything.
      deps.log.warn('some events could not be published; they stay journaled for the next poll', {
        ...runLog,
        failed: outcome.failed.length,
        errorCodes: [...new Set(outcome.failed.map((f) => f.errorCode))],
      });
      return false;
    }
    this.#settledJournalKeys.push(...journalKeys);
    return true;
  }

  /** Brings the index in line with the settled entries; returns the snapshot writes they need. */
  #applySettled(
    entries: readonly JournalEntry[],
    settled: ReadonlySet<string>,
    recovered: boolean,
  ): { puts: StoredSnapshot[]; deletes: number[] } {
    const puts: StoredSnapshot[] = [];
    const deletes: number[] = [];
    for (const entry of entries) {
      if (!settled.has(entry.event.detail.eventId)) continue;
      // Counted once settled, so a poll cut short reports what it really delivered.
      const detail = entry.event.detail;
      if (recovered) this.#recovered.add(entry.customerId);
      else if ('changeType' in detail) this.#run.counts[detail.changeType] += 1;
      if (entry.snapshot === null) {
        if (this.#index.has(entry.customerId)) deletes.push(entry.customerId);
        this.#deleteIndex(entry.customerId);
      } else if (this.#index.get(entry.customerId) !== entry.snapshot.hash) {
        // (a resync's snapshot of an unchanged customer needs no write)
        puts.push(entry.snapshot);
        this.#setIndex(entry.customerId, entry.snapshot.hash);
      }
    }
    return { puts, deletes };
  }

  #setIndex(id: number, hash: string): void {
    this.#index.set(id, hash);
    this.#touched.add(id);
  }

  #deleteIndex(id: number): void {
    this.#index.delete(id);
    this.#touched.add(id);
  }
}
