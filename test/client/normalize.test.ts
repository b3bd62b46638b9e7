import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CanonicalCustomer, customerHash, type JsonValue } from '../../shared/customer.ts';
import { normalizeCustomer } from '../../shared/nutcache/normalize.ts';
import type { ParsedCustomer } from '../../shared/nutcache/types.ts';
import { seedListResponse } from './fixtures/seed-customers.ts';

function accepted(parsed: ParsedCustomer): CanonicalCustomer {
  if (!parsed.ok) throw new Error(`expected the record to be accepted, got: ${parsed.reason}`);
  return parsed.customer;
}

function rejected(parsed: ParsedCustomer): { id: number | undefined; reason: string } {
  if (parsed.ok) throw new Error('expected the record to be rejected');
  return parsed;
}

const seedRecord = seedListResponse.customers[0] as Record<string, JsonValue>;

describe('normalizeCustomer', () => {
  it('turns the seed record into lower-case snake_case fields, dropping type and links and keeping values exactly', () => {
    expect(accepted(normalizeCustomer(seedRecord))).toEqual({
      id: 143222,
      organization: 1686,
      name: 'Sample client',
      status: 0,
      email: '143222@yopmail.com',
      contact: 'Sample contact name',
      address: null,
      city: null,
      zip_code: null,
      phone: '123-456-7890',
      mobile_phone: null,
      country: 40,
      state: null,
      legal_notice: null,
      communication_culture_code: null,
      notes: null,
      tax: null,
    });
  });

  it('accepts every record of the seed listing', () => {
    const parsed = seedListResponse.customers.map(normalizeCustomer);
    expect(parsed.every((p) => p.ok)).toBe(true);
    expect(parsed.map((p) => accepted(p).id)).toEqual([
      143222, 143224, 143225, 147033, 147504, 149643, 153744, 153745,
    ]);
  });

  it('keeps "" as "", null as null and leaves unsent fields absent', () => {
    const customer = accepted(normalizeCustomer({ id: 1, contact: '', phone: null }));
    expect(customer).toEqual({ id: 1, contact: '', phone: null });
    expect('email' in customer).toBe(false);
  });

  it('gives the same record for Status/status, Notes/notes, Organization/organization and ZIP_CODE/zip_code', () => {
    const a = normalizeCustomer({ id: 7, Status: 1, Notes: 'x', Organization: 3, ZIP_CODE: 'H2X' });
    const b = normalizeCustomer({ id: 7, status: 1, notes: 'x', organization: 3, Zip_Code: 'H2X' });
    expect(accepted(a)).toEqual(accepted(b));
    expect(customerHash(accepted(a))).toBe(customerHash(accepted(b)));
  });

  it('keeps unknown fields under their lower-cased names, whatever JSON they hold', () => {
    const customer = accepted(
      normalizeCustomer({ id: 2, BillingCode: 'B-1', Extra: { Nested: [1, true] }, Type: 'customers' }),
    );
    expect(customer).toEqual({ id: 2, billingcode: 'B-1', extra: { Nested: [1, true] } });
  });

  it('accepts duplicate keys differing only by case when their values are equal', () => {
    expect(accepted(normalizeCustomer({ id: 3, Status: 0, status: 0 }))).toEqual({ id: 3, status: 0 });
  });

  it('rejects a record whose keys differ only by case but disagree, naming both keys', () => {
    const r = rejected(normalizeCustomer({ id: 4, Status: 0, status: 1 }));
    expect(r.id).toBe(4);
    expect(r.reason).toContain("'Status' and 'status'");
  });

  it('rejects a numeric string id, says why, and still reports the id it spells', () => {
    const r = rejected(normalizeCustomer({ ...seedRecord, id: '143222' }));
    expect(r.id).toBe(143222);
    expect(r.reason).toMatch(/id is the string "143222", not a number/);
  });

  it.each([
    [{ name: 'no id' }, 'id is missing'],
    [{ id: 1.5 }, 'id: expected an integer, got a non-integer number'],
    [{ id: null }, 'id: expected an integer, got null'],
    [{ id: 'abc' }, 'id: expected an integer, got a string'],
  ])('rejects a record without a usable id (%j)', (raw, reason) => {
    const r = rejected(normalizeCustomer(raw));
    expect(r.id).toBeUndefined();
    expect(r.reason).toBe(reason);
  });

  it.each([
    [{ id: 5, status: '0' }, 'status: expected a number or null, got a string'],
    [{ id: 5, Organization: '1686' }, 'organization: expected a number or null, got a string'],
    [{ id: 5, name: 12 }, 'name: expected a string or null, got a number'],
    [{ id: 5, email: ['a@b.c'] }, 'email: expected a string or null, got an array'],
    [{ id: 5, currency: true }, 'currency: expected a string, number or null, got a boolean'],
  ])('rejects wrong value types with the field and the expectation (%j)', (raw, reason) => {
    const r = rejected(normalizeCustomer(raw));
    expect(r.id).toBe(5);
    expect(r.reason).toBe(reason);
  });

  it.each(['CAD', 12, null])('accepts currency as a string, a number or null (%j)', (currency) => {
    expect(accepted(normalizeCustomer({ id: 6, Currency: currency })).currency).toBe(currency);
  });

  it.each([null, 'x', 42, [{ id: 1 }]])('rejects a record that is not an object (%j)', (raw) => {
    expect(rejected(normalizeCustomer(raw)).reason).toMatch(/not an object/);
  });

  it('keeps a key named __proto__ as ordinary data', () => {
    const customer = accepted(normalizeCustomer(JSON.parse('{"id":8,"__proto__":{"polluted":1}}')));
    expect(Object.getPrototypeOf(customer)).toBe(Object.prototype);
    expect(Object.keys(customer)).toEqual(['id', '__proto__']);
  });

  it('gives the same canonical record and hash under any casing of the seed records keys (property)', () => {
    const randomCasing = (key: string) =>
      fc
        .array(fc.boolean(), { minLength: key.length, maxLength: key.length })
        .map((upper) => [...key].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
    const recasedRecord = (record: Record<string, JsonValue>) =>
      fc
        .tuple(...Object.keys(record).map((k) => randomCasing(k)))
        .chain((keys) =>
          fc.shuffledSubarray(keys, { minLength: keys.length, maxLength: keys.length }).map((order) => ({
            keys,
            order,
          })),
        )
        .map(({ keys, order }) => {
          const values = Object.values(record);
          const entries = keys.map((k, i) => [k, values[i]] as const);
          const byKey = new Map(entries);
          return Object.fromEntries(order.map((k) => [k, byKey.get(k)]));
        });
    const seeds = seedListResponse.customers;
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: seeds.length - 1 })
          .chain((i) => recasedRecord(seeds[i] as Record<string, JsonValue>).map((r) => ({ i, r }))),
        ({ i, r }) => {
          const expected = accepted(normalizeCustomer(seeds[i]));
          const actual = accepted(normalizeCustomer(r));
          expect(actual).toEqual(expected);
          expect(customerHash(actual)).toBe(customerHash(expected));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('customer ids the store cannot key', () => {
  it.each([-1, 1_000_000_000_000_000])('sets aside a record with id %s instead of passing it on', (id) => {
    const parsed = normalizeCustomer({ id, name: 'x' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/id/);
  });
});
