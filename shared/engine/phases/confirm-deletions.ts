/**
 * Phase: decide which known customers were deleted. Customers missing from a complete listing are only
 * candidates (known, not listed, not quarantined); each is confirmed with `GET customers/{id}` (404 =
 * deleted), and never beyond the mass-deletion guard: when too many are missing, none is deleted and an
 * anomaly event is published instead.
 */
import { buildMassDeletionEvent } from '../events.ts';
import { mayContinue, nearDeadline, type PollRun, publish, type Stop } from '../poll-run.ts';
import { DEFAULT_MASS_DELETION_GUARD, errorMessage } from '../poll-types.ts';
import type { Observations } from './list-customers.ts';

/** The ids confirmed absent (deleted in Nutcache), in candidate order. */
export async function confirmDeletions(
  run: PollRun,
  index: ReadonlyMap<number, string>,
  observations: Observations,
): Promise<number[]> {
  const { seen, invalidIds } = observations;
  const candidates = [...index.keys()].filter((id) => !seen.has(id) && !invalidIds.has(id));
  run.counts.deletionCandidates = candidates.length;
  const guard = run.options.massDeletionGuard ?? DEFAULT_MASS_DELETION_GUARD;
  const massDeletion = candidates.length > guard.minimum && candidates.length > guard.ratio * index.size;
  if (massDeletion && !run.options.allowMassDeletion) {
    await holdMassDeletion(run, candidates, index.size);
    return [];
  }
  const confirmedAbsent = await confirmEach(run, candidates, observations);
  run.counts.deletionsConfirmedAbsent = confirmedAbsent.length;
  return confirmedAbsent;
}

/** A poll that did everything else ends `held` when the guard held deletions: they need an operator. */
export function heldStop(run: PollRun): Stop | undefined {
  return run.counts.deletionsHeld > 0 ? { outcome: 'held' } : undefined;
}

async function holdMassDeletion(run: PollRun, candidates: readonly number[], known: number): Promise<void> {
  const { counts, deps, runLog, ctx } = run;
  counts.deletionsHeld = candidates.length;
  deps.metrics.count('MassDeletionHeld', candidates.length);
  deps.log.error('mass deletion held: too many known customers are missing from the listing', {
    ...runLog,
    missing: candidates.length,
    known,
  });
  const anomaly = buildMassDeletionEvent(ctx, candidates, known);
  await run.lease.checkpoint();
  await publish(run, [anomaly]);
}

async function confirmEach(
  run: PollRun,
  candidates: readonly number[],
  observations: Observations,
): Promise<number[]> {
  const { counts, deps, runLog } = run;
  const confirmedAbsent: number[] = [];
  let stopConfirming: string | undefined;
  for (const id of candidates) {
    if (!stopConfirming && nearDeadline(run)) stopConfirming = 'the deadline is near';
    if (!stopConfirming && !(await mayContinue(run))) stopConfirming = 'the request allowance is spent';
    if (stopConfirming) {
      counts.deletionsUnconfirmed += 1;
      continue;
    }
    const confirmation = await confirmOne(run, id, observations);
    if (confirmation === 'absent') confirmedAbsent.push(id);
    else if (confirmation !== 'present') stopConfirming = confirmation.stop;
  }
  if (stopConfirming) {
    deps.log.warn('deletion confirmations stopped; the rest wait for the next poll', {
      ...runLog,
      reason: stopConfirming,
      unconfirmed: counts.deletionsUnconfirmed,
    });
  }
  return confirmedAbsent;
}

type Confirmation = 'absent' | 'present' | { readonly stop: string | undefined };

/** Asks Nutcache for one candidate; a customer still there is compared like any listed one. */
async function confirmOne(run: PollRun, id: number, observations: Observations): Promise<Confirmation> {
  try {
    const found = await run.deps.source.getCustomer(id);
    if (found === null) return 'absent';
    if (found.ok) {
      // Still there: it was skipped by a page shift. Compare it like any listed customer.
      observations.seen.add(id);
      observations.observe(found.customer);
    } else {
      observations.invalidIds.add(id);
      run.counts.invalid += 1;
    }
    return 'present';
  } catch (lookupError) {
    run.counts.deletionsUnconfirmed += 1;
    run.deps.log.warn('could not confirm a deletion; it waits for the next poll', {
      ...run.runLog,
      customerId: id,
      error: errorMessage(lookupError),
    });
    // Throttled or refused: asking again for every other candidate would only make it worse.
    const status = (lookupError as { status?: unknown }).status;
    return {
      stop: status === 429 || status === 401 || status === 403 ? `Nutcache answered ${status}` : undefined,
    };
  }
}
