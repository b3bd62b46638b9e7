/**
 * Journal items: the JSON of a run of journal entries, gzip-compressed, split so that each item's payload
 * stays under a size budget (DynamoDB items are at most 400 KB).
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { z } from 'zod';
import { type CanonicalCustomer, stableStringify } from '../customer.ts';
import type { JournalEntry, StoredSnapshot } from '../ports.ts';
import { storedSnapshotSchema } from './layout.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Default budget of one journal item's compressed payload. */
export const DEFAULT_JOURNAL_ITEM_BYTES = 300_000;

/** Hard ceiling of one payload: a 400 KB item less room for its keys and attribute names. */
export const MAX_JOURNAL_PAYLOAD_BYTES = 390_000;

/**
 * The shape of a journal entry. The detail is checked for what recovery relies on (an object with an
 * eventId); the full event contract is the publisher's concern and is not re-validated here.
 */
const journalEntrySchema = z.object({
  customerId: z.number().int().nonnegative(),
  event: z.object({
    source: z.string(),
    detailType: z.string(),
    detail: z.looseObject({ eventId: z.string().min(1) }),
    time: z.string(),
    resources: z.array(z.string()).optional(),
  }),
  snapshot: z
    .union([
      storedSnapshotSchema,
      storedSnapshotSchema.omit({ record: true }).extend({ recordIsAfter: z.literal(true) }),
    ])
    .nullable(),
});
const journalPayloadSchema = z.array(journalEntrySchema);

/** A snapshot in a journal item; its record is left out when it is the event's `after` (stored once). */
type JournalSnapshot = StoredSnapshot | (Omit<StoredSnapshot, 'record'> & { readonly recordIsAfter: true });

function afterOf(entry: JournalEntry): CanonicalCustomer | null | undefined {
  const detail = entry.event.detail as { after?: CanonicalCustomer | null };
  return detail.after;
}

function sameRecord(a: CanonicalCustomer, b: CanonicalCustomer): boolean {
  return stableStringify(a) === stableStringify(b);
}

/** The entry as written: the snapshot's record is not repeated when the event carries it as `after`. */
function compact(entry: JournalEntry): {
  customerId: number;
  event: JournalEntry['event'];
  snapshot: JournalSnapshot | null;
} {
  const { snapshot } = entry;
  const after = afterOf(entry);
  // (The engine passes the same object as both: no need to serialise it twice to see they are equal.)
  const same = after === snapshot?.record || (after && snapshot && sameRecord(after, snapshot.record));
  if (snapshot && after && same) {
    const { record: _inEvent, ...rest } = snapshot;
    return { customerId: entry.customerId, event: entry.event, snapshot: { ...rest, recordIsAfter: true } };
  }
  return entry;
}

function expand(entry: {
  customerId: number;
  event: JournalEntry['event'];
  snapshot: JournalSnapshot | null;
}): JournalEntry {
  const { snapshot } = entry;
  if (!snapshot || !('recordIsAfter' in snapshot)) return entry as JournalEntry;
  const { recordIsAfter: _flag, ...rest } = snapshot;
  const record = afterOf(entry as JournalEntry);
  if (!record)
    throw new Error(`journal entry of customer ${entry.customerId} refers to an event without after`);
  return { ...entry, snapshot: { ...rest, record } };
}

/**
 * Compresses `entries` into one or more payloads, in order, each at most `maxBytes` (unless one entry alone
 * is bigger; up to MAX_JOURNAL_PAYLOAD_BYTES that entry gets an item of its own, beyond it this throws).
 */
export async function encodeJournal(
  entries: readonly JournalEntry[],
  maxBytes: number = DEFAULT_JOURNAL_ITEM_BYTES,
): Promise<Buffer[]> {
  if (entries.length === 0) return [];
  const texts = entries.map((entry) => JSON.stringify(compact(entry)));
  const out: Buffer[] = [];
  await pack(texts, maxBytes, out);
  return out;
}

async function pack(texts: readonly string[], maxBytes: number, out: Buffer[]): Promise<void> {
  const compressed = await gzipAsync(Buffer.from(`[${texts.join(',')}]`, 'utf8'));
  if (compressed.byteLength <= maxBytes) {
    out.push(compressed);
    return;
  }
  if (texts.length === 1) {
    if (compressed.byteLength <= MAX_JOURNAL_PAYLOAD_BYTES) {
      out.push(compressed);
      return;
    }
    throw new Error(
      `journal entry is ${compressed.byteLength} bytes compressed, more than a DynamoDB item can hold`,
    );
  }
  // Split into parts of about equal text size, enough of them to fit at this compression ratio.
  const parts = Math.min(texts.length, Math.max(2, Math.ceil((compressed.byteLength / maxBytes) * 1.1)));
  const total = texts.reduce((sum, t) => sum + t.length, 0);
  const target = total / parts;
  let start = 0;
  let size = 0;
  for (let i = 0; i < texts.length; i++) {
    size += texts[i]?.length ?? 0;
    const last = i === texts.length - 1;
    if (last || size >= target) {
      await pack(texts.slice(start, i + 1), maxBytes, out);
      start = i + 1;
      size = 0;
    }
  }
}

/** Decompresses and checks one journal payload; a corrupt payload throws an error naming `key`. */
export async function decodeJournal(key: string, payload: Uint8Array): Promise<JournalEntry[]> {
  let text: string;
  try {
    text = (await gunzipAsync(payload)).toString('utf8');
  } catch (err) {
    throw new Error(`journal item ${key} is corrupt: not gzip data (${(err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`journal item ${key} is corrupt: not JSON (${(err as Error).message})`);
  }
  const checked = journalPayloadSchema.safeParse(value);
  if (!checked.success) {
    throw new Error(`journal item ${key} is corrupt: ${z.prettifyError(checked.error)}`);
  }
  // The raw parse result: entries come back exactly as written (zod's copy would drop unknown keys).
  return (value as Parameters<typeof expand>[0][]).map(expand);
}
