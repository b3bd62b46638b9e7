/**
 * Fault injection for the snapshot stores, so tests can make a poll crash at a chosen store call. Both
 * stores call `check(point, org)` before each step; a failure registered with `failNext` (or thrown by the
 * `beforeOperation` hook) is thrown there and nothing of that step is written.
 */
import type { SnapshotStore } from '../ports.ts';

/**
 * Where a fault can be injected: before any store method, and inside the multi-step methods:
 * - `commit:snapshots` before each batch of up to 25 customer writes/deletes,
 * - `commit:index` before the index shards are rewritten (all customer items are written by then),
 * - `writeJournal:item` before each journal item is written.
 */
export type StoreFaultPoint = keyof SnapshotStore | 'commit:snapshots' | 'commit:index' | 'writeJournal:item';

export type BeforeOperationHook = (point: StoreFaultPoint, organizationGuid: string) => void | Promise<void>;

interface PendingFault {
  readonly point: StoreFaultPoint;
  skip: number;
  readonly error: Error;
}

export class FaultInjector {
  private readonly pending: PendingFault[] = [];
  /** How many times each point was reached (faulted or not). */
  readonly reached: Partial<Record<StoreFaultPoint, number>> = {};

  constructor(private readonly hook?: BeforeOperationHook) {}

  /**
   * Makes a later arrival at `point` throw `error`: the next one, or the one after `skip` others.
   * Each registered fault fires once.
   */
  failNext(point: StoreFaultPoint, error?: Error, options: { skip?: number } = {}): void {
    this.pending.push({
      point,
      skip: options.skip ?? 0,
      error: error ?? new Error(`injected store fault at ${point}`),
    });
  }

  /** Forgets every registered fault. */
  clear(): void {
    this.pending.length = 0;
  }

  async check(point: StoreFaultPoint, organizationGuid: string): Promise<void> {
    this.reached[point] = (this.reached[point] ?? 0) + 1;
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
