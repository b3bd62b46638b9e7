/**
 * The item layout of the single store table, shared by the DynamoDB adapter and the in-memory store so both
 * build the same keys and reject the same bad input. See docs/data-model.md.
 */

import { z } from 'zod';
import type { CanonicalCustomer } from '../customer.ts';
import { MAX_CUSTOMER_ID } from '../customer.ts';
import { canonicalCustomerSchema } from '../events/contract.ts';
import type { RunRecord, StoredSnapshot } from '../ports.ts';

/** Number of index shards per organization (fixed: changing it needs a migration of the INDEX# items). */
export const INDEX_SHARDS = 256;

/** Largest customer id the key layout can hold (15 zero-padded digits). */
export { MAX_CUSTOMER_ID };

/** Largest poll number a journal key can hold (12 zero-padded digits). */
export const MAX_POLL_NUMBER = 999_999_999_999;

/** Largest chunk number of one poll's journal (4 zero-padded digits). */
export const MAX_JOURNAL_CHUNK = 9_999;

export const SK = {
  state: 'STATE',
  customerPrefix: 'CUSTOMER#',
  indexPrefix: 'INDEX#',
  journalPrefix: 'JOURNAL#',
  runPrefix: 'RUN#',
} as const;

/** Default lifetime of a run record (DynamoDB TTL deletes it afterwards). */
export const DEFAULT_RUN_RECORD_TTL_DAYS = 30;

export function orgPk(organizationGuid: string): string {
  if (typeof organizationGuid !== 'string' || organizationGuid.trim() === '') {
    throw new Error('organizationGuid must be a non-empty string');
  }
  return `ORG#${organizationGuid.toUpperCase()}`;
}

export function assertCustomerId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id > MAX_CUSTOMER_ID) {
    throw new Error(`customer id ${String(id)} is not an integer between 0 and ${MAX_CUSTOMER_ID}`);
  }
}

export function customerSk(id: number): string {
  assertCustomerId(id);
  return `${SK.customerPrefix}${String(id).padStart(15, '0')}`;
}

export function shardOf(id: number): number {
  assertCustomerId(id);
  return id % INDEX_SHARDS;
}

export function indexSk(shard: number): string {
  return `${SK.indexPrefix}${String(shard).padStart(3, '0')}`;
}

/** The shard number of an `INDEX#nnn` sort key. */
export function shardFromSk(sk: string): number {
  const match = /^INDEX#(\d{3})$/.exec(sk);
  const shard = match ? Number(match[1]) : Number.NaN;
  if (!Number.isInteger(shard) || shard >= INDEX_SHARDS) throw new Error(`not an index shard key: ${sk}`);
  return shard;
}

export function assertPollNumber(pollNumber: number): void {
  if (!Number.isSafeInteger(pollNumber) || pollNumber < 0 || pollNumber > MAX_POLL_NUMBER) {
    throw new Error(`poll number ${String(pollNumber)} is not an integer between 0 and ${MAX_POLL_NUMBER}`);
  }
}

/** `JOURNAL#<poll, 12 digits>#` — the prefix of every journal item of one poll. */
export function journalPollPrefix(pollNumber: number): string {
  assertPollNumber(pollNumber);
  return `${SK.journalPrefix}${String(pollNumber).padStart(12, '0')}#`;
}

export function journalSk(pollNumber: number, chunk: number): string {
  if (!Number.isInteger(chunk) || chunk < 0 || chunk > MAX_JOURNAL_CHUNK) {
    throw new Error(`journal of poll ${pollNumber} would need more than ${MAX_JOURNAL_CHUNK + 1} items`);
  }
  return `${journalPollPrefix(pollNumber)}${String(chunk).padStart(4, '0')}`;
}

/** The chunk number of a journal key of the given poll, or undefined when it is not one. */
export function journalChunkOf(sk: string, pollNumber: number): number | undefined {
  const prefix = journalPollPrefix(pollNumber);
  if (!sk.startsWith(prefix)) return undefined;
  const rest = sk.slice(prefix.length);
  return /^\d{4}$/.test(rest) ? Number(rest) : undefined;
}

export function assertJournalKey(key: string): void {
  if (!/^JOURNAL#\d{12}#\d{4}$/.test(key)) throw new Error(`not a journal key: ${key}`);
}

/**
 * `RUN#<startedAt as UTC ISO>#<pollId>`: UTC so that the sort key orders runs by start time whatever offset
 * the caller wrote.
 */
export function runSk(run: Pick<RunRecord, 'startedAt' | 'pollId'>): string {
  const started = new Date(run.startedAt);
  if (Number.isNaN(started.getTime())) throw new Error(`run ${run.pollId}: startedAt is not a date`);
  return `${SK.runPrefix}${started.toISOString()}#${run.pollId}`;
}

const HASH_PATTERN = /^[0-9a-f]{16}$/;

export function assertHash(hash: string, customerId: number): void {
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) {
    throw new Error(`customer ${customerId}: hash must be 16 lower-case hex characters (customerHash)`);
  }
}

export function assertSnapshot(snapshot: StoredSnapshot): void {
  assertCustomerId(snapshot.customerId);
  assertHash(snapshot.hash, snapshot.customerId);
  if (!Number.isSafeInteger(snapshot.sequence) || snapshot.sequence < 0) {
    throw new Error(`customer ${snapshot.customerId}: sequence must be a non-negative integer`);
  }
  if (snapshot.record === null || typeof snapshot.record !== 'object' || Array.isArray(snapshot.record)) {
    throw new Error(`customer ${snapshot.customerId}: record must be an object`);
  }
}

