import { describe, expect, it } from 'vitest';
import { customerDigest } from '../../shared/customer.ts';
import { buildChangeEvent } from '../../shared/engine/events.ts';
import { JournalPublishCommit } from '../../shared/engine/journal-publish-commit.ts';
import type { PollRun } from '../../shared/engine/poll-run.ts';
import type { JournalEntry } from '../../shared/ports.ts';
import { customer } from '../support/fake-source.ts';
import { ORG, openTestRun, type Ports, ports } from './phases/run-support.ts';

function created(run: PollRun, id: number): JournalEntry {
  const c = customer(id);
  const event = buildChangeEvent(run.ctx, 'created', null, c);
  return {
    customerId: id,
    event,
    snapshot: { customerId: id, hash: customerDigest(c).hash, record: c, sequence: run.pollNumber },
  };
}

async function setup(p: Ports = ports()) {
  const run = await openTestRun(p);
  const index = await p.store.loadIndex(ORG);
  return { p, run, index, delivery: new JournalPublishCommit(run, index) };
}

describe('journal → publish → commit', () => {
  it('commits the snapshots of the published events and, once settled, their index and no journal', async () => {
    const { p, run, delivery } = await setup();
    expect(await delivery.deliver([created(run, 1), created(run, 2)])).toBe(true);
    expect([...(await p.store.getSnapshots(ORG, [1, 2])).keys()]).toEqual([1, 2]);
    await delivery.settle();
    expect([...(await p.store.loadIndex(ORG)).keys()]).toEqual([1, 2]);
    expect(await p.store.loadJournal(ORG)).toEqual([]);
    expect(run.counts).toMatchObject({ created: 2, published: 2, committed: 2 });
    expect(run.publishedEventIds).toHaveLength(2);
  });

  it('commits nothing of an event the bus did not take, and keeps it journaled for the next poll', async () => {
    const { p, run, delivery } = await setup();
    const failing = created(run, 2);
    p.bus.failEntries((entry) =>
      entry.detail.includes('"customerId":2') ? 'ThrottlingException' : undefined,
    );
    expect(await delivery.deliver([created(run, 1), failing])).toBe(false);
    await delivery.settle();
    expect([...(await p.store.getSnapshots(ORG, [1, 2])).keys()]).toEqual([1]);
    const journal = await p.store.loadJournal(ORG);
    expect(journal.flatMap((b) => b.entries.map((e) => e.customerId))).toEqual([1, 2]);
    expect(run.counts).toMatchObject({ created: 1, publishFailed: 1, committed: 1 });
  });

  it('re-publishes a journal left by an unfinished poll with the same event ids, without counting its changes again', async () => {
    const p = ports();
    const first = await setup(p);
    p.bus.failEntries(() => 'ThrottlingException');
    await first.delivery.deliver([created(first.run, 1)]);
    await p.store.releaseLease(ORG, 'owner-1');
    p.bus.clearFaults();
    const second = await setup(p);
    const [batch] = await p.store.loadJournal(ORG);
    if (!batch) throw new Error('no journal');
    expect(await second.delivery.redeliver(batch)).toBe(true);
    await second.delivery.settle();
    expect(p.bus.acceptedEventIds()).toEqual([batch.entries[0]?.event.detail.eventId]);
    expect(await p.store.loadJournal(ORG)).toEqual([]);
    expect(second.run.counts).toMatchObject({ created: 0, published: 1, committed: 1 });
  });
});
