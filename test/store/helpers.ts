/** Test helpers for the snapshot store suites. */
import { randomBytes } from 'node:crypto';
import { type CanonicalCustomer, customerHash } from '../../shared/customer.ts';
import { DEFAULT_EVENT_SOURCE, DETAIL_TYPES, SCHEMA_VERSION } from '../../shared/events/contract.ts';
import type { JournalEntry, RunRecord, StoredSnapshot } from '../../shared/ports.ts';
import { TestClock } from '../support/clock.ts';
import { customerRecord } from '../support/customer.ts';

/** The test clock, starting at 2026-01-15T12:00Z (the time the fixtures below are written for). */
export function storeClock(): TestClock {
  return new TestClock({ start: Date.UTC(2026, 0, 15, 12, 0, 0) });
}

export function customer(
  id: number,
  extra: Record<string, CanonicalCustomer[string]> = {},
): CanonicalCustomer {
  return customerRecord(id, { status: 'active', ...extra });
}

export function snapshot(record: CanonicalCustomer, sequence = 1): StoredSnapshot {
  return { customerId: record.id, hash: customerHash(record), record, sequence };
}

/** The index a caller would pass after committing `snapshots`. */
export function indexOf(snapshots: readonly StoredSnapshot[]): Map<number, string> {
  return new Map(snapshots.map((s) => [s.customerId, s.hash]));
}

/** `count` distinct customer ids spread like Nutcache's (six-digit, irregular gaps). */
export function customerIds(count: number, start = 143_222): number[] {
  return Array.from({ length: count }, (_, i) => start + i * 7 + (i % 5));
}

export function journalEntry(
  organizationGuid: string,
  id: number,
  sequence: number,
  padding = '',
): JournalEntry {
  const after = customer(id, padding ? { notes: padding } : {});
  return {
    customerId: id,
    event: {
      source: DEFAULT_EVENT_SOURCE,
      detailType: DETAIL_TYPES.created,
      time: '2026-01-15T12:00:00.000Z',
      resources: [],
      detail: {
        eventId: `${organizationGuid}:${id}:${sequence}`,
        schemaVersion: SCHEMA_VERSION,
        organizationGuid,
        customerId: id,
        changeType: 'created',
        changedFields: ['id', 'name'],
        before: null,
        after,
        sequence,
        observedAt: '2026-01-15T12:00:00.000Z',
        pollId: `poll-${sequence}`,
      },
    },
    snapshot: snapshot(after, sequence),
  };
}

/** Text that gzip cannot shrink much (so journal batches really need several items). */
export function incompressible(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes);
}

export function runRecord(organizationGuid: string, pollNumber: number, startedAt: string): RunRecord {
  return {
    pollId: `poll-${pollNumber}`,
    pollNumber,
    organizationGuid,
    mode: 'poll',
    startedAt,
    finishedAt: startedAt,
    durationMs: 1234,
    outcome: 'success',
    counts: { created: 1, updated: 0, deleted: 0 },
    nutcacheRequests: 3,
  };
}
