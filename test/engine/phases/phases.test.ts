import { describe, expect, it } from 'vitest';
import { buildChangeEvent } from '../../../shared/engine/events.ts';
import { JournalPublishCommit } from '../../../shared/engine/journal-publish-commit.ts';
import { confirmDeletions } from '../../../shared/engine/phases/confirm-deletions.ts';
import { deliver } from '../../../shared/engine/phases/deliver.ts';
import { listCustomers } from '../../../shared/engine/phases/list-customers.ts';
import type { PlannedChange } from '../../../shared/engine/phases/plan-changes.ts';
import { recoverJournal } from '../../../shared/engine/phases/recover-journal.ts';
import { customer } from '../../support/fake-source.ts';
import { ORG, openTestRun, ports } from './run-support.ts';

function withCustomers(count: number) {
  const p = ports();
  for (let id = 1; id <= count; id += 1) p.source.put(customer(id));
  p.source.pageSize = 2;
  return p;
}

describe('listing the customers', () => {
  it('observes each listed customer once and reports the listing complete', async () => {
    const p = withCustomers(5);
    const run = await openTestRun(p);
    const listing = await listCustomers(run, new Map());
    expect(listing).toMatchObject({ complete: true });
    expect(listing.stop).toBeUndefined();
    expect(listing.observations.changed.size).toBe(5);
    expect(run.counts).toMatchObject({ pages: 3, customersListed: 5 });
  });

  it('stops when the request allowance is spent, as a partial listing', async () => {
    const p = withCustomers(5);
    const run = await openTestRun(p, { requestAllowance: 2 });
    const listing = await listCustomers(run, new Map());
    expect(listing.complete).toBe(false);
    expect(listing.stop).toMatchObject({ outcome: 'partial', error: expect.stringMatching(/allowance/) });
    expect(run.counts.pages).toBe(2);
  });

  it('reports a failed listing with its error, keeping what was seen', async () => {
    const p = withCustomers(5);
    p.source.failAtPage = 2;
    const run = await openTestRun(p);
    const listing = await listCustomers(run, new Map());
    expect(listing.stop).toMatchObject({
      outcome: 'partial',
      error: expect.stringMatching(/^listing failed/),
    });
    expect(listing.stop?.failure).toBeInstanceOf(Error);
    expect(listing.observations.changed.size).toBe(2);
  });
});

describe('confirming deletions', () => {
  const index = (ids: number[]) => new Map(ids.map((id) => [id, 'hash']));

  it('confirms each missing customer with Nutcache and deletes only those it no longer has', async () => {
    const p = withCustomers(10);
    const run = await openTestRun(p);
    const listing = await listCustomers(run, new Map());
    p.source.put(customer(11)); // missed by the listing (a page shift), still there
    const known = index([...Array(11).keys()].map((i) => i + 1).concat(12));
    expect(await confirmDeletions(run, known, listing.observations)).toEqual([12]);
    expect(run.counts).toMatchObject({ deletionCandidates: 2, deletionsConfirmedAbsent: 1 });
    expect([...listing.observations.changed.ids()]).toContain(11);
  });

  it('holds a mass deletion and publishes an anomaly event instead', async () => {
    const p = withCustomers(2);
    const run = await openTestRun(p);
    const listing = await listCustomers(run, new Map());
    const known = index([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await confirmDeletions(run, known, listing.observations)).toEqual([]);
    expect(run.counts.deletionsHeld).toBe(8);
    expect(p.bus.accepted).toHaveLength(1);
    expect(p.source.requestCount).toBe(1);
  });
});

describe('delivering the plan', () => {
  it('stops at the deadline without publishing, as a deadline outcome', async () => {
    const p = ports();
    const run = await openTestRun(p, { deadline: p.clock.now() - 1 });
    const delivery = new JournalPublishCommit(run, new Map());
    const c = customer(1);
    async function* plan(): AsyncGenerator<PlannedChange> {
      yield {
        kind: 'event',
        entry: { customerId: 1, event: buildChangeEvent(run.ctx, 'created', null, c), snapshot: null },
      };
    }
    expect(await deliver(run, plan(), delivery)).toEqual({ outcome: 'deadline' });
    expect(p.bus.accepted).toHaveLength(0);
  });
});

describe('recovering the journal', () => {
  it('leaves the journal for the next poll when the deadline is near', async () => {
    const p = ports();
    const earlier = await openTestRun(p);
    await p.store.writeJournal(ORG, earlier.pollNumber, [
      { customerId: 1, event: buildChangeEvent(earlier.ctx, 'created', null, customer(1)), snapshot: null },
    ]);
    await p.store.releaseLease(ORG, 'owner-1');
    const run = await openTestRun(p, { deadline: p.clock.now() + 5_000 });
    const stop = await recoverJournal(run, new JournalPublishCommit(run, new Map()));
    expect(stop).toEqual({ outcome: 'deadline' });
    expect(await p.store.loadJournal(ORG)).toHaveLength(1);
    expect(p.bus.accepted).toHaveLength(0);
  });
});
