/**
 * Phase: plan what the poll delivers, from what it observed and the committed snapshots (no store: the
 * snapshots come through `prior`). Events are built lazily, one by one as the caller asks, so a large
 * initial load never holds all of them in memory; an event too large for the bus is reduced here (see
 * shared/publish/fit.ts), so what is journaled is exactly what is published.
 */
import type { CanonicalCustomer } from '../../customer.ts';
import type { ChangeType, CustomerChangeDetail } from '../../events/contract.ts';
import type { JournalEntry, Log, MetricsSink, StoredSnapshot } from '../../ports.ts';
import { fitEvent } from '../../publish/fit.ts';
import { buildChangeEvent, type ChangeContext } from '../events.ts';
import type { Observed, ObservedCustomers } from '../observed.ts';

export interface PlanInput {
  readonly ctx: ChangeContext;
  readonly mode: 'poll' | 'resync';
  /** True when the organization has no committed initial load yet. */
  readonly firstPoll: boolean;
  /** What a first poll emits for the customers it finds. */
  readonly initialEvents: 'snapshot' | 'none';
  /** New and changed customers. */
  readonly changed: ObservedCustomers;
  /** Unchanged customers a resync reports. */
  readonly resyncUnchanged: ObservedCustomers;
  /** Customers confirmed deleted. */
  readonly confirmedAbsent: readonly number[];
  /** The committed snapshot of a customer (asked in the order: changed, then confirmed absent). */
  readonly prior: (id: number) => Promise<StoredSnapshot | undefined>;
  /** Largest event published whole. */
  readonly maxEntryBytes: number;
  readonly log: Log;
  readonly metrics: MetricsSink;
  readonly logContext: Readonly<Record<string, unknown>>;
}

/** One step of the plan: an event to journal and publish, or a snapshot write that needs no event. */
export type PlannedChange =
  | { readonly kind: 'event'; readonly entry: JournalEntry }
  | { readonly kind: 'silent-put'; readonly snapshot: StoredSnapshot }
  | { readonly kind: 'silent-delete'; readonly customerId: number };

/** The ids whose committed snapshot the plan reads, in the order it reads them. */
export function priorIdsNeeded(
  changed: ObservedCustomers,
  index: ReadonlyMap<number, string>,
  confirmedAbsent: readonly number[],
): number[] {
  const ids = [...changed.ids()].filter((id) => index.has(id));
  ids.push(...confirmedAbsent);
  return ids;
}

export async function* planChanges(input: PlanInput): AsyncGenerator<PlannedChange> {
  for (const observed of input.changed.drain()) yield await planObserved(input, observed);
  for (const observed of input.resyncUnchanged.drain()) yield eventOf(input, 'snapshot', null, observed);
  for (const id of input.confirmedAbsent) {
    const prior = await input.prior(id);
    // An index entry without its snapshot: drop it.
    yield prior ? eventOf(input, 'deleted', prior.record, null) : { kind: 'silent-delete', customerId: id };
  }
}

async function planObserved(input: PlanInput, observed: Observed): Promise<PlannedChange> {
  const prior = await input.prior(observed.customer.id);
  if (!prior) {
    if (input.firstPoll && input.initialEvents === 'none') return silentPut(input, observed);
    return eventOf(input, input.firstPoll ? 'snapshot' : 'created', null, observed);
  }
  if (prior.hash === observed.hash) {
    // The index was behind its snapshot (nothing a consumer has not seen): repair the index only.
    return input.mode === 'resync' ? eventOf(input, 'snapshot', null, observed) : silentPut(input, observed);
  }
  const event = buildChangeEvent(input.ctx, 'updated', prior.record, observed.customer);
  if ((event.detail as CustomerChangeDetail).changedFields.length === 0) return silentPut(input, observed);
  return {
    kind: 'event',
    entry: {
      customerId: observed.customer.id,
      event: fitted(input, event),
      snapshot: snapshotOf(input, observed),
    },
  };
}

function eventOf(
  input: PlanInput,
  changeType: ChangeType,
  prior: CanonicalCustomer | null,
  now: Observed | null,
): PlannedChange {
  const event = fitted(input, buildChangeEvent(input.ctx, changeType, prior, now?.customer ?? null));
  const customerId = (now?.customer ?? prior)?.id as number;
  return { kind: 'event', entry: { customerId, event, snapshot: now ? snapshotOf(input, now) : null } };
}

function silentPut(input: PlanInput, observed: Observed): PlannedChange {
  return { kind: 'silent-put', snapshot: snapshotOf(input, observed) };
}

function snapshotOf(input: PlanInput, o: Observed): StoredSnapshot {
  return { customerId: o.customer.id, hash: o.hash, record: o.customer, sequence: input.ctx.sequence };
}

/** The event as journaled: reduced when too large for the bus; left whole (the publisher dead-letters it) when even that does not fit. */
function fitted(input: PlanInput, event: JournalEntry['event']): JournalEntry['event'] {
  const fit = fitEvent(event, input.maxEntryBytes, {
    log: input.log,
    metrics: input.metrics,
    context: input.logContext,
  });
  return fit.kind === 'too-large' ? event : fit.event;
}
