/**
 * Phase: finish what an earlier poll left in the journal (it crashed, its delivery failed, or it parked the
 * rest of a resync). Each journal batch is re-published (same eventIds, same payload) and committed before
 * anything is compared, so whatever consumers may have seen becomes the baseline of this poll's comparison.
 */
import type { JournalPublishCommit } from '../journal-publish-commit.ts';
import { nearDeadline, type PollRun, type Stop } from '../poll-run.ts';

/** Undefined when every journal batch was delivered; otherwise why the poll stops here. */
export async function recoverJournal(
  run: PollRun,
  delivery: JournalPublishCommit,
): Promise<Stop | undefined> {
  const { deps, org, counts, runLog } = run;
  const journal = await deps.store.loadJournal(org);
  for (const batch of journal) {
    if (nearDeadline(run)) {
      // Keep what was recovered so far: the next poll carries on with the batches left.
      await delivery.settle();
      return { outcome: 'deadline' };
    }
    counts.recoveredFromJournal += batch.entries.length;
    deps.log.info('re-publishing events an earlier poll journaled but did not deliver', {
      ...runLog,
      journalKey: batch.key,
      events: batch.entries.length,
    });
    if (!(await delivery.redeliver(batch))) {
      await delivery.settle();
      return {
        outcome: 'partial',
        error: 'events journaled by an earlier poll could not all be published',
      };
    }
  }
  return undefined;
}