export const storedSnapshotSchema = z.object({
  customerId: z.number().int().nonnegative(),
  hash: z.string().regex(HASH_PATTERN),
  record: canonicalCustomerSchema,
  sequence: z.number().int().nonnegative(),
});

/** Parses the JSON text of a stored record; throws a clear error naming the item when it is not one. */
export function parseRecord(json: string, where: string): CanonicalCustomer {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`${where}: record is not valid JSON (${(err as Error).message})`);
  }
  const checked = canonicalCustomerSchema.safeParse(value);
  if (!checked.success)
    throw new Error(`${where}: record is not a customer: ${z.prettifyError(checked.error)}`);
  // The raw parse result, not zod's copy: the record must come back exactly as it was stored.
  return value as CanonicalCustomer;
}

export const orgStateItemSchema = z.object({
  organizationGuid: z.string().min(1),
  pollNumber: z.number().int().nonnegative().optional(),
  initialized: z.boolean().optional(),
  lastPages: z.number().int().nonnegative().optional(),
  lastSuccessAt: z.string().optional(),
  resyncRequested: z.boolean().optional(),
  notBefore: z.number().int().nonnegative().optional(),
  leaseOwner: z.string().optional(),
  leaseExpiresAt: z.number().optional(),
});

export const runRecordSchema = z.object({
  pollId: z.string().min(1),
  pollNumber: z.number().int().nonnegative(),
  organizationGuid: z.string().min(1),
  mode: z.enum(['poll', 'resync']),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  outcome: z.enum(['success', 'held', 'partial', 'deadline', 'failed', 'busy', 'deferred']),
  counts: z.record(z.string(), z.number()),
  nutcacheRequests: z.number().int().nonnegative(),
  error: z.string().optional(),
});

/** The OrgState fields `updateOrgState` may change (never the lease, the poll number or the guid). */
export const ORG_STATE_PATCH_FIELDS = [
  'initialized',
  'lastPages',
  'lastSuccessAt',
  'resyncRequested',
  'notBefore',
] as const;

/**
 * Checks the inputs of `commit` and returns the puts keyed by id (the last put of an id wins) and the
 * distinct deleted ids. An id both put and deleted is a caller bug and is refused.
 */
export function normaliseCommit(
  puts: readonly StoredSnapshot[],
  deletes: readonly number[],
  index: ReadonlyMap<number, string>,
): { puts: Map<number, StoredSnapshot>; deletes: Set<number> } {
  const { puts: putById, deletes: deleted } = normaliseSnapshots(puts, deletes);
  checkIndex(index);
  // The index is the committed id → hash map after this commit: it must agree with what is written.
  for (const [id, snapshot] of putById) {
    if (index.get(id) !== snapshot.hash) {
      throw new Error(
        `commit: index entry of customer ${id} does not match the hash of its written snapshot`,
      );
    }
  }
  for (const id of deleted) {
    if (index.has(id)) throw new Error(`commit: customer ${id} is deleted but still in the index`);
  }
  return { puts: putById, deletes: deleted };
}

/** Checks the customer writes of a commit: valid snapshots, no id both written and deleted. */
export function normaliseSnapshots(
  puts: readonly StoredSnapshot[],
  deletes: readonly number[],
): { puts: Map<number, StoredSnapshot>; deletes: Set<number> } {
  const putById = new Map<number, StoredSnapshot>();
  for (const snapshot of puts) {
    assertSnapshot(snapshot);
    putById.set(snapshot.customerId, snapshot);
  }
  const deleted = new Set<number>();
  for (const id of deletes) {
    assertCustomerId(id);
    if (putById.has(id)) throw new Error(`commit: customer ${id} is both written and deleted`);
    deleted.add(id);
  }
  return { puts: putById, deletes: deleted };
}

/**
 * The next poll number: one more than the last, and never below the current time in whole seconds since
 * the epoch. Poll numbers are the events' sequences (and part of their ids), so they must keep increasing
 * even when the table is restored from a backup or created anew; the clock carries them past every number
 * handed out before.
 */
export function nextPollNumber(last: number | undefined, nowMs: number): number {
  return Math.max((last ?? 0) + 1, Math.floor(nowMs / 1000));
}

/** Checks every entry of an index map. */
export function checkIndex(index: ReadonlyMap<number, string>): void {
  for (const [id, hash] of index) {
    assertCustomerId(id);
    assertHash(hash, id);
  }
}

export const orgStatePatchSchema = z.object({
  initialized: z.boolean().optional(),
  lastPages: z.number().int().nonnegative().optional(),
  lastSuccessAt: z.string().optional(),
  resyncRequested: z.boolean().optional(),
  notBefore: z.number().int().nonnegative().optional(),
});

/**
 * Checks an `updateOrgState` patch and keeps only the fields it may change (undefined values are
 * left out: they leave the stored value as it is).
 */
export function checkOrgStatePatch(patch: object): z.infer<typeof orgStatePatchSchema> {
  const picked: Record<string, unknown> = {};
  for (const field of ORG_STATE_PATCH_FIELDS) {
    const value = (patch as Record<string, unknown>)[field];
    if (value !== undefined) picked[field] = value;
  }
  const checked = orgStatePatchSchema.safeParse(picked);
  if (!checked.success) throw new Error(`updateOrgState: ${z.prettifyError(checked.error)}`);
  return checked.data;
}

export function assertLeaseArgs(owner: string, ttlMs: number): void {
  if (typeof owner !== 'string' || owner === '') throw new Error('lease owner must be a non-empty string');
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error('lease ttlMs must be a positive number');
}
