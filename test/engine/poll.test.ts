/**
 * The poll engine against in-memory ports: what a consumer of the bus sees after sequences of changes,
 * page shifts, failures and crashes. Ports are faked here because these tests are about the engine's
 * decisions; the same engine runs against the sandbox and dynalite in test/integration.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type PollOptions, runPoll } from '../../shared/engine/poll.ts';
import type { CustomerChangeDetail } from '../../shared/events/contract.ts';
import type { Log } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { TestClock } from '../support/clock.ts';
import { ContractConsumer } from '../support/consumer.ts';
import { customer, FakeSource } from '../support/fake-source.ts';
import { withStoreFaults } from '../support/store-faults.ts';

const ORG = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function setup() {
  const clock = new TestClock();
  const store = withStoreFaults(new InMemorySnapshotStore({ clock }));
  const bus = new MemoryBus();
  const deadLetters = new MemoryDeadLetterSink();
  const metrics = new RecordingMetrics();
  const source = new FakeSource();
  const poll = (options: Partial<PollOptions> = {}) =>
    runPoll(
      { source, store, bus, deadLetters, clock, log: silent, metrics },
      { organizationGuid: ORG, ...options },
    );
  const details = () => bus.accepted.map((e) => e.detail as CustomerChangeDetail);
  const since = (n: number) => details().slice(n);
  const consumerView = () => new ContractConsumer().applyAll(bus.accepted).customers;
  const sourceView = () => new Map([...source.customers].map(([id, c]) => [id, c]));
  return { clock, store, bus, deadLetters, metrics, source, poll, details, since, consumerView, sourceView };
}

type Env = ReturnType<typeof setup>;
let env: Env;

beforeEach(() => {
  env = setup();
  for (const id of [1, 2, 3, 4, 5, 6, 7, 8]) env.source.put(customer(id));
});

describe('the first poll of an organization', () => {
  it('emits a Customer Snapshot for every customer, not Customer Created', async () => {
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(env.details().map((d) => d.changeType)).toEqual(Array(8).fill('snapshot'));
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('emits nothing with initialEvents "none", and Customer Created for customers added later', async () => {
    await env.poll({ initialEvents: 'none' });
    expect(env.details()).toEqual([]);
    env.source.put(customer(9));
    await env.poll({ initialEvents: 'none' });
    expect(env.details().map((d) => [d.changeType, d.customerId])).toEqual([['created', 9]]);
  });
});

describe('a later poll', () => {
  beforeEach(async () => {
    await env.poll();
  });

  it('publishes nothing and writes no snapshot when nothing changed', async () => {
    const before = env.bus.calls.length;
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(env.bus.calls.length).toBe(before);
    expect(result.counts.committed).toBe(0);
    expect(result.counts.unchanged).toBe(8);
  });

  it('reports a creation, an update field by field, and a confirmed deletion', async () => {
    const n = env.details().length;
    env.source.put(customer(9, { name: 'New' }));
    env.source.put(customer(2, { status: 1, email: null }));
    env.source.remove(5);
    const result = await env.poll();
    const events = env.since(n);
    expect(events.map((d) => [d.changeType, d.customerId]).sort()).toEqual([
      ['created', 9],
      ['deleted', 5],
      ['updated', 2],
    ]);
    const update = events.find((d) => d.changeType === 'updated');
    expect(update?.changedFields).toEqual(['status', 'email']);
    expect(update?.changes).toEqual({
      status: { before: 0, after: 1 },
      email: { before: '2@example.com', after: null },
    });
    expect(events.find((d) => d.changeType === 'deleted')?.before?.id).toBe(5);
    expect(result.counts.deletionsConfirmedAbsent).toBe(1);
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('gives a field flipping A→B→A→B over three polls three distinct eventIds and rising sequences', async () => {
    const n = env.details().length;
    for (const status of [1, 0, 1]) {
      env.source.put(customer(3, { status }));
      await env.poll();
    }
    const flips = env.since(n);
    expect(flips).toHaveLength(3);
    expect(new Set(flips.map((d) => d.eventId)).size).toBe(3);
    const sequences = flips.map((d) => d.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    expect(new Set(sequences).size).toBe(3);
  });

  it('does not delete a customer that a page shift pushed out of the listing', async () => {
    env.source.pageSize = 3;
    const n = env.details().length;
    // After page 1 (ids 1-3) is served, id 2 is deleted: id 4 moves to page 1 and is never listed.
    env.source.afterPage = (page) => {
      if (page === 1) env.source.remove(2);
    };
    const result = await env.poll();
    env.source.afterPage = undefined;
    // 4 was missing from the listing but found by GET customers/4: kept, no event.
    expect(result.counts.deletionCandidates).toBe(1);
    expect(result.counts.deletionsConfirmedAbsent).toBe(0);
    expect(env.since(n)).toEqual([]);
    // 2 had been listed before it was deleted: the next poll reports that deletion, and only that.
    await env.poll();
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([['deleted', 2]]);
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('counts a customer listed twice (a page shift forwards) once', async () => {
    env.source.pageSize = 3;
    const n = env.details().length;
    env.source.afterPage = (page) => {
      if (page === 1) env.source.put(customer(0, { name: 'Front' })); // id 3 is listed again on page 2
    };
    const result = await env.poll();
    env.source.afterPage = undefined;
    expect(result.counts.duplicatesInListing).toBe(1);
    // id 0 was inserted behind the listing's back: it is found by the next poll.
    expect(env.since(n)).toEqual([]);
    await env.poll();
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([['created', 0]]);
  });

  it('never deletes a customer whose record cannot be parsed, and keeps its last good snapshot', async () => {
    env.source.customers.set(4, { id: 4, invalid: 'status is a string' });
    const n = env.details().length;
    const result = await env.poll();
    expect(env.since(n)).toEqual([]);
    expect(result.counts.invalid).toBe(1);
    expect(env.metrics.get('CustomersInvalid')).toBe(1);
  });

  it('decides no deletion when the listing did not finish, but publishes the changes it saw', async () => {
    env.source.pageSize = 2;
    env.source.put(customer(1, { name: 'Changed' }));
    env.source.remove(8);
    env.source.failAtPage = 3;
    const n = env.details().length;
    const result = await env.poll();
    expect(result.outcome).toBe('partial');
    expect(result.listingComplete).toBe(false);
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([['updated', 1]]);
    env.source.failAtPage = undefined;
    await env.poll();
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([
      ['updated', 1],
      ['deleted', 8],
    ]);
  });

  it('waits for the next poll when a deletion cannot be confirmed', async () => {
    env.source.remove(6);
    env.source.failLookups.add(6);
    const n = env.details().length;
    const result = await env.poll();
    expect(env.since(n)).toEqual([]);
    expect(result.counts.deletionsUnconfirmed).toBe(1);
    env.source.failLookups.clear();
    await env.poll();
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([['deleted', 6]]);
  });

  it('holds a mass deletion, says so with an anomaly event and a metric, and lets it through when allowed', async () => {
    for (const id of [1, 2, 3, 4, 5, 6]) env.source.remove(id);
    const n = env.bus.accepted.length;
    const held = await env.poll();
    expect(held.outcome).toBe('held');
    expect(held.counts.deletionsHeld).toBe(6);
    expect(env.bus.accepted.slice(n).map((e) => e['detail-type'])).toEqual(['Customer Sync Anomaly']);
    expect(env.metrics.get('MassDeletionHeld')).toBe(6);
    const allowed = await env.poll({ allowMassDeletion: true });
    expect(allowed.outcome).toBe('success');
    expect(allowed.counts.deleted).toBe(6);
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('emits a Customer Snapshot for every customer on a resync, and the changes as changes', async () => {
    env.source.put(customer(7, { city: 'Montréal' }));
    const n = env.details().length;
    await env.poll({ mode: 'resync' });
    const events = env.since(n);
    expect(events.filter((d) => d.changeType === 'snapshot')).toHaveLength(7);
    expect(events.filter((d) => d.changeType === 'updated').map((d) => d.customerId)).toEqual([7]);
  });

  it('lets only one poll run at a time', async () => {
    await env.store.acquireLease(ORG, 'someone-else', 60_000);
    const result = await env.poll();
    expect(result.outcome).toBe('busy');
    expect(env.metrics.get('PollBusy')).toBe(1);
    env.clock.advance(61_000); // the other poll crashed: its lease lapses within a minute
    expect((await env.poll()).outcome).toBe('success');
  });

  it('stops at the deadline and leaves the rest for the next poll', async () => {
    env.source.pageSize = 2;
    env.source.put(customer(1, { name: 'x' }));
    env.source.afterPage = () => env.clock.advance(5_000);
    const result = await env.poll({ deadline: env.clock.now() + 12_000, deadlineReserveMs: 1_000 });
    expect(result.outcome).toBe('deadline');
    expect(result.listingComplete).toBe(false);
  });

  it('stops on request (Ctrl-C) at the next safe point, says so, and loses nothing', async () => {
    env.source.put(customer(1, { name: 'renamed' }));
    env.source.remove(2);
    const warnings: string[] = [];
    const log: Log = { ...silent, warn: (message) => void warnings.push(message) };
    const stop = new AbortController();
    stop.abort();
    const { source, store, bus, deadLetters, clock, metrics } = env;
    const published = bus.accepted.length;
    const stopped = await runPoll(
      { source, store, bus, deadLetters, clock, log, metrics },
      { organizationGuid: ORG, stopSignal: stop.signal },
    );
    expect(stopped.outcome).toBe('deadline');
    expect(bus.accepted.length).toBe(published);
    expect(warnings.some((w) => w.startsWith('stopped on request'))).toBe(true);
    expect(warnings.filter((w) => w.includes('deadline'))).toEqual([]);
    await env.poll();
    expect(env.since(published).map((d) => [d.changeType, d.customerId])).toEqual([
      ['updated', 1],
      ['deleted', 2],
    ]);
  });
});

describe('crashes and partial failures', () => {
  beforeEach(async () => {
    await env.poll();
  });

  it('re-publishes events that were sent before a crash with the same eventIds, and loses nothing', async () => {
    env.source.put(customer(1, { name: 'A2' }));
    env.source.put(customer(9));
    env.bus.crashAfterCalls(0, { acceptBeforeCrash: true });
    const crashed = await env.poll();
    expect(crashed.outcome).toBe('failed');
    const ids = env.bus.acceptedEventIds();
    await env.poll();
    const after = env.bus.acceptedEventIds();
    // The two events arrive again, with the same ids, and nothing else is published.
    expect(after.slice(ids.length).sort()).toEqual(ids.slice(-2).sort());
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('does not lose a change reverted between a crash after publishing and the rerun', async () => {
    env.source.put(customer(2, { status: 1 }));
    env.store.failNext('commitSnapshots');
    expect((await env.poll()).outcome).toBe('failed');
    // The consumer has seen status 1. The customer goes back to 0 before the next poll.
    env.source.put(customer(2, { status: 0 }));
    await env.poll();
    expect(env.consumerView()).toEqual(env.sourceView());
    expect(env.consumerView().get(2)?.status).toBe(0);
  });

  it.each([
    'writeJournal',
    'writeJournal:item',
    'commit:snapshots',
    'commit:index',
    'commitSnapshots',
    'commitIndex',
    'deleteJournal',
    'getSnapshots',
    'loadIndex',
  ] as const)('recovers from a crash at %s with every change delivered', async (point) => {
    env.source.put(customer(3, { email: 'changed@example.com' }));
    env.source.put(customer(10));
    env.source.remove(4);
    env.store.failNext(point, new Error(`process died at ${point}`));
    await env.poll();
    env.clock.advance(120_000);
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(env.consumerView()).toEqual(env.sourceView());
    const details = env.details();
    const byId = new Map<string, string>();
    for (const d of details) {
      const key = JSON.stringify([d.changeType, d.customerId, d.after, d.before]);
      const known = byId.get(d.eventId);
      if (known) expect(known).toBe(key); // a duplicate carries the same change
      byId.set(d.eventId, key);
    }
  });

  it('keeps events the bus would not take journaled and re-sends them with the same ids', async () => {
    env.source.put(customer(5, { name: 'Five' }));
    env.bus.failEntries(() => 'ThrottlingException');
    const failed = await env.poll();
    expect(failed.outcome).toBe('partial');
    expect(env.bus.accepted.length).toBe(8);
    env.bus.clearFaults();
    const ok = await env.poll();
    expect(ok.counts.recoveredFromJournal).toBe(1);
    const update = env.details().filter((d) => d.customerId === 5 && d.changeType === 'updated');
    expect(update).toHaveLength(1);
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('dead-letters an event the bus can never take, never silently', async () => {
    env.source.put(customer(6, { name: 'Six' }));
    env.bus.failEntries(() => 'MalformedDetail');
    const result = await env.poll();
    expect(result.counts.deadLettered).toBe(1);
    expect(env.deadLetters.eventIds()).toHaveLength(1);
    expect(env.metrics.get('EventsDeadLettered')).toBe(1);
  });
});

describe('customers too large for a snapshot or an event', () => {
  beforeEach(async () => {
    await env.poll();
  });

  it('reduces an event over the bus limit before journaling it, and still commits the snapshot', async () => {
    env.source.put(customer(2, { notes: 'n'.repeat(200_000) }));
    const result = await env.poll();
    const update = env.details().find((d) => d.customerId === 2 && d.changeType === 'updated');
    expect(update?.truncated).toBe(true);
    expect(update?.after).toBeNull();
    expect(update?.changedFields).toEqual(['notes']);
    expect(env.metrics.get('EventsTruncated')).toBe(1);
    expect(result.counts.committed).toBe(1);
    const n = env.details().length;
    await env.poll();
    expect(env.details().length).toBe(n);
  });

  it('quarantines a record too large to keep, like an invalid one, and goes on with the others', async () => {
    env.source.put(customer(3, { notes: 'x'.repeat(300_000) }));
    env.source.put(customer(4, { name: 'Four' }));
    const n = env.details().length;
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(result.counts.invalid).toBe(1);
    expect(env.metrics.get('CustomersOversized')).toBe(1);
    expect(env.since(n).map((d) => [d.changeType, d.customerId])).toEqual([['updated', 4]]);
  });
});

describe('findings of the review', () => {
  beforeEach(async () => {
    await env.poll();
  });

  it('stops without publishing when its lease cannot be confirmed (renewals failing) past a third of its life', async () => {
    env.source.put(customer(1, { name: 'Changed' }));
    env.source.pageSize = 2;
    // Every renewal fails, and each page takes 15 s: the lease (60 s) cannot be trusted by the end.
    const renew = env.store.renewLease.bind(env.store);
    env.store.renewLease = async () => {
      throw new Error('throttled');
    };
    env.source.afterPage = () => env.clock.advance(15_000);
    const n = env.bus.accepted.length;
    const result = await env.poll();
    env.store.renewLease = renew;
    env.source.afterPage = undefined;
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/lease/);
    expect(env.bus.accepted.length).toBe(n);
  });

  it('reports a customer found by a resync as created, not as a snapshot', async () => {
    env.source.put(customer(42, { name: 'New during resync' }));
    const n = env.details().length;
    await env.poll({ mode: 'resync' });
    const found = env.since(n).filter((d) => d.customerId === 42);
    expect(found.map((d) => d.changeType)).toEqual(['created']);
  });

  it('carries on a resync that a deadline cut short in the next poll', async () => {
    env.source.pageSize = 2;
    env.source.afterPage = () => env.clock.advance(5_000);
    const cut = await env.poll({
      mode: 'resync',
      deadline: env.clock.now() + 9_000,
      deadlineReserveMs: 1_000,
    });
    env.source.afterPage = undefined;
    expect(cut.outcome).toBe('deadline');
    const n = env.details().length;
    const next = await env.poll();
    expect(next.outcome).toBe('success');
    expect(env.since(n).filter((d) => d.changeType === 'snapshot')).toHaveLength(8);
    const m = env.details().length;
    await env.poll();
    expect(env.details().length).toBe(m); // the resync is done: no more snapshots
  });

  it('stops confirming deletions when the request allowance is spent', async () => {
    for (const id of [1, 2]) env.source.remove(id);
    const result = await env.poll({ requestAllowance: 2 }); // the listing (1 page) + one GET
    expect(result.counts.deletionsConfirmedAbsent).toBe(1);
    expect(result.counts.deletionsUnconfirmed).toBe(1);
    expect(result.nutcacheRequests).toBe(2);
  });

  it('stops confirming deletions after Nutcache answers 429', async () => {
    for (const id of [1, 2, 3]) env.source.remove(id);
    const throttled = Object.assign(new Error('429'), { status: 429 });
    const get = env.source.getCustomer.bind(env.source);
    env.source.getCustomer = async () => {
      env.source.requestCount += 1;
      throw throttled;
    };
    const result = await env.poll();
    env.source.getCustomer = get;
    expect(result.counts.deletionsUnconfirmed).toBe(3);
    expect(result.nutcacheRequests).toBe(2); // one page, one refused GET, then no more
  });

  it('counts each published event once in EventsPublished', async () => {
    env.source.put(customer(5, { name: 'x' }));
    const before = env.metrics.get('EventsPublished');
    await env.poll();
    expect(env.metrics.get('EventsPublished') - before).toBe(1);
  });
});

describe('the request allowance', () => {
  it('stops a listing that would spend more than the allowance, deciding no deletion', async () => {
    env.source.pageSize = 2;
    await env.poll();
    env.source.remove(8);
    const result = await env.poll({ requestAllowance: 2 });
    expect(result.outcome).toBe('partial');
    expect(result.error).toMatch(/allowance/);
    expect(result.nutcacheRequests).toBe(2);
    expect(result.counts.deleted).toBe(0);
  });
});

describe('findings of the second review', () => {
  beforeEach(async () => {
    await env.poll();
  });

  it('counts a listing that ends exactly on its allowance as complete', async () => {
    env.source.pageSize = 2; // 8 customers: 4 pages
    const result = await env.poll({ requestAllowance: 4 });
    expect(result.outcome).toBe('success');
    expect(result.listingComplete).toBe(true);
  });

  it('reports only the changes it delivered when it stops at the deadline', async () => {
    for (const id of [1, 2, 3, 4, 5, 6]) env.source.put(customer(id, { name: `Renamed ${id}` }));
    const put = env.bus.putEvents.bind(env.bus);
    env.bus.putEvents = async (entries) => {
      env.clock.advance(5_000);
      return put(entries);
    };
    const n = env.details().length;
    const result = await env.poll({
      chunkSize: 2,
      deadline: env.clock.now() + 8_000,
      deadlineReserveMs: 1_000,
    });
    env.bus.putEvents = put;
    expect(result.outcome).toBe('deadline');
    const delivered = env.since(n).length;
    expect(delivered).toBeLessThan(6);
    expect(result.counts.updated).toBe(delivered);
    await env.poll();
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('keeps what a recovery did when the deadline stops it, so the next polls finish the journal', async () => {
    for (const id of [1, 2, 3, 4, 5, 6, 7, 8]) env.source.put(customer(id, { city: 'Lyon' }));
    // The process dies after journaling four chunks and before any is settled.
    env.store.failNext('commitIndex', new Error('process died'));
    await env.poll({ chunkSize: 2 });
    expect((await env.store.loadJournal(ORG)).length).toBe(4);
    const put = env.bus.putEvents.bind(env.bus);
    env.bus.putEvents = async (entries) => {
      env.clock.advance(5_000);
      return put(entries);
    };
    const left: number[] = [];
    for (let i = 0; i < 3; i++) {
      await env.poll({ deadline: env.clock.now() + 12_000, deadlineReserveMs: 1_000 });
      left.push((await env.store.loadJournal(ORG)).length);
    }
    env.bus.putEvents = put;
    expect(left[0]).toBeLessThan(4);
    expect(left.at(-1)).toBe(0);
    await env.poll();
    expect(env.consumerView()).toEqual(env.sourceView());
  });
});
