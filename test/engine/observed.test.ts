/**
 * The compact holders a poll keeps between listing and publishing: what goes in comes out exactly (same
 * values, same key order, so the same event text), in order; previous snapshots are read in groups.
 */
import { describe, expect, it } from 'vitest';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import { BLOCK_RECORDS, ObservedCustomers } from '../../shared/engine/observed.ts';
import { PriorSnapshots } from '../../shared/engine/prior.ts';
import type { StoredSnapshot } from '../../shared/ports.ts';
import { customer } from '../support/fake-source.ts';

describe('ObservedCustomers', () => {
  it('gives back every customer as it was added, key order included, in order, and then holds none', () => {
    const held = new ObservedCustomers();
    const added: CanonicalCustomer[] = [];
    for (let id = 1; id <= BLOCK_RECORDS * 2 + 7; id++) {
      const c = customer(id, { zeta: `Zoë ${id}`, alpha: [1, { b: null }], notes: id % 3 ? null : '' });
      added.push(c);
      held.add(c, `hash-${id}`);
    }
    // A key such as "__proto__" is an ordinary own property of a canonical record and stays one.
    const odd = JSON.parse('{"id": 999, "__proto__": {"x": 1}, "name": "日本"}') as CanonicalCustomer;
    added.push(odd);
    held.add(odd, 'hash-odd');

    expect(held.size).toBe(added.length);
    expect([...held.ids()]).toEqual(added.map((c) => c.id));
    const out = [...held.drain()];
    expect(out.map((o) => JSON.stringify(o.customer))).toEqual(added.map((c) => JSON.stringify(c)));
    expect(out.map((o) => o.hash)).toEqual([...added.map((c) => `hash-${c.id}`).slice(0, -1), 'hash-odd']);
    expect(Object.hasOwn(out.at(-1)?.customer ?? {}, '__proto__')).toBe(true);
    expect(held.size).toBe(0);
    expect([...held.drain()]).toEqual([]);
  });

  it('seals a block early when its records are large, and keeps them whole', () => {
    const held = new ObservedCustomers();
    const big = 'x'.repeat(200_000);
    held.add(customer(1, { notes: big }), 'a');
    held.add(customer(2), 'b');
    const out = [...held.drain()];
    expect(out.map((o) => o.customer.id)).toEqual([1, 2]);
    expect(out[0]?.customer.notes).toBe(big);
  });
});

describe('PriorSnapshots', () => {
  const snapshot = (id: number): StoredSnapshot => ({
    customerId: id,
    hash: `h${id}`,
    record: customer(id),
    sequence: 1,
  });

  it('reads the ids in groups, in order, each once, as they are asked for', async () => {
    const reads: number[][] = [];
    const ids = [5, 3, 9, 1, 7];
    const prior = new PriorSnapshots(
      ids,
      async (group) => {
        reads.push([...group]);
        return new Map(group.filter((id) => id !== 9).map((id) => [id, snapshot(id)]));
      },
      2,
    );
    expect(reads).toEqual([]);
    expect((await prior.get(5))?.hash).toBe('h5');
    expect((await prior.get(42))?.hash).toBeUndefined(); // not among the ids: no read
    expect((await prior.get(3))?.hash).toBe('h3');
    expect(await prior.get(9)).toBeUndefined(); // no snapshot: answered without reading further
    expect(reads).toEqual([
      [5, 3],
      [9, 1],
    ]);
    expect((await prior.get(1))?.hash).toBe('h1');
    expect((await prior.get(7))?.hash).toBe('h7');
    expect(reads).toEqual([[5, 3], [9, 1], [7]]);
  });
});
