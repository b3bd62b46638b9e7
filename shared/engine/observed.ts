/**
 * The customers a poll observed and still has to act on (new, changed, or a resync's unchanged ones), in
 * the order they were observed, held compactly until their events are planned.
 *
 * A parsed customer costs about twice its JSON text on the V8 heap, and an all-new listing keeps every
 * customer of the organization until the listing is complete (deletions are only decided then, and events
 * are only published after it). So records are kept as blocks: up to BLOCK_RECORDS records (or
 * BLOCK_TEXT_BYTES of JSON) serialised together and deflated, off the V8 heap, with their ids and hashes
 * beside them. `drain()` inflates one block at a time and lets it go, so at most one block of parsed
 * records is alive besides what the caller keeps.
 *
 * The JSON text is `JSON.stringify` of the canonical record (not the hash's sorted form), so a drained
 * record has the same keys in the same order as the one observed, and the events built from it are
 * byte-for-byte those the record itself would give.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CanonicalCustomer } from '../customer.ts';

export interface Observed {
  readonly customer: CanonicalCustomer;
  readonly hash: string;
}

/** Records per block; a block is also sealed once its JSON reaches BLOCK_TEXT_BYTES. */
export const BLOCK_RECORDS = 100;
export const BLOCK_TEXT_BYTES = 64 * 1024;
/** Fastest deflate: about 7× smaller on customer JSON, ~1 ms a block of 100. */
const DEFLATE_LEVEL = 1;

interface Block {
  readonly ids: readonly number[];
  readonly hashes: readonly string[];
  /** Deflated JSON array of the block's records, in order. */
  readonly data: Buffer;
}

export class ObservedCustomers {
  #blocks: Block[] = [];
  #ids: number[] = [];
  #hashes: string[] = [];
  #texts: string[] = [];
  #textBytes = 0;
  #size = 0;

  /** How many customers are held. */
  get size(): number {
    return this.#size;
  }

  /** Appends a customer. Each id is added at most once per poll (the caller's listing de-duplicates). */
  add(customer: CanonicalCustomer, hash: string): void {
    const text = JSON.stringify(customer);
    this.#ids.push(customer.id);
    this.#hashes.push(hash);
    this.#texts.push(text);
    this.#textBytes += text.length;
    this.#size += 1;
    if (this.#ids.length >= BLOCK_RECORDS || this.#textBytes >= BLOCK_TEXT_BYTES) this.#seal();
  }

  /** The ids held, in the order they were added. */
  *ids(): Generator<number> {
    for (const block of this.#blocks) yield* block.ids;
    yield* this.#ids;
  }

  /** Yields every customer in the order added, releasing each block once read; empty afterwards. */
  *drain(): Generator<Observed> {
    this.#seal();
    while (this.#blocks.length > 0) {
      const block = this.#blocks.shift() as Block;
      const records = JSON.parse(inflateRawSync(block.data).toString('utf8')) as CanonicalCustomer[];
      for (const [i, customer] of records.entries()) {
        this.#size -= 1;
        yield { customer, hash: block.hashes[i] as string };
      }
    }
  }

  #seal(): void {
    if (this.#ids.length === 0) return;
    const json = Buffer.from(`[${this.#texts.join(',')}]`, 'utf8');
    this.#blocks.push({
      ids: this.#ids,
      hashes: this.#hashes,
      data: deflateRawSync(json, { level: DEFLATE_LEVEL }),
    });
    this.#ids = [];
    this.#hashes = [];
    this.#texts = [];
    this.#textBytes = 0;
  }
}
