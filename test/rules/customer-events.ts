/** Builders of customer change events as an EventBridge rule target receives them (test fixtures). */
import type { CanonicalCustomer } from '../../shared/customer.ts';
import { type ChangeType, DETAIL_TYPES, type EventBridgeEvent } from '../../shared/events/contract.ts';

export const ORG = '5f0c1c9e-7d1f-4c57-9a9b-2f3e4d5c6b7a';

export function customer(
  overrides: Partial<Record<string, CanonicalCustomer[string]>> = {},
): CanonicalCustomer {
  return {
    id: 42,
    name: 'Acme Ltd',
    status: 0,
    email: 'billing@acme.example',
    country: 40,
    ...overrides,
  } as CanonicalCustomer;
}

export function customerEvent(
  changeType: ChangeType,
  before: CanonicalCustomer | null,
  after: CanonicalCustomer | null,
  eventId = `evt-${changeType}-42`,
): EventBridgeEvent {
  const changedFields: string[] = [];
  const changes: Record<string, { before?: unknown; after?: unknown }> = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    const b = before?.[key];
    const a = after?.[key];
    if (JSON.stringify(b) !== JSON.stringify(a)) {
      changedFields.push(key);
      changes[key] = { before: b, after: a };
    }
  }
  return {
    version: '0',
    id: `eb-${eventId}`,
    'detail-type': DETAIL_TYPES[changeType],
    source: 'nutcache.customers',
    account: '123456789012',
    time: '2026-01-15T10:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      eventId,
      schemaVersion: '1.0',
      organizationGuid: ORG,
      customerId: (after ?? before)?.id ?? 0,
      changeType,
      changedFields,
      ...(changeType === 'updated' ? { changes } : {}),
      before,
      after,
      sequence: 7,
      observedAt: '2026-01-15T10:00:00Z',
      pollId: 'poll-1',
    },
  };
}
