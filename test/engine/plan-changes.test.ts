import { describe, expect, it } from 'vitest';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import { customerDigest } from '../../shared/customer.ts';
import { ObservedCustomers } from '../../shared/engine/observed.ts';
import { type PlanInput, type PlannedChange, planChanges } from '../../shared/engine/phases/plan-changes.ts';
import type { CustomerChangeDetail } from '../../shared/events/contract.ts';
import type { StoredSnapshot } from '../../shared/ports.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { customer } from '../support/fake-source.ts';
import { ORG, silent } from './phases/run-support.ts';

const ctx = {
  organizationGuid: ORG,
  source: 'test',
  pollId: 'p',
  sequence: 7,
  observedAt: '2026-11-29T00:00:00.000Z',
};

function observed(...customers: CanonicalCustomer[]): ObservedCustomers {
  const held = new ObservedCustomers();
  for (const c of customers) held.add(c, customerDigest(c).hash);
  return held;
}

function snapshot(c: CanonicalCustomer): StoredSnapshot {
  return { customerId: c.id, hash: customerDigest(c).hash, record: c, sequence: 3 };
}

async function plan(overrides: Partial<PlanInput>, priors: CanonicalCustomer[] = []) {
  const byId = new Map(priors.map((c) => [c.id, snapshot(c)]));
  const metrics = new RecordingMetrics();
  const input: PlanInput = {
    ctx,
    mode: 'poll',
    firstPoll: false,
    initialEvents: 'snapshot',
    changed: new ObservedCustomers(),
    resyncUnchanged: new ObservedCustomers(),
    confirmedAbsent: [],
    prior: async (id) => byId.get(id),
    maxEntryBytes: 254 * 1024,
    log: silent,
    metrics,
    logContext: {},
    ...overrides,
  };
  const steps: PlannedChange[] = [];
  for await (const step of planChanges(input)) steps.push(step);
  return { steps, metrics };
}

function summary(steps: readonly PlannedChange[]): string[] {
  return steps.map((s) => {
    if (s.kind === 'event') {
      const d = s.entry.event.detail as CustomerChangeDetail;
      return `${d.changeType} ${s.entry.customerId}${s.entry.snapshot ? '' : ' (drop snapshot)'}`;
    }
    return s.kind === 'silent-put' ? `put ${s.snapshot.customerId}` : `drop ${s.customerId}`;
  });
}

describe('planning what a poll delivers', () => {
  it('reports the customers of a first poll as snapshots, or writes them silently with initialEvents "none"', async () => {
    const changed = () => observed(customer(1), customer(2));
    expect(summary((await plan({ firstPoll: true, changed: changed() })).steps)).toEqual([
      'snapshot 1',
      'snapshot 2',
    ]);
    const silentLoad = await plan({ firstPoll: true, initialEvents: 'none', changed: changed() });
    expect(summary(silentLoad.steps)).toEqual(['put 1', 'put 2']);
  });

  it('reports creations, updates field by field and confirmed deletions of a later poll', async () => {
    const before = customer(2);
    const { steps } = await plan(
      { changed: observed(customer(1), customer(2, { name: 'Two' })), confirmedAbsent: [3] },
      [before, customer(3)],
    );
    expect(summary(steps)).toEqual(['created 1', 'updated 2', 'deleted 3 (drop snapshot)']);
    const update =
      steps[1]?.kind === 'event' ? (steps[1].entry.event.detail as CustomerChangeDetail) : undefined;
    expect(update?.changedFields).toEqual(['name']);
    expect(steps[1]?.kind === 'event' && steps[1].entry.snapshot?.sequence).toBe(7);
  });

  it('repairs an index behind its snapshot without an event, except in a resync', async () => {
    const c = customer(4);
    expect(summary((await plan({ changed: observed(c) }, [c])).steps)).toEqual(['put 4']);
    expect(summary((await plan({ mode: 'resync', changed: observed(c) }, [c])).steps)).toEqual([
      'snapshot 4',
    ]);
  });

  it("reports a resync's unchanged customers as snapshots and drops an index entry that has no snapshot", async () => {
    const { steps } = await plan({ resyncUnchanged: observed(customer(5)), confirmedAbsent: [6] });
    expect(summary(steps)).toEqual(['snapshot 5', 'drop 6']);
  });

  it('reduces an event too large for the bus before it is journaled, counting it once', async () => {
    const { steps, metrics } = await plan(
      { changed: observed(customer(8, { notes: 'n'.repeat(200_000) })) },
      [customer(8)],
    );
    const detail =
      steps[0]?.kind === 'event' ? (steps[0].entry.event.detail as CustomerChangeDetail) : undefined;
    expect(detail).toMatchObject({
      changeType: 'updated',
      truncated: true,
      after: null,
      changedFields: ['notes'],
    });
    expect(metrics.get('EventsTruncated')).toBe(1);
  });
});
