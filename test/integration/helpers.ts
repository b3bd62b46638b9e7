/**
 * Shared by the engine and CLI integration tests: the sandbox's customers as the engine should see them,
 * and the checks every run of the engine must pass whatever happened (stable event ids).
 */
import { expect } from 'vitest';
import type { SandboxCustomers } from '../../sandbox/server.ts';
import { type CanonicalCustomer, stableStringify } from '../../shared/customer.ts';
import { type CustomerChangeDetail, customerChangeDetailSchema } from '../../shared/events/contract.ts';
import { normalizeCustomer } from '../../shared/nutcache/normalize.ts';

/** The sandbox's current customers, normalised: what a consumer must end with. */
export function canonicalCustomersOf(customers: SandboxCustomers): Map<number, CanonicalCustomer> {
  const out = new Map<number, CanonicalCustomer>();
  for (const record of customers.list()) {
    const parsed = normalizeCustomer(record);
    if (!parsed.ok) throw new Error(`sandbox customer ${record.id} does not normalise: ${parsed.reason}`);
    out.set(parsed.customer.id, parsed.customer);
  }
  return out;
}

/** The customer-change details among published events (anomalies left out), checked against the contract. */
export function customerDetails(events: readonly { detail: unknown }[]): CustomerChangeDetail[] {
  return events
    .filter((e) => typeof e.detail === 'object' && e.detail !== null && 'customerId' in e.detail)
    .map((e) => customerChangeDetailSchema.parse(e.detail) as CustomerChangeDetail);
}

/** What a change is, apart from when it was published: equal for every delivery of one change. */
function changeKey(detail: CustomerChangeDetail): string {
  return JSON.stringify([
    detail.changeType,
    detail.customerId,
    detail.sequence,
    stableStringify(detail.after),
    stableStringify(detail.before),
  ]);
}

/**
 * Fails unless every eventId always carries the same change (type, customer, sequence, before, after).
 * Returns one detail per distinct eventId, in first-delivery order.
 */
export function expectStableEventIds(details: readonly CustomerChangeDetail[]): CustomerChangeDetail[] {
  const byId = new Map<string, CustomerChangeDetail>();
  for (const detail of details) {
    const first = byId.get(detail.eventId);
    if (first) expect(changeKey(detail), `eventId ${detail.eventId} reused`).toBe(changeKey(first));
    else byId.set(detail.eventId, detail);
  }
  return [...byId.values()];
}

/** `[changeType, customerId]` pairs, sorted: the shape of "exactly these changes". */
export function changesOf(details: readonly CustomerChangeDetail[]): [string, number][] {
  return details
    .map((d): [string, number] => [d.changeType, d.customerId])
    .sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
}

export { credentialsOf } from '../support/cli.ts';
