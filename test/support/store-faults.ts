/**
 * Fault injection for the snapshot stores, as a wrapper: tests make a poll crash at a chosen store call
 * without the production adapters knowing. `withStoreFaults(store)` answers the same store (a Proxy) that
 * checks for a fault before each store method and before each step of the multi-step methods (the
 * protocol's step hooks, which it always calls through `this`). A failure registered with `failNext` (or
 * thrown by the `beforeOperation` hook) is thrown there and nothing of that step is written.
 */
import type { SnapshotStore } from '../../shared/ports.ts';
import type { SnapshotStoreProtocol } from '../../shared/store/protocol.ts';

/**
 * Where a fault can be injected: before any store method, and inside the multi-step methods:
 * - `commit:snapshots` before each batch of up to 25 customer writes/deletes,
 * - `commit:index` before the index shards are rewritten (all customer items are written by then),
 * - `writeJournal:item` before each journal item is written.
 */
export type StoreFaultPoint = keyof SnapshotStore | 'commit:snapshots' | 'commit:index' | 'writeJournal:item';

export type BeforeOperationHook = (point: StoreFaultPoint, organizationGuid: string) => void | Promise<void>;

export interface StoreFaultControls {
  /**
   * Makes a later arrival at `point` throw `error` (default: an "injected store fault" error): the next one,
   * or the one after `skip` others. Each registered fault fires once.
   */
  failNext(point: StoreFaultPoint, error?: Error, options?: { skip?: number }): void;
  /** Forgets faults registered with failNext that have not fired. */
  clearFaults(): void;
  /** How many times each store method was called. */
  readonly calls: Readonly<Record<string, number>>;
}

const METHODS: readonly (keyof SnapshotStore)[] = [
  'acquireLease',
  'renewLease',
  'releaseLease',
  'loadIndex',
  'getSnapshots',
  'writeJournal',
  'loadJournal',
  'deleteJournal',
  'commit',
  'commitSnapshots',
  'commitIndex',
  'updateOrgState',
  'getOrgState',
  'putRunRecord',
  'listRunRecords',
];

/** The protocol's step hooks (shared/store/protocol.ts) and the fault point before each. */
const STEPS: Readonly<Record<string, StoreFaultPoint>> = {
  writeCustomerBatch: 'commit:snapshots',
  writeIndexShards: 'commit:index',
  putJournalItem: 'writeJournal:item',
};

interface PendingFault {
  readonly point: StoreFaultPoint;
  skip: number;
  readonly error: Error;
}

class FaultInjector implements StoreFaultControls {
  private readonly pending: PendingFault[] = [];
  private readonly callCounts: Record<string, number> = {};

  constructor(private readonly hook?: BeforeOperationHook) {}

  get calls(): Readonly<Record<string, number>> {
    return { ...this.callCounts };
  }

  failNext(point: StoreFaultPoint, error?: Error, options: { skip?: number } = {}): void {
    this.pending.push({
      point,
      skip: options.skip ?? 0,
      error: error ?? new Error(`injected store fault at ${point}`),
    });
  }

  clearFaults(): void {
    this.pending.length = 0;
  }

  count(method: string): void {
    this.callCounts[method] = (this.callCounts[method] ?? 0) + 1;
  }

  async check(point: StoreFaultPoint, organizationGuid: string): Promise<void> {
    const index = this.pending.findIndex((f) => f.point === point);
    const fault = index === -1 ? undefined : this.pending[index];
    if (fault) {
      if (fault.skip === 0) {
        this.pending.splice(index, 1);
        throw fault.error;
      }
      fault.skip -= 1;
    }
    if (this.hook) await this.hook(point, organizationGuid);
  }
}

function organizationOf(method: string, args: unknown[]): string {
  const first = args[0];
  if (method === 'putRunRecord') return (first as { organizationGuid: string }).organizationGuid;
  return first as string;
}

/**
 * The store, with faults: `failNext` arms one, `beforeOperation` is called at every point (throwing from
 * it aborts the step). The wrapped store keeps its own members (`stats`, `runRecordExpiry`, …).
 */
export function withStoreFaults<S extends SnapshotStoreProtocol>(
  store: S,
  options: { beforeOperation?: BeforeOperationHook } = {},
): S & StoreFaultControls {
  const faults = new FaultInjector(options.beforeOperation);
  const points = new Map<string | symbol, StoreFaultPoint>([
    ...METHODS.map((m) => [m, m] as const),
    ...Object.entries(STEPS),
  ]);
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'failNext' || property === 'clearFaults') {
        return faults[property].bind(faults);
      }
      if (property === 'calls') return faults.calls;
      const value: unknown = Reflect.get(target, property, receiver);
      const point = points.get(property);
      if (point === undefined || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (point === property) faults.count(point);
        await faults.check(point, organizationOf(String(property), args));
        return value.apply(receiver, args);
      };
    },
  }) as S & StoreFaultControls;
}
