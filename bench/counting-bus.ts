/**
 * The benchmark's event bus: accepts everything and counts PutEvents calls, entries and bytes. The bus's
 * own cost is not what the benchmark measures, so nothing is serialised to disk or kept in memory.
 */
import type { BusEntry, BusEntryResult, DeadLetterSink, EventBus } from '../shared/ports.ts';

export class CountingBus implements EventBus {
  calls = 0;
  entries = 0;
  bytes = 0;
  readonly byDetailType: Record<string, number> = {};

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    this.calls += 1;
    this.entries += entries.length;
    for (const entry of entries) {
      this.bytes += entry.detail.length;
      this.byDetailType[entry.detailType] = (this.byDetailType[entry.detailType] ?? 0) + 1;
    }
    return entries.map(() => ({ ok: true }));
  }
}

/** A dead-letter sink that fails the benchmark: with an accepting bus nothing may end up there. */
export const refusingDeadLetters: DeadLetterSink = {
  async put(items) {
    throw new Error(`benchmark: ${items.length} events were dead-lettered`);
  },
};
