/**
 * What a large poll keeps in memory: the listing's parsed records are not held until the events are
 * planned (they are kept compactly, see shared/engine/observed.ts), and the previous snapshots of changed
 * customers are read a group at a time. The peak this bounds is measured by `npm run bench`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import { runPoll } from '../../shared/engine/poll.ts';
import { PRIOR_GROUP_SIZE } from '../../shared/engine/prior.ts';
import type { CustomerChangeDetail } from '../../shared/events/contract.ts';
import type { CustomerPage } from '../../shared/nutcache/types.ts';
import type { BusEntry, Log } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { TestClock } from '../support/clock.ts';
import { customer, FakeSource } from '../support/fake-source.ts';

const ORG = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A FakeSource that remembers (weakly) every record it handed out. */
class TrackedSource extends FakeSource {
  readonly handedOut: WeakRef<CanonicalCustomer>[] = [];

  override async *listCustomers(): AsyncIterable<CustomerPage> {
    for await (const page of super.listCustomers()) {
      for (const record of page.records) if (record.ok) this.handedOut.push(new WeakRef(record.customer));
      yield page;
    }
  }

  alive(): number {
    return this.handedOut.filter((ref) => ref.deref() !== undefined).length;
  }
}

/** A MemoryBus that runs `probe` before its first PutEvents call (the listing is complete by then). */
class ProbingBus extends MemoryBus {
  probe: (() => void) | undefined;

  override async putEvents(entries: readonly BusEntry[]) {
    const probe = this.probe;
    this.probe = undefined;
    probe?.();
    return super.putEvents(entries);
  }
}

function setup() {
  const clock = new TestClock();
  const store = new InMemorySnapshotStore({ clock });
  const bus = new ProbingBus();
  const source = new TrackedSource();
  const poll = () =>
    runPoll(
      {
        source,
        store,
        bus,
        deadLetters: new MemoryDeadLetterSink(),
        clock,
        log: silent,
        metrics: new RecordingMetrics(),
      },
      { organizationGuid: ORG },
    );
  return { store, bus, source, poll };
}

let env: ReturnType<typeof setup>;
const N = 2_500;

beforeEach(() => {
  env = setup();
  for (let id = 1; id <= N; id++) env.source.put(customer(id, { notes: `note ${id}` }));
});

describe('memory of a large poll', () => {
  it('does not keep the listed records as objects until their events are published', async () => {
    let aliveAtFirstPublish = -1;
    env.bus.probe = () => {
      collectGarbage();
      aliveAtFirstPublish = env.source.alive();
    };
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(result.counts.snapshot).toBe(N);
    expect(env.source.handedOut).toHaveLength(N);
    // At most the last page Nutcache returned is still referenced once the listing is done (not all of them).
    expect(aliveAtFirstPublish).toBeGreaterThanOrEqual(0);
    expect(aliveAtFirstPublish).toBeLessThanOrEqual(env.source.pageSize);
  });

  it('reads the previous snapshots of changed customers a group at a time, each once', async () => {
    await env.poll();
    for (let id = 1; id <= N; id++) env.source.put(customer(id, { notes: `edited ${id}` }));
    const asked: number[][] = [];
    const read = env.store.getSnapshots.bind(env.store);
    env.store.getSnapshots = (org, ids) => {
      asked.push([...ids]);
      return read(org, ids);
    };
    const accepted = env.bus.accepted.length;
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(result.counts.updated).toBe(N);
    expect(asked.map((ids) => ids.length)).toEqual([
      PRIOR_GROUP_SIZE,
      PRIOR_GROUP_SIZE,
      N - 2 * PRIOR_GROUP_SIZE,
    ]);
    expect(asked.flat()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Every update still carries the field-by-field change against the committed record.
    const updates = env.bus.accepted.slice(accepted).map((e) => e.detail as CustomerChangeDetail);
    expect(updates).toHaveLength(N);
    expect(updates.at(-1)?.changes).toEqual({ notes: { before: `note ${N}`, after: `edited ${N}` } });
  });
});
