/**
 * Builds the public events (see docs/events.md) from what a poll observed.
 */
import { type CanonicalCustomer, nonNullFields } from '../customer.ts';
import {
  ANOMALY_DETAIL_TYPE,
  type AnomalyDetail,
  type BusEvent,
  type ChangeType,
  type CustomerChangeDetail,
  DETAIL_TYPES,
  SCHEMA_VERSION,
} from '../events/contract.ts';
import { diffCustomers } from './diff.ts';
import { deterministicEventId } from './event-id.ts';

export interface ChangeContext {
  readonly organizationGuid: string;
  readonly source: string;
  readonly pollId: string;
  /** The poll number: the sequence of every event this poll emits. */
  readonly sequence: number;
  readonly observedAt: string;
}

export function changeEventId(ctx: ChangeContext, customerId: number, changeType: ChangeType): string {
  return deterministicEventId(
    'customer',
    ctx.organizationGuid.toUpperCase(),
    customerId,
    ctx.sequence,
    changeType,
  );
}

/**
 * The event for one customer. `updated` requires both sides and at least one changed field; the caller
 * decides there is a change to report.
 */
export function buildChangeEvent(
  ctx: ChangeContext,
  changeType: ChangeType,
  before: CanonicalCustomer | null,
  after: CanonicalCustomer | null,
): BusEvent {
  const customer = after ?? before;
  if (!customer) throw new Error('buildChangeEvent needs a before or an after record');
  const detail: CustomerChangeDetail = {
    eventId: changeEventId(ctx, customer.id, changeType),
    schemaVersion: SCHEMA_VERSION,
    organizationGuid: ctx.organizationGuid,
    customerId: customer.id,
    changeType,
    changedFields: [],
    before,
    after,
    sequence: ctx.sequence,
    observedAt: ctx.observedAt,
    pollId: ctx.pollId,
  };
  if (changeType === 'updated') {
    if (!before || !after) throw new Error('an update needs before and after');
    const diff = diffCustomers(before, after);
    detail.changedFields = diff.changedFields;
    detail.changes = diff.changes;
  } else {
    detail.changedFields = nonNullFields(customer);
  }
  return {
    source: ctx.source,
    detailType: DETAIL_TYPES[changeType],
    detail,
    time: ctx.observedAt,
    resources: [],
  };
}

export function buildMassDeletionEvent(
  ctx: ChangeContext,
  heldIds: readonly number[],
  knownCustomers: number,
): BusEvent {
  const detail: AnomalyDetail = {
    eventId: deterministicEventId(
      'anomaly',
      ctx.organizationGuid.toUpperCase(),
      ctx.sequence,
      'mass-deletion',
    ),
    schemaVersion: SCHEMA_VERSION,
    organizationGuid: ctx.organizationGuid,
    anomaly: 'mass-deletion',
    heldDeletions: heldIds.length,
    knownCustomers,
    sampleCustomerIds: heldIds.slice(0, 20),
    observedAt: ctx.observedAt,
    pollId: ctx.pollId,
    message: `${heldIds.length} of ${knownCustomers} known customers are missing from the listing; deletions are held until an operator allows them (--allow-mass-deletion or "allowMassDeletion": true).`,
  };
  return { source: ctx.source, detailType: ANOMALY_DETAIL_TYPE, detail, time: ctx.observedAt, resources: [] };
}
