/**
 * The compact id → hash index: the ids of one organization are spread over INDEX_SHARDS shards
 * (id mod 256); each shard is one item whose Binary attribute packs 16-byte entries sorted by id:
 * 8 bytes id (unsigned 64-bit big-endian integer) then the 8 bytes of the 64-bit hash. An unchanged poll
 * reads only these ~16 bytes per customer instead of every full snapshot.
 */
import { assertCustomerId, assertHash, INDEX_SHARDS, indexSk } from './layout.ts';

export const INDEX_ENTRY_BYTES = 16;

/** Format version kept beside the packed bytes, so a later layout can be told apart. */
export const INDEX_FORMAT_VERSION = 1;

/** Packs entries (all of one shard) into the binary form, sorted by id. */
export function encodeShard(entries: Iterable<readonly [number, string]>): Uint8Array {
  const sorted = [...entries].sort((a, b) => a[0] - b[0]);
  const buf = Buffer.alloc(sorted.length * INDEX_ENTRY_BYTES);
  sorted.forEach(([id, hash], i) => {
    assertCustomerId(id);
    assertHash(hash, id);
    const at = i * INDEX_ENTRY_BYTES;
    buf.writeBigUInt64BE(BigInt(id), at);
    buf.write(hash, at + 8, 8, 'hex');
  });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Unpacks one shard into `into`. Throws a clear error naming the shard when the bytes are not a valid
 * shard (wrong length, an id of another shard, ids out of order).
 */
export function decodeShard(shard: number, bytes: Uint8Array, into: Map<number, string>): void {
  const where = `index item ${indexSk(shard)}`;
  if (bytes.byteLength % INDEX_ENTRY_BYTES !== 0) {
    throw new Error(
      `${where} is corrupt: ${bytes.byteLength} bytes is not a multiple of ${INDEX_ENTRY_BYTES}`,
    );
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let previous = -1;
  for (let at = 0; at < buf.byteLength; at += INDEX_ENTRY_BYTES) {
    const big = buf.readBigUInt64BE(at);
    const id = Number(big);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || id % INDEX_SHARDS !== shard || id <= previous) {
      throw new Error(`${where} is corrupt: entry ${at / INDEX_ENTRY_BYTES} has id ${big} out of place`);
    }
    previous = id;
    into.set(id, buf.toString('hex', at + 8, at + 16));
  }
}

/** Groups a complete index by shard, keeping only the shards listed in `shards`. */
export function entriesOfShards(
  index: ReadonlyMap<number, string>,
  shards: ReadonlySet<number>,
): Map<number, [number, string][]> {
  const byShard = new Map<number, [number, string][]>();
  for (const shard of shards) byShard.set(shard, []);
  for (const [id, hash] of index) {
    const list = byShard.get(id % INDEX_SHARDS);
    if (list) list.push([id, hash]);
  }
  return byShard;
}
