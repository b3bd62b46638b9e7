import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CanonicalCustomer, customerHash, type JsonValue } from '../../shared/customer.ts';
import { diffCustomers } from '../../shared/engine/diff.ts';
import { deterministicEventId } from '../../shared/engine/event-id.ts';
import { buildChangeEvent } from '../../shared/engine/events.ts';
import { customerChangeDetailSchema } from '../../shared/events/contract.ts';

const base: CanonicalCustomer = {
  id: 143222,
  organization: 1686,
  name: 'Sample client',
  status: 0,
  email: '143222@yopmail.com',
  contact: 'Sample contact name',
  address: null,
  phone: '123-456-7890',
  country: 40,
  notes: null,
};

describe('diffCustomers', () => {
  it('reports nothing for equal customers, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as CanonicalCustomer;
    expect(diffCustomers(base, reordered)).toEqual({ changedFields: [], changes: {} });
  });

  it('reports each changed field with its before and after value, in documented field order', () => {
    const after = { ...base, status: 1, email: 'new@example.com', name: 'Renamed' };
    const diff = diffCustomers(base, after);
    expect(diff.changedFields).toEqual(['name', 'status', 'email']);
    expect(diff.changes).toEqual({
      name: { before: 'Sample client', after: 'Renamed' },
      status: { before: 0, after: 1 },
      email: { before: '143222@yopmail.com', after: 'new@example.com' },
    });
  });

  it('treats null and the empty string as different values', () => {
    const diff = diffCustomers(base, { ...base, address: '' });
    expect(diff.changes).toEqual({ address: { before: null, after: '' } });
  });

  it('reports a field that appears or disappears, leaving out the absent side', () => {
    const { notes: _dropped, ...withoutNotes } = base;
    const withCurrency = { ...withoutNotes, currency: 'CAD' } as CanonicalCustomer;
    const diff = diffCustomers(base, withCurrency);
    expect(diff.changedFields).toEqual(['currency', 'notes']);
    expect(diff.changes.notes).toEqual({ before: null });
    expect(diff.changes.currency).toEqual({ after: 'CAD' });
  });

  it('compares nested extra fields by value', () => {
    const a = { ...base, custom: { b: 1, a: [1, 2] } } as CanonicalCustomer;
    const b = { ...base, custom: { a: [1, 2], b: 1 } } as CanonicalCustomer;
    const c = { ...base, custom: { a: [2, 1], b: 1 } } as CanonicalCustomer;
    expect(diffCustomers(a, b).changedFields).toEqual([]);
    expect(diffCustomers(a, c).changedFields).toEqual(['custom']);
  });

  it('agrees with the content hash: no changed field exactly when the hashes are equal (property)', () => {
    const value: fc.Arbitrary<JsonValue> = fc.oneof(
      fc.constant(null),
      fc.constant(''),
      fc.string({ maxLength: 4 }),
      fc.integer({ min: -2, max: 2 }),
    );
    const fields = fc.dictionary(fc.constantFrom('name', 'status', 'email', 'city', 'x_extra'), value, {
      maxKeys: 5,
    });
    fc.assert(
      fc.property(fields, fields, (f1, f2) => {
        const a = { ...f1, id: 1 } as CanonicalCustomer;
        const b = { ...f2, id: 1 } as CanonicalCustomer;
        const diff = diffCustomers(a, b);
        expect(diff.changedFields.length === 0).toBe(customerHash(a) === customerHash(b));
        for (const field of diff.changedFields) {
          expect(diff.changes[field]?.before).not.toEqual(diff.changes[field]?.after);
        }
      }),
      { seed: 4242, numRuns: 500 },
    );
  });
});

describe('event ids', () => {
  it('are the same for the same inputs and differ when any input differs', () => {
    const id = deterministicEventId('customer', 'ORG', 1, 5, 'updated');
    expect(deterministicEventId('customer', 'ORG', 1, 5, 'updated')).toBe(id);
    expect(deterministicEventId('customer', 'ORG', 1, 6, 'updated')).not.toBe(id);
    expect(deterministicEventId('customer', 'ORG', 2, 5, 'updated')).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('do not collide on ambiguous concatenations', () => {
    expect(deterministicEventId('a', '1-2')).not.toBe(deterministicEventId('a-1', '2'));
  });
});

describe('buildChangeEvent', () => {
  const ctx = {
    organizationGuid: '846E176E-7C4B-4BFD-A894-C98F2988927E',
    source: 'nutcache.customers',
    pollId: 'p-7',
    sequence: 7,
    observedAt: '2026-11-27T10:00:00.000Z',
  };

  it('builds an update that satisfies the published schema, with changes and changedFields', () => {
    const event = buildChangeEvent(ctx, 'updated', base, { ...base, status: 1 });
    expect(event.detailType).toBe('Customer Updated');
    const detail = customerChangeDetailSchema.parse(event.detail);
    expect(detail.changedFields).toEqual(['status']);
    expect(detail.changes).toEqual({ status: { before: 0, after: 1 } });
    expect(detail.sequence).toBe(7);
  });

  it('lists the non-null fields as changedFields of a creation, and has no changes', () => {
    const event = buildChangeEvent(ctx, 'created', null, base);
    const detail = customerChangeDetailSchema.parse(event.detail);
    expect(event.detailType).toBe('Customer Created');
    expect(detail.changes).toBeUndefined();
    expect(detail.changedFields).toEqual([
      'id',
      'organization',
      'name',
      'status',
      'email',
      'contact',
      'country',
      'phone',
    ]);
  });

  it('gives a deletion the before record and a null after', () => {
    const event = buildChangeEvent(ctx, 'deleted', base, null);
    const detail = customerChangeDetailSchema.parse(event.detail);
    expect(detail.before?.id).toBe(143222);
    expect(detail.after).toBeNull();
    expect(event.detailType).toBe('Customer Deleted');
  });
});
