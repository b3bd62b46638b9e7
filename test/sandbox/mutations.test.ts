import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { get, getJson, type ListBody, walkListing } from './helpers.ts';

describe('sandbox mutations', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ documented: false, generated: 250, rateLimit: null, seed: 5 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.reset();
  });

  it('shows created, updated and removed customers in the next listing and single reads', async () => {
    const before = await walkListing(sandbox);
    const victim = before.ids[10] ?? 0;
    const changed = before.ids[20] ?? 0;
    const created = sandbox.create({ name: 'Brand new client', email: 'new@client.example', Status: 1 });
    sandbox.update(changed, { name: 'Renamed client', notes: 'moved' });
    expect(sandbox.remove(victim)).toBe(true);

    const after = await walkListing(sandbox);
    expect(after.ids).toHaveLength(250);
    expect(after.ids).not.toContain(victim);
    expect(after.ids.at(-1)).toBe(created.id);
    const all = after.pages.flatMap((p) => p.customers);
    expect(all.find((c) => c.id === created.id)).toMatchObject({ name: 'Brand new client', status: 1 });
    expect(all.find((c) => c.id === changed)).toMatchObject({ name: 'Renamed client', Notes: 'moved' });
    expect((await get(sandbox, `customers/${victim}`)).status).toBe(404);
    const single = await getJson<ListBody>(sandbox, `customers/${created.id}`);
    expect(single.customers[0]).toEqual(sandbox.get(created.id));
  });

  it('lists the current raw records in listing order and restores the initial data on reset', () => {
    sandbox.remove(sandbox.list()[0]?.id ?? 0);
    expect(sandbox.size).toBe(249);
    sandbox.reset();
    const list = sandbox.list();
    expect(list).toHaveLength(250);
    expect(list.map((c) => c.id)).toEqual([...list.map((c) => c.id)].sort((a, b) => a - b));
  });
});

describe('sandbox page shifts: position-based paging skips and duplicates', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ documented: false, generated: 30, rateLimit: null, seed: 3 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.reset();
  });

  it('skips a customer when one already listed is deleted mid-listing', async () => {
    const ids = sandbox.list().map((c) => c.id);
    const deleted = ids[3] ?? 0; // on page 1
    const skipped = ids[10] ?? 0; // first of page 2 before the shift, last of page 1 after it
    const shift = sandbox.afterPage(1, () => sandbox.remove(deleted));

    const walk = await walkListing(sandbox, 'customers?limit=10');

    expect(shift.hits).toBe(1);
    expect(walk.ids).toContain(deleted); // it was served on page 1, before it went
    expect(walk.ids).not.toContain(skipped); // never served, though it exists throughout
    expect(sandbox.get(skipped)).toBeDefined();
    expect(walk.ids).toHaveLength(29);
    expect(new Set(walk.ids).size).toBe(29);
  });

  it('serves a customer twice when one is created at the front mid-listing', async () => {
    const ids = sandbox.list().map((c) => c.id);
    const duplicated = ids[9] ?? 0; // last of page 1, pushed to the top of page 2
    let createdId = 0;
    sandbox.afterPage(1, () => {
      createdId = sandbox.create({ id: 1, name: 'Aardvark Ltd' }).id;
    });

    const walk = await walkListing(sandbox, 'customers?limit=10');

    expect(walk.ids.filter((id) => id === duplicated)).toHaveLength(2);
    expect(walk.ids).not.toContain(createdId); // created before the page the listing had already read
    expect(walk.ids).toHaveLength(31);
    expect(walk.pages[1]?.customers[0]?.id).toBe(duplicated);
  });

  it('can change the data before a page is answered, and report a failing change as a 500', async () => {
    const ids = sandbox.list().map((c) => c.id);
    sandbox.inject({ kind: 'mutate', when: 'before', page: 2, run: () => sandbox.remove(ids[0] ?? 0) });
    const page2 = await getJson<ListBody>(sandbox, 'customers?limit=10&page=2');
    expect(page2.customers[0]?.id).toBe(ids[11]);

    sandbox.inject({
      kind: 'mutate',
      when: 'before',
      run: () => {
        throw new Error('no such customer');
      },
    });
    expect((await get(sandbox, 'customers')).status).toBe(500);
    expect(sandbox.errors.map((e) => e.message)).toContain('no such customer');
  });
});

describe('sandbox ids', () => {
  it('never hands out the id of a deleted customer again', async () => {
    const sandbox = await startSandbox({ rateLimit: null });
    try {
      const last = sandbox.create({ name: 'Last' });
      sandbox.remove(last.id);
      expect(sandbox.create({ name: 'Next' }).id).toBe(last.id + 1);
    } finally {
      await sandbox.close();
    }
  });
});
