import { describe, expect, it } from 'vitest';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { withStoreFaults } from '../support/store-faults.ts';
import { defineStoreContract } from './contract.ts';
import { customer, customerIds, indexOf, runRecord, snapshot, storeClock } from './helpers.ts';

defineStoreContract('InMemorySnapshotStore', (clock) =>
  withStoreFaults(new InMemorySnapshotStore({ clock })),
);

describe('InMemorySnapshotStore', () => {
  it('round-trips an index of 20,000 customers', async () => {
    const store = new InMemorySnapshotStore({ clock: storeClock() });
    const snapshots = customerIds(20_000).map((id) => snapshot(customer(id)));
    await store.commit('org', snapshots, [], indexOf(snapshots));
    expect(await store.loadIndex('org')).toEqual(indexOf(snapshots));
  });

  it('keeps run records for 30 days by default, or as configured', async () => {
    const clock = storeClock();
    const nowSeconds = Math.floor(clock.now() / 1000);
    const store = new InMemorySnapshotStore({ clock });
    await store.putRunRecord(runRecord('org', 1, '2026-01-15T12:00:00.000Z'));
    expect(store.runRecordExpiry('org')).toEqual([nowSeconds + 30 * 86_400]);
    const short = new InMemorySnapshotStore({ clock, runRecordTtlDays: 1 });
    await short.putRunRecord(runRecord('org', 1, '2026-01-15T12:00:00.000Z'));
    expect(short.runRecordExpiry('org')).toEqual([nowSeconds + 86_400]);
  });

  it('calls the beforeOperation hook at every step, and a throwing hook aborts the step', async () => {
    const points: string[] = [];
    const store = withStoreFaults(new InMemorySnapshotStore(), {
      beforeOperation: (point) => {
        points.push(point);
        if (point === 'commit:index' && points.filter((p) => p === 'commit:index').length === 1) {
          throw new Error('power cut');
        }
      },
    });
    const s = snapshot(customer(1));
    await expect(store.commit('org', [s], [], indexOf([s]))).rejects.toThrow('power cut');
    expect(points).toEqual(['commit', 'commit:snapshots', 'commit:index']);
    expect((await store.getSnapshots('org', [1])).size).toBe(1);
    expect((await store.loadIndex('org')).size).toBe(0);
    expect(store.calls).toMatchObject({ commit: 1, getSnapshots: 1, loadIndex: 1 });
  });
});
