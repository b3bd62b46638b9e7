import { describe, expect, it } from 'vitest';
import { LeaseKeeper, LeaseLostError } from '../../shared/engine/lease-keeper.ts';
import type { SnapshotStore } from '../../shared/ports.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { TestClock } from '../support/clock.ts';
import { ORG, silent } from './phases/run-support.ts';

const TTL = 60_000;

function keeperOn(store: Pick<SnapshotStore, 'renewLease'>, clock: TestClock): LeaseKeeper {
  return new LeaseKeeper(store, clock, silent, {
    organizationGuid: ORG,
    owner: 'me',
    ttlMs: TTL,
    acquiredAtMs: clock.now(),
    logContext: {},
  });
}

describe('the lease while a poll runs', () => {
  it('is still held, renewed when two thirds of it are gone, for as long as the poll runs', async () => {
    const clock = new TestClock();
    const store = new InMemorySnapshotStore({ clock });
    await store.acquireLease(ORG, 'me', TTL);
    const keeper = keeperOn(store, clock);
    for (let i = 0; i < 5; i += 1) {
      clock.advance(TTL / 2);
      expect(await keeper.stillHeld()).toBe(true);
    }
    expect((await store.acquireLease(ORG, 'other', TTL)).acquired).toBe(false);
  });

  it('is lost once another poll took it after it expired, and every checkpoint then stops the poll', async () => {
    const clock = new TestClock();
    const store = new InMemorySnapshotStore({ clock });
    await store.acquireLease(ORG, 'me', TTL);
    const keeper = keeperOn(store, clock);
    clock.advance(TTL + 1);
    expect((await store.acquireLease(ORG, 'other', TTL)).acquired).toBe(true);
    expect(await keeper.stillHeld()).toBe(false);
    await expect(keeper.checkpoint()).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('is given up when renewals keep failing and less than a third of it is left', async () => {
    const clock = new TestClock();
    let renewals = 0;
    const unreachable = {
      renewLease: async (): Promise<boolean> => {
        renewals += 1;
        throw new Error('store unreachable');
      },
    };
    const keeper = keeperOn(unreachable, clock);
    clock.advance(TTL / 2);
    expect(await keeper.stillHeld()).toBe(true);
    clock.advance(TTL / 4);
    expect(await keeper.stillHeld()).toBe(false);
    expect(renewals).toBe(2);
  });
});
