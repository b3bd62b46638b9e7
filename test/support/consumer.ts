/**
 * A model consumer, exactly as the event contract (docs/events.md) tells consumers to behave: skip an
 * eventId already seen; ignore an event whose sequence is not above the last applied for its customer;
 * otherwise created/updated/snapshot set the customer to `after`, deleted removes it.
 */
import { type CanonicalCustomer, stableStringify } from '../../shared/customer.ts';
import { type CustomerChangeDetail, customerChangeDetailSchema } from '../../shared/events/contract.ts';

export class ContractConsumer {
  readonly customers = new Map<number, CanonicalCustomer>();
  readonly seenEventIds = new Set<string>();
  readonly lastSequence = new Map<number, number>();
  duplicates = 0;
  stale = 0;

  apply(detailInput: unknown): void {
    if (!detailInput || typeof detailInput !== 'object' || !('customerId' in detailInput)) return;
    const detail = customerChangeDetailSchema.parse(detailInput) as CustomerChangeDetail;
    if (this.seenEventIds.has(detail.eventId)) {
      this.duplicates += 1;
      return;
    }
    this.seenEventIds.add(detail.eventId);
    const last = this.lastSequence.get(detail.customerId) ?? 0;
    if (detail.sequence <= last) {
      this.stale += 1;
      return;
    }
    this.lastSequence.set(detail.customerId, detail.sequence);
    if (detail.changeType === 'deleted') this.customers.delete(detail.customerId);
    else if (detail.after) this.customers.set(detail.customerId, detail.after);
  }

  /** The consumer's customers as stable JSON text (key order aside), for comparing with the source. */
  get state(): Map<number, string> {
    return new Map([...this.customers].map(([id, customer]) => [id, stableStringify(customer)]));
  }

  applyAll(events: readonly { detail: unknown }[]): this {
    for (const e of events) this.apply(e.detail);
    return this;
  }
}
