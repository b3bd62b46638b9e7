import { describe, expect, it } from 'vitest';
import { customerChangeDetailSchema } from '../../shared/events/contract.ts';
import {
  entrySize,
  eventBridgeTime,
  InvalidBusEventError,
  reduceOversizedEvent,
  toBusEntry,
} from '../../shared/publish/serialize.ts';
import { makeEvent } from './fakes.ts';

describe('toBusEntry', () => {
  it('serialises the detail as JSON text and keeps source, detail type, time and resources', () => {
    const event = { ...makeEvent(1), resources: ['urn:nutcache:org-1'] };
    const entry = toBusEntry(event);
    expect(entry).toEqual({
      source: 'nutcache.customers',
      detailType: 'Customer Updated',
      detail: JSON.stringify(event.detail),
      time: new Date('2026-11-27T10:00:00.000Z'),
      resources: ['urn:nutcache:org-1'],
    });
  });

  it('refuses an event whose time is not a date', () => {
    expect(() => toBusEntry({ ...makeEvent(1), time: 'yesterday' })).toThrow(InvalidBusEventError);
  });
});

describe('entrySize (AWS "Calculating PutEvents event entry size")', () => {
  it('counts 14 bytes for Time plus the UTF-8 bytes of Source, DetailType, Detail and each resource', () => {
    const entry = {
      source: 'src',
      detailType: 'Café', // 5 bytes in UTF-8
      detail: '{"n":"€"}', // 11 bytes in UTF-8
      time: new Date(0),
      resources: ['ab', 'ü'], // 2 + 2
    };
    expect(entrySize(entry)).toBe(14 + 3 + 5 + 11 + 4);
  });
});

describe('reduceOversizedEvent', () => {
  it('nulls before/after, marks it truncated and keeps the same eventId and changes when they fit', () => {
    const big = makeEvent(4, { notesBytes: 10_000 });
    const reduced = reduceOversizedEvent(big, 2_000);
    expect(reduced?.droppedChanges).toBe(false);
    expect(reduced?.size).toBeLessThanOrEqual(2_000);
    const detail = customerChangeDetailSchema.parse(reduced?.event.detail);
    expect(detail).toMatchObject({
      eventId: 'evt-4',
      before: null,
      after: null,
      truncated: true,
      changedFields: ['name'],
    });
    expect(detail.changes).toEqual({ name: { before: 'Customer 4', after: 'Customer 4 renamed' } });
  });

  it('returns undefined for an anomaly event, which has nothing to leave out', () => {
    const anomaly = {
      ...makeEvent(1),
      detailType: 'Customer Sync Anomaly',
      detail: {
        eventId: 'anomaly-1',
        schemaVersion: '1.0' as const,
        organizationGuid: 'org-1',
        anomaly: 'mass-deletion' as const,
        heldDeletions: 1,
        knownCustomers: 2,
        sampleCustomerIds: [],
        observedAt: '2026-11-27T10:00:00.000Z',
        pollId: 'p',
        message: 'm'.repeat(5_000),
      },
    };
    expect(reduceOversizedEvent(anomaly, 1_000)).toBeUndefined();
  });
});

describe('eventBridgeTime', () => {
  it('formats UTC without milliseconds, like EventBridge', () => {
    expect(eventBridgeTime(new Date('2026-11-27T10:00:00.123Z'))).toBe('2026-11-27T10:00:00Z');
  });
});
