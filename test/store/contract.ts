/**
 * The SnapshotStore contract, run against every adapter (in memory and DynamoDB on dynalite): both must
 * behave the same for the engine.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { SnapshotStore, StoredSnapshot } from '../../shared/ports.ts';
import type { LeaseInspection } from '../../shared/store/lease-rules.ts';
import type { TestClock } from '../support/clock.ts';
import type { StoreFaultPoint } from '../support/store-faults.ts';
import {
  customer,
  customerIds,
  incompressible,
  indexOf,
  journalEntry,
  runRecord,
  snapshot,
  storeClock,
} from './helpers.ts';

export interface TestableStore extends SnapshotStore, LeaseInspection {
  failNext(point: StoreFaultPoint, error?: Error, options?: { skip?: number }): void;
}

export type StoreFactory = (clock: TestClock) => TestableStore | Promise<TestableStore>;

const TTL = 60_000;
/** Above Linux's largest PID (2^22): no process has it. */
const NO_SUCH_PID = 99_999_999;

export function defineStoreContract(name: string, makeStore: StoreFactory): void {
  async function setup() {
    const clock = storeClock();
    const store = await makeStore(clock);
    return { clock, store, org: randomUUID() };
  }

  describe(`${name}: lease`, () => {
    it('hands the lease to the first caller, with the current time in seconds as its poll number', async () => {
      const { store, clock, org } = await setup();
      const result = await store.acquireLease(org, 'worker-a', TTL);
      const first = Math.floor(clock.now() / 1000);
      expect(result).toEqual({
        acquired: true,
        pollNumber: first,
        state: { organizationGuid: org, pollNumber: first, initialized: false },
      });
    });

    it('keeps poll numbers above every earlier one when the table is recreated or restored', async () => {
      const { store, clock, org } = await setup();
      const before = await store.acquireLease(org, 'worker-a', TTL);
      await store.acquireLease(org, 'worker-a', TTL);
      await store.acquireLease(org, 'worker-a', TTL);
      clock.advance(TTL + 5_000);
      const recreated = await makeStore(clock); // an empty table, as after a restore or a new deployment
      const after = await recreated.acquireLease(org, 'worker-b', TTL);
      if (!before.acquired || !after.acquired) throw new Error('expected the lease');
      expect(after.pollNumber).toBeGreaterThan(before.pollNumber + 2);
    });

    it('refuses a second owner while the lease runs, naming the holder and its expiry', async () => {
      const { store, clock, org } = await setup();
      await store.acquireLease(org, 'worker-a', TTL);
      const start = clock.now();
      clock.advance(TTL - 1);
      const result = await store.acquireLease(org, 'worker-b', TTL);
      expect(result).toEqual({ acquired: false, holder: 'worker-a', expiresAt: start + TTL });
    });

    it('lets exactly one of two simultaneous callers win', async () => {
      const { store, org } = await setup();
      const results = await Promise.all([
        store.acquireLease(org, 'worker-a', TTL),
        store.acquireLease(org, 'worker-b', TTL),
      ]);
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
      const loser = results.find((r) => !r.acquired);
      const winner = results.findIndex((r) => r.acquired) === 0 ? 'worker-a' : 'worker-b';
      expect(loser).toMatchObject({ acquired: false, holder: winner });
    });

    it('lets another owner take an expired lease, with the next poll number', async () => {
      const { store, clock, org } = await setup();
      const first = await store.acquireLease(org, 'worker-a', TTL);
      clock.advance(TTL + 1);
      const result = await store.acquireLease(org, 'worker-b', TTL);
      if (!first.acquired || !result.acquired) throw new Error('expected the lease');
      expect(result.pollNumber).toBeGreaterThan(first.pollNumber);
      expect(await store.renewLease(org, 'worker-a', TTL)).toBe(false);
    });

    it('keeps the lease of an owner who renews it past the first expiry', async () => {
      const { store, clock, org } = await setup();
      await store.acquireLease(org, 'worker-a', TTL);
      clock.advance(TTL - 10);
      expect(await store.renewLease(org, 'worker-a', TTL)).toBe(true);
      clock.advance(TTL - 10);
      const result = await store.acquireLease(org, 'worker-b', TTL);
      expect(result).toEqual({ acquired: false, holder: 'worker-a', expiresAt: clock.now() + 10 });
    });

    it('refuses to renew a lease for someone who does not hold it', async () => {
      const { store, org } = await setup();
      expect(await store.renewLease(org, 'worker-a', TTL)).toBe(false);
      await store.acquireLease(org, 'worker-a', TTL);
      expect(await store.renewLease(org, 'worker-b', TTL)).toBe(false);
    });

    it('frees the lease on release so another owner gets it at once', async () => {
      const { store, clock, org } = await setup();
      await store.acquireLease(org, 'worker-a', TTL);
      await store.releaseLease(org, 'worker-a');
      // Within the same second: one more than the last poll number.
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({
        acquired: true,
        pollNumber: Math.floor(clock.now() / 1000) + 1,
      });
    });

    it('takes over at once the lease of a poll whose process on this host is gone', async () => {
      const { store, org } = await setup();
      const gone = `pid:${NO_SUCH_PID}@${hostname()}#1`;
      expect(await store.acquireLease(org, gone, TTL)).toMatchObject({ acquired: true });
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({ acquired: true });
      expect(await store.renewLease(org, gone, TTL)).toBe(false);
    });

    it('keeps the lease of a live local process, and of a process it cannot see (another host)', async () => {
      const { store, org } = await setup();
      const live = `pid:${process.pid}@${hostname()}#1`;
      await store.acquireLease(org, live, TTL);
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({ acquired: false, holder: live });
      const other = randomUUID();
      const elsewhere = `pid:${NO_SUCH_PID}@another-host#1`;
      await store.acquireLease(other, elsewhere, TTL);
      expect(await store.acquireLease(other, 'worker-b', TTL)).toMatchObject({ acquired: false });
    });

    it('shows the lease, and breaks it for an operator: the old holder can no longer renew', async () => {
      const { store, clock, org } = await setup();
      expect(await store.readLease(org)).toBeUndefined();
      await store.acquireLease(org, 'worker-a', TTL);
      const held = { holder: 'worker-a', expiresAt: clock.now() + TTL };
      expect(await store.readLease(org)).toEqual(held);
      expect(await store.breakLease(org)).toEqual(held);
      expect(await store.readLease(org)).toBeUndefined();
      expect(await store.renewLease(org, 'worker-a', TTL)).toBe(false);
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({ acquired: true });
      expect(await store.breakLease(randomUUID())).toBeUndefined();
    });

    it('ignores a release by someone who does not hold the lease', async () => {
      const { store, org } = await setup();
      await store.releaseLease(org, 'nobody');
      await store.acquireLease(org, 'worker-a', TTL);
      await store.releaseLease(org, 'worker-b');
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({
        acquired: false,
        holder: 'worker-a',
      });
    });

    it('hands out strictly increasing poll numbers across releases, expiries and owners', async () => {
      const { store, clock, org } = await setup();
      const seen: number[] = [];
      for (let round = 0; round < 4; round++) {
        const owner = `worker-${round % 2}`;
        const result = await store.acquireLease(org, owner, TTL);
        if (!result.acquired) throw new Error('expected the lease');
        seen.push(result.pollNumber);
        if (round % 2 === 0) await store.releaseLease(org, owner);
        else clock.advance(TTL + 1);
      }
      // Re-acquiring a lease one already holds is a new poll too.
      const again = await store.acquireLease(org, 'worker-x', TTL);
      const same = await store.acquireLease(org, 'worker-x', TTL);
      if (!again.acquired || !same.acquired) throw new Error('expected the lease');
      seen.push(again.pollNumber, same.pollNumber);
      expect(seen).toHaveLength(6);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
      expect((await store.getOrgState(org))?.pollNumber).toBe(seen[5]);
    });

    it('keeps separate leases and poll numbers per organization', async () => {
      const { store, clock, org } = await setup();
      const other = randomUUID();
      await store.acquireLease(org, 'worker-a', TTL);
      await store.acquireLease(org, 'worker-a', TTL);
      expect(await store.acquireLease(other, 'worker-b', TTL)).toMatchObject({
        acquired: true,
        pollNumber: Math.floor(clock.now() / 1000),
      });
    });

    it('treats organization guids case-insensitively', async () => {
      const { store, org } = await setup();
      await store.acquireLease(org.toLowerCase(), 'worker-a', TTL);
      expect(await store.acquireLease(org.toUpperCase(), 'worker-b', TTL)).toMatchObject({
        acquired: false,
        holder: 'worker-a',
      });
    });
  });

  describe(`${name}: organization state`, () => {
    it('has no state for an organization never seen', async () => {
      const { store, org } = await setup();
      expect(await store.getOrgState(org)).toBeUndefined();
    });

    it('applies a patch without touching the lease or the poll number', async () => {
      const { store, clock, org } = await setup();
      await store.acquireLease(org, 'worker-a', TTL);
      await store.updateOrgState(org, {
        initialized: true,
        lastPages: 12,
        lastSuccessAt: '2026-01-15T12:00:00.000Z',
        resyncRequested: true,
        // A caller that sneaks these in must not change them.
        ...({ pollNumber: 99, leaseOwner: 'intruder' } as object),
      });
      expect(await store.getOrgState(org)).toEqual({
        organizationGuid: org,
        pollNumber: Math.floor(clock.now() / 1000),
        initialized: true,
        lastPages: 12,
        lastSuccessAt: '2026-01-15T12:00:00.000Z',
        resyncRequested: true,
      });
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({
        acquired: false,
        holder: 'worker-a',
      });
      await store.updateOrgState(org, { resyncRequested: false });
      expect(await store.getOrgState(org)).toMatchObject({
        resyncRequested: false,
        lastPages: 12,
        initialized: true,
      });
      await store.releaseLease(org, 'worker-a');
      expect(await store.acquireLease(org, 'worker-b', TTL)).toMatchObject({
        acquired: true,
        pollNumber: Math.floor(clock.now() / 1000) + 1,
        state: { initialized: true, lastPages: 12 },
      });
    });

    it('keeps a back-off time until it is cleared with 0', async () => {
      const { store, org } = await setup();
      await store.updateOrgState(org, { notBefore: 1_800_000_000_000 });
      expect((await store.getOrgState(org))?.notBefore).toBe(1_800_000_000_000);
      await store.updateOrgState(org, { notBefore: 0 });
      expect(await store.getOrgState(org)).not.toHaveProperty('notBefore');
    });

    it('creates the state of a new organization from a patch, at poll number 0', async () => {
      const { store, org } = await setup();
      await store.updateOrgState(org, { resyncRequested: true });
      expect(await store.getOrgState(org)).toEqual({
        organizationGuid: org,
        pollNumber: 0,
        initialized: false,
        resyncRequested: true,
      });
    });

    it('rejects a patch with a value of the wrong type', async () => {
      const { store, org } = await setup();
      await expect(store.updateOrgState(org, { lastPages: -1 })).rejects.toThrow(/updateOrgState/);
    });
  });

  describe(`${name}: snapshots and index`, () => {
    it.each([0, 1, 300])('round-trips an index of %i customers', async (count) => {
      const { store, org } = await setup();
      const snapshots = customerIds(count).map((id) => snapshot(customer(id)));
      await store.commit(org, snapshots, [], indexOf(snapshots));
      expect(await store.loadIndex(org)).toEqual(indexOf(snapshots));
      const ids = snapshots.map((s) => s.customerId);
      const got = await store.getSnapshots(org, ids);
      expect(got.size).toBe(count);
      for (const s of snapshots) expect(got.get(s.customerId)).toEqual(s);
    });

    it('applies puts and deletes to both the snapshots and the index', async () => {
      const { store, org } = await setup();
      const [a, b, c] = [143_222, 143_224, 143_478].map((id) => snapshot(customer(id)));
      if (!a || !b || !c) throw new Error('fixture');
      await store.commit(org, [a, b, c], [], indexOf([a, b, c]));

      const b2 = snapshot(customer(b.customerId, { name: 'Renamed' }), 2);
      const d = snapshot(customer(999_999_999_999_999), 2);
      const after = indexOf([b2, c, d]);
      await store.commit(org, [b2, d], [a.customerId], after);

      expect(await store.loadIndex(org)).toEqual(after);
      const got = await store.getSnapshots(org, [a.customerId, b.customerId, c.customerId, d.customerId, 5]);
      expect([...got.keys()].sort()).toEqual([b.customerId, c.customerId, d.customerId].sort());
      expect(got.get(b.customerId)).toEqual(b2);
      expect(got.has(a.customerId)).toBe(false);
    });

    it('forgets a customer whose shard becomes empty', async () => {
      const { store, org } = await setup();
      const a = snapshot(customer(256));
      const b = snapshot(customer(512));
      await store.commit(org, [a, b], [], indexOf([a, b]));
      await store.commit(org, [], [256, 512], new Map());
      expect(await store.loadIndex(org)).toEqual(new Map());
      expect((await store.getSnapshots(org, [256, 512])).size).toBe(0);
    });

    it('rewrites only the index shards of changed customers', async () => {
      const { store, org } = await setup();
      const a = snapshot(customer(1000));
      const b = snapshot(customer(1001));
      await store.commit(org, [a, b], [], indexOf([a, b]));
      // The caller's map disagrees about 1001, which this commit does not touch: its shard stays as stored.
      const a2 = snapshot(customer(1000, { name: 'New' }), 2);
      await store.commit(org, [a2], [], new Map([[1000, a2.hash]]));
      expect(await store.loadIndex(org)).toEqual(
        new Map([
          [1000, a2.hash],
          [1001, b.hash],
        ]),
      );
    });

    it('refuses a commit whose index disagrees with what it writes', async () => {
      const { store, org } = await setup();
      const a = snapshot(customer(7));
      await expect(store.commit(org, [a], [], new Map())).rejects.toThrow(/index entry of customer 7/);
      await expect(store.commit(org, [], [7], new Map([[7, a.hash]]))).rejects.toThrow(/still in the index/);
      await expect(store.commit(org, [a], [7], indexOf([a]))).rejects.toThrow(/both written and deleted/);
    });

    it('returns records exactly as committed: nulls, empty strings, nested extras, unicode', async () => {
      const { store, org } = await setup();
      const record = {
        id: 153_744,
        name: 'Société Générale — 東京 🚀',
        email: '',
        phone: null,
        notes: 'line1\nline2\t"quoted" \\ \u0000 \u2028',
        zip_code: '01234',
        tax: 0.1,
        currency: 'EUR',
        custom_fields: { nested: { deep: [1, 'two', null, { three: '' }] }, empty: {} },
        tags: [],
        flag: false,
      };
      const s = snapshot(record, 42);
      await store.commit(org, [s], [], indexOf([s]));
      const got = (await store.getSnapshots(org, [record.id])).get(record.id);
      expect(got).toStrictEqual(s);
      expect(JSON.stringify(got?.record)).toBe(JSON.stringify(record));
      expect(got?.record).not.toHaveProperty('address');
    });

    it('cannot be changed through the objects it returns or was given', async () => {
      const { store, org } = await setup();
      const record = { ...customer(10), custom: { a: 1 } };
      const s = snapshot(record);
      await store.commit(org, [s], [], indexOf([s]));
      (record.custom as { a: number }).a = 2;
      const first = (await store.getSnapshots(org, [10])).get(10) as StoredSnapshot;
      (first.record as Record<string, unknown>).name = 'mutated';
      const index = await store.loadIndex(org);
      index.set(10, '0000000000000000');
      const again = (await store.getSnapshots(org, [10])).get(10);
      expect(again?.record).toEqual({ ...customer(10), custom: { a: 1 } });
      expect((await store.loadIndex(org)).get(10)).toBe(s.hash);
    });

    it('converges when a commit that crashed between snapshots and index is run again', async () => {
      const { store, org } = await setup();
      const old = customerIds(60).map((id) => snapshot(customer(id)));
      await store.commit(org, old, [], indexOf(old));
      const changed = old
        .slice(0, 40)
        .map((s) => snapshot(customer(s.customerId, { status: 'inactive' }), 2));
      const deleted = old.slice(40, 50).map((s) => s.customerId);
      const after = indexOf([...changed, ...old.slice(50)]);

      store.failNext('commit:snapshots', new Error('crash'), { skip: 1 });
      await expect(store.commit(org, changed, deleted, after)).rejects.toThrow('crash');
      store.failNext('commit:index', new Error('crash'));
      await expect(store.commit(org, changed, deleted, after)).rejects.toThrow('crash');
      // Snapshots are new, the index is still the old one: a re-run must repair it.
      expect(await store.loadIndex(org)).toEqual(indexOf(old));
      await store.commit(org, changed, deleted, after);

      expect(await store.loadIndex(org)).toEqual(after);
      const got = await store.getSnapshots(
        org,
        old.map((s) => s.customerId),
      );
      expect(got.size).toBe(50);
      for (const s of changed) expect(got.get(s.customerId)).toEqual(s);
    });
  });

  describe(`${name}: journal`, () => {
    it('splits a large batch into several items and loads it back in order', async () => {
      const { store, org } = await setup();
      const entries = customerIds(400).map((id, i) => journalEntry(org, id, i + 1, incompressible(2_000)));
      const keys = await store.writeJournal(org, 7, entries);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      expect(keys[0]).toBe('JOURNAL#000000000007#0000');

      const batches = await store.loadJournal(org);
      expect(batches.map((b) => b.key)).toEqual(keys);
      expect(batches.flatMap((b) => b.entries)).toEqual(entries);
    });

    it('loads batches oldest poll first and deletes only the keys given', async () => {
      const { store, org } = await setup();
      const later = await store.writeJournal(org, 12, [journalEntry(org, 1, 12)]);
      const earlier = await store.writeJournal(org, 3, [journalEntry(org, 2, 3), journalEntry(org, 5, 3)]);
      const loaded = await store.loadJournal(org);
      expect(loaded.map((b) => b.key)).toEqual([...earlier, ...later]);
      expect(loaded[0]?.entries.map((e) => e.customerId)).toEqual([2, 5]);

      await store.deleteJournal(org, earlier);
      expect((await store.loadJournal(org)).map((b) => b.key)).toEqual(later);
      await store.deleteJournal(org, earlier);
      await store.deleteJournal(org, later);
      expect(await store.loadJournal(org)).toEqual([]);
    });

    it('never overwrites a batch of the same poll that is still there', async () => {
      const { store, org } = await setup();
      const first = await store.writeJournal(org, 4, [journalEntry(org, 1, 4)]);
      const second = await store.writeJournal(org, 4, [journalEntry(org, 2, 4)]);
      expect(first).toEqual(['JOURNAL#000000000004#0000']);
      expect(second).toEqual(['JOURNAL#000000000004#0001']);
      const loaded = await store.loadJournal(org);
      expect(loaded.map((b) => b.entries[0]?.customerId)).toEqual([1, 2]);
    });

    it('keeps a deletion entry (null snapshot) and writes nothing for an empty batch', async () => {
      const { store, org } = await setup();
      const entry = { ...journalEntry(org, 9, 2), snapshot: null };
      expect(await store.writeJournal(org, 2, [])).toEqual([]);
      await store.writeJournal(org, 2, [entry]);
      expect((await store.loadJournal(org))[0]?.entries).toEqual([entry]);
    });
  });

  describe(`${name}: run records`, () => {
    it('lists run records newest first, up to the limit', async () => {
      const { store, org } = await setup();
      const times = ['2026-01-15T10:00:00.000Z', '2026-01-15T12:00:00.000Z', '2026-01-15T11:00:00.000Z'];
      for (const [i, t] of times.entries()) await store.putRunRecord(runRecord(org, i + 1, t));
      await store.putRunRecord({ ...runRecord(org, 9, '2026-01-15T13:00:00+02:00'), error: 'boom' });
      await store.putRunRecord(runRecord(randomUUID(), 1, '2026-01-16T00:00:00.000Z'));

      const all = await store.listRunRecords(org, 10);
      expect(all.map((r) => r.pollNumber)).toEqual([2, 9, 3, 1]);
      expect(all[1]).toEqual({ ...runRecord(org, 9, '2026-01-15T13:00:00+02:00'), error: 'boom' });
      expect((await store.listRunRecords(org, 2)).map((r) => r.pollNumber)).toEqual([2, 9]);
      expect(await store.listRunRecords(org, 0)).toEqual([]);
    });
  });

  describe(`${name}: fault injection`, () => {
    it('fails the chosen call once and leaves the store usable', async () => {
      const { store, clock, org } = await setup();
      store.failNext('acquireLease', new Error('injected'));
      await expect(store.acquireLease(org, 'worker-a', TTL)).rejects.toThrow('injected');
      expect(await store.getOrgState(org)).toBeUndefined();
      expect(await store.acquireLease(org, 'worker-a', TTL)).toMatchObject({
        acquired: true,
        pollNumber: Math.floor(clock.now() / 1000),
      });
    });

    it('can crash a journal write between its items', async () => {
      const { store, org } = await setup();
      const entries = customerIds(300).map((id, i) => journalEntry(org, id, i + 1, incompressible(2_000)));
      store.failNext('writeJournal:item', new Error('crash'), { skip: 1 });
      await expect(store.writeJournal(org, 5, entries)).rejects.toThrow('crash');
      const partial = await store.loadJournal(org);
      expect(partial).toHaveLength(1);
      // The re-run writes the whole batch again after the partial one; nothing is overwritten.
      const keys = await store.writeJournal(org, 5, entries);
      expect(keys[0]).toBe('JOURNAL#000000000005#0001');
      const loaded = await store.loadJournal(org);
      expect(loaded.slice(1).flatMap((b) => b.entries)).toEqual(entries);
    });
  });
}
