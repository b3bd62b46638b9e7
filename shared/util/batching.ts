/**
 * Greedy, order-keeping packing of items into requests that hold at most `maxEntries` items and at most
 * `maxBytes` in total (an item larger than `maxBytes` gets a request of its own). Used for PutEvents and
 * SQS SendMessageBatch, which share both kinds of limit.
 */
export function packBatches<T>(
  items: readonly T[],
  maxEntries: number,
  maxBytes: number,
  sizeOf: (item: T) => number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxEntries || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
