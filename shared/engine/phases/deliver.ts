/**
 * Phase: deliver the plan chunk by chunk (journal → publish → commit, see journal-publish-commit.ts),
 * stopping at the deadline or at the first chunk that could not all be committed; snapshot writes that need
 * no event are committed in chunks beside them. Ends by settling the index and the journal.
 *
 * A resync does not stop at a failed chunk: it journals the rest of its plan without publishing it
 * ("parks" it), so the next poll delivers all of it from the journal under the same eventIds and the resync
 * is done. Stopping there instead would leave the resync requested, and its continuation would send the
 * customers already delivered again, as new Snapshot events with other ids.
 */
import type { JournalEntry, StoredSnapshot } from '../../ports.ts';
import type { JournalPublishCommit } from '../journal-publish-commit.ts';
import { type PollRun, pastDeadline, type Stop, stopReason } from '../poll-run.ts';
import type { PlannedChange } from './plan-changes.ts';

const DEFAULT_CHUNK_SIZE = 500;

/** Why delivery stopped; `restJournaled` when every planned event not delivered is in the journal. */
export interface DeliveryStop extends Stop {
  readonly restJournaled?: true;
}

export async function deliver(
  run: PollRun,
  plan: AsyncIterable<PlannedChange>,
  delivery: JournalPublishCommit,
): Promise<DeliveryStop | undefined> {
  const chunkSize = run.options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const silent = new SilentWrites();
  let chunk: JournalEntry[] = [];
  let stop: DeliveryStop | undefined;
  for await (const planned of plan) {
    if (planned.kind === 'event') chunk.push(planned.entry);
    else silent.add(planned);
    if (silent.size >= chunkSize) await silent.flush(delivery);
    if (chunk.length >= chunkSize) {
      stop = await deliverOrPark(run, chunk, delivery, stop);
      if (stop && !stop.restJournaled) break;
      chunk = [];
    }
  }
  if (!stop || stop.restJournaled) stop = await deliverOrPark(run, chunk, delivery, stop);
  await silent.flush(delivery);
  await delivery.settle();
  return stop;
}

/** Delivers a chunk, or parks it once a resync's delivery failed (`stop` set with `restJournaled`). */
async function deliverOrPark(
  run: PollRun,
  chunk: readonly JournalEntry[],
  delivery: JournalPublishCommit,
  stop: DeliveryStop | undefined,
): Promise<DeliveryStop | undefined> {
  if (stop === undefined) {
    const failed = await deliverChunk(run, chunk, delivery);
    if (failed?.outcome !== 'partial' || run.mode !== 'resync') return failed;
    run.deps.log.warn(
      'resync: some events could not be published; the rest of the resync is journaled for the next poll',
      run.runLog,
    );
    return { ...failed, restJournaled: true };
  }
  if (chunk.length === 0) return stop;
  if (pastDeadline(run)) {
    // Not all journaled: the resync stays requested and its continuation starts over.
    const { restJournaled: _, ...cut } = stop;
    return cut;
  }
  await delivery.park(chunk);
  return stop;
}

async function deliverChunk(
  run: PollRun,
  chunk: readonly JournalEntry[],
  delivery: JournalPublishCommit,
): Promise<Stop | undefined> {
  if (chunk.length === 0) return undefined;
  if (pastDeadline(run)) {
    run.deps.log.warn(
      `${stopReason(run, 'deadline reached')} before every change was published; the rest is redone next poll`,
      run.runLog,
    );
    return { outcome: 'deadline' };
  }
  if (await delivery.deliver(chunk)) return undefined;
  return { outcome: 'partial', error: 'some events could not be published' };
}

/** Snapshot writes that need no event, committed a chunk at a time. */
class SilentWrites {
  #puts: StoredSnapshot[] = [];
  #deletes: number[] = [];

  get size(): number {
    return this.#puts.length + this.#deletes.length;
  }

  add(planned: Exclude<PlannedChange, { kind: 'event' }>): void {
    if (planned.kind === 'silent-put') this.#puts.push(planned.snapshot);
    else this.#deletes.push(planned.customerId);
  }

  async flush(delivery: JournalPublishCommit): Promise<void> {
    await delivery.commitSilent(this.#puts, this.#deletes);
    this.#puts = [];
    this.#deletes = [];
  }
}
