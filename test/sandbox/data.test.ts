import { describe, expect, it } from 'vitest';
import {
  CustomerStore,
  documentedCustomers,
  FIRST_GENERATED_ID,
  generateCustomers,
  SEED_MAX_ID,
} from '../../sandbox/data.ts';

describe('sandbox data: generated customers', () => {
  it('are the same for the same seed and differ for another seed', () => {
    expect(generateCustomers(50, 7)).toEqual(generateCustomers(50, 7));
    expect(generateCustomers(50, 7)).not.toEqual(generateCustomers(50, 8));
  });

  it('have increasing ids above the documented ones', () => {
    const ids = generateCustomers(1000, 3).map((c) => c.id);
    expect(ids[0]).toBe(FIRST_GENERATED_ID);
    expect(FIRST_GENERATED_ID).toBeGreaterThan(SEED_MAX_ID);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] ?? Infinity);
  });

  it('look real: names, well-formed e-mails, both statuses, countries, the documented key order', () => {
    const customers = generateCustomers(1000, 11);
    const keys = Object.keys(documentedCustomers()[0] ?? {});
    for (const c of customers) {
      expect(Object.keys(c)).toEqual(keys);
      expect(c.name).toMatch(/^\S.*\S$/);
      if (c.email !== null) expect(c.email).toMatch(/^[a-z0-9.-]+@[a-z0-9-]+\.[a-z]+$/);
      expect(c.links.at(-1)).toEqual({ href: `customers/${c.id}`, rel: 'self', type: 'GET' });
    }
    const statuses = new Set(customers.map((c) => c.status));
    expect(statuses).toEqual(new Set([0, 1]));
    expect(customers.filter((c) => c.email === null).length).toBeGreaterThan(0);
    expect(new Set(customers.map((c) => c.country)).size).toBeGreaterThan(3);
    expect(new Set(customers.map((c) => c.name)).size).toBeGreaterThan(500);
  });
});

describe('sandbox data: the customer store', () => {
  it('creates customers with the documented blank fields, derived links and a fresh id', () => {
    const store = new CustomerStore(1686, documentedCustomers());
    const c = store.create({ name: 'Nouveau client', country: 40, notes: 'hello' });
    expect(c.id).toBe(SEED_MAX_ID + 1);
    expect(c.Notes).toBe('hello');
    expect(c).not.toHaveProperty('notes');
    expect(c.links).toEqual([
      { href: 'organizations/1686', rel: 'organizations', type: 'GET' },
      { href: 'countries/40', rel: 'countries', type: 'GET' },
      { href: `customers/${c.id}`, rel: 'self', type: 'GET' },
    ]);
    expect(store.list().at(-1)).toEqual(c);
  });

  it('puts a customer created with a small id at the front of the listing', () => {
    const store = new CustomerStore(1686, documentedCustomers());
    store.create({ id: 5, name: 'First' });
    expect(store.list()[0]?.id).toBe(5);
    expect(() => store.create({ id: 5 })).toThrow(/already exists/);
  });

  it('updates fields under their documented spelling and refuses to change the id', () => {
    const store = new CustomerStore(1686, documentedCustomers());
    const updated = store.update(143224, { STATUS: 1, Tax: null, currency: 'CAD' });
    expect(updated.status).toBe(1);
    expect(updated.tax).toBeNull();
    expect(updated.currency).toBe('CAD');
    expect(updated.links.map((l) => l.rel)).toEqual(['organizations', 'self']);
    expect(() => store.update(143224, { id: 1 })).toThrow(/cannot be changed/);
    expect(() => store.update(1, { name: 'x' })).toThrow(/does not exist/);
  });

  it('returns copies, so callers cannot change served data by accident', () => {
    const store = new CustomerStore(1686, documentedCustomers());
    const c = store.get(143222);
    if (!c) throw new Error('seed customer missing');
    c.name = 'changed';
    expect(store.get(143222)?.name).toBe('Sample client');
  });

  it('removes and resets', () => {
    const store = new CustomerStore(1686, documentedCustomers());
    expect(store.remove(143222)).toBe(true);
    expect(store.remove(143222)).toBe(false);
    expect(store.size).toBe(7);
    store.reset();
    expect(store.size).toBe(8);
    expect(store.get(143222)?.name).toBe('Sample client');
  });
});
