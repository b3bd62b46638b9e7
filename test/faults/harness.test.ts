import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../sandbox/server.ts';
import type { CustomerChangeDetail } from '../../shared/events/contract.ts';
import {
  ContractConsumer,
  checkEvents,
  PageShift,
  suiteClient,
  Violations,
  virtualClock,
} from './harness.ts';

function detail(
  over: Partial<CustomerChangeDetail> & Pick<CustomerChangeDetail, 'eventId' | 'sequence' | 'changeType'>,
): CustomerChangeDetail {
  return {
    schemaVersion: '1.0',
    organizationGuid: 'org',
    customerId: 7,
    changedFields: [],
    before: null,
    after: { id: 7, name: 'A' },
    observedAt: '2026-03-01T00:00:00.000Z',
    pollId: 'p',
    ...over,
  };
}

describe('the checks of the fault-injection suite', () => {
  it('consumer: skips seen eventIds and stale sequences, so any delivery order ends in the latest state', () => {
    const created = detail({ eventId: 'a', sequence: 1, changeType: 'created' });
    const updated = detail({ eventId: 'b', sequence: 2, changeType: 'updated', after: { id: 7, name: 'B' } });
    const deleted = detail({ eventId: 'c', sequence: 3, changeType: 'deleted', after: null });
    const consumer = new ContractConsumer();
    for (const d of [deleted, updated, created, created, updated]) consumer.apply(d);
    expect(consumer.state.size).toBe(0);
    const other = new ContractConsumer();
    for (const d of [updated, created, updated]) other.apply(d);
    expect(other.state.get(7)).toBe('{"id":7,"name":"B"}');
  });

  it('flags a spurious update, an invented state and an eventId shared by two changes', () => {
    const history = new Map([[7, new Set(['{"id":7,"name":"A"}'])]]);
    const violations = new Violations();
    checkEvents(
      [
        detail({ eventId: 'a', sequence: 1, changeType: 'created' }),
        detail({
          eventId: 'b',
          sequence: 2,
          changeType: 'updated',
          changes: { name: { before: 'A', after: 'A' } },
        }),
        detail({ eventId: 'a', sequence: 3, changeType: 'updated', after: { id: 7, name: 'Z' } }),
      ],
      history,
      violations,
    );
    expect(violations.list.join('\n')).toMatch(/spurious update b/);
    expect(violations.list.join('\n')).toMatch(/never had/);
    expect(violations.list.join('\n')).toMatch(/eventId a carries two different events/);
  });
});

describe('the page shifts of the fault-injection suite', () => {
  it('a shift on an answer the client gave up on (request timeout) is applied by settle(), not under a later poll', async () => {
    const sandbox = await startSandbox({ documented: false, generated: 7, seed: 1, rateLimit: null });
    try {
      const clock = virtualClock(Date.parse('2026-03-01T08:00:00Z'));
      const client = suiteClient(sandbox, clock);
      const target = sandbox.list()[0]?.id ?? 0;
      sandbox.inject({ kind: 'delay', ms: 600, page: 1, times: 1 });
      const shift = new PageShift(sandbox, 1, () => sandbox.update(target, { name: 'Shifted' }));
      let listed = 0;
      for await (const page of client.listCustomers({ limit: 5 })) listed += page.records.length;
      expect(listed).toBe(7);
      await shift.settle();
      expect(shift.applied).toBe(true);
      expect(sandbox.get(target)?.name).toBe('Shifted');
    } finally {
      await sandbox.close();
    }
  });

  it('settle() returns at once when the page was never requested', async () => {
    const sandbox = await startSandbox({ documented: false, generated: 2, seed: 1, rateLimit: null });
    try {
      const shift = new PageShift(sandbox, 3, () => sandbox.remove(sandbox.list()[0]?.id ?? 0));
      await shift.settle(50);
      expect(shift.applied).toBe(false);
      expect(sandbox.size).toBe(2);
    } finally {
      await sandbox.close();
    }
  });
});
