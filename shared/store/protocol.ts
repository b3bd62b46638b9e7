/**
 * The SnapshotStore protocol both adapters share: argument checks, the commit's steps (customer items in
 * batches of 25, then the index shards holding changed ids), journal numbering, run record expiry. Each
 * adapter maps the small hooks below to its storage (one DynamoDB call or one Map operation each).
 *
 * The step hooks (`writeCustomerBatch`, `writeIndexShards`, `putJournalItem`) are always called through
 * `this`, so a test wrapper can observe each step (test/support/store-faults.ts).
 */
import { z } from 'zod';
import type {
  Clock,
  JournalBatch,
  JournalEntry,
  LeaseResult,
  OrgState,
  RunRecord,
  SnapshotStore,
  StoredSnapshot,
} from '../ports.ts';
import { decodeShard, encodeShard, entriesOfShards } from './index-codec.ts';
import { decodeJournal, encodeJournal } from './journal-codec.ts';
import {
  assertCustomerId,
  assertJournalKey,
  assertLeaseArgs,
  assertPollNumber,
  checkIndex,
  checkOrgStatePatch,
  DEFAULT_RUN_RECORD_TTL_DAYS,
  INDEX_SHARDS,
  journalSk,
  normaliseCommit,
  normaliseSnapshots,
  runRecordSchema,
  runSk,
} from './layout.ts';
import { chunks, pool } from './pool.ts';
import { BATCH_WRITE_MAX } from './table.ts';

export type OrgStatePatch = ReturnType<typeof checkOrgStatePatch>;

/** A customer as stored: the record as JSON text (reading parses a fresh copy). */
export interface CustomerItem {
  readonly customerId: number;
  readonly hash: string;
  readonly sequence: number;
  readonly record: string;
}

export type CustomerWrite = { readonly put: CustomerItem } | { readonly delete: number };

/** One index shard to write: its packed entries, or undefined when it is now empty (delete it). */
export interface ShardWrite {
  readonly shard: number;
  readonly bytes: Uint8Array | undefined;
}

export interface JournalItem {
  readonly pollNumber: number;
  readonly chunk: number;
  readonly key: string;
  readonly payload: Uint8Array;
}

export interface ProtocolSettings {
  readonly clock: Clock;
  readonly runRecordTtlDays?: number | undefined;
  /** Budget of one journal item's compressed payload. */
  readonly journalItemBytes: number;
  /** Customer batches of one commit in flight at once. */
  readonly concurrency: number;
  /** Largest record JSON one customer item holds (Infinity: no limit). */
  readonly maxRecordJsonBytes: number;
}

interface SnapshotChanges {
  readonly puts: ReadonlyMap<number, StoredSnapshot>;
  readonly deletes: ReadonlySet<number>;
}

export abstract class SnapshotStoreProtocol implements SnapshotStore {
  protected readonly clock: Clock;
  private readonly runTtlSeconds: number;
  private readonly settings: ProtocolSettings;

  protected constructor(settings: ProtocolSettings) {
    this.settings = settings;
    this.clock = settings.clock;
    this.runTtlSeconds = Math.round((settings.runRecordTtlDays ?? DEFAULT_RUN_RECORD_TTL_DAYS) * 86_400);
  }

  // Hooks: lease and organization state.
  protected abstract takeLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult>;
  protected abstract extendLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean>;
  protected abstract dropLease(organizationGuid: string, owner: string): Promise<void>;
  protected abstract patchState(organizationGuid: string, patch: OrgStatePatch): Promise<void>;
  protected abstract readState(organizationGuid: string): Promise<OrgState | undefined>;
  // Hooks: snapshots and index.
  protected abstract readIndexShards(organizationGuid: string): Promise<Iterable<[number, Uint8Array]>>;
  protected abstract readSnapshots(
    organizationGuid: string,
    ids: number[],
  ): Promise<Map<number, StoredSnapshot>>;
  protected abstract writeCustomerBatch(organizationGuid: string, batch: CustomerWrite[]): Promise<void>;
  protected abstract writeIndexShards(organizationGuid: string, shards: ShardWrite[]): Promise<void>;
  // Hooks: journal and run records.
  protected abstract nextJournalChunk(organizationGuid: string, pollNumber: number): Promise<number>;
  protected abstract putJournalItem(organizationGuid: string, item: JournalItem): Promise<void>;
  protected abstract readJournalItems(organizationGuid: string): Promise<[string, Uint8Array][]>;
  protected abstract deleteJournalItems(organizationGuid: string, keys: string[]): Promise<void>;
  protected abstract putRunItem(run: RunRecord, sk: string, expiresAt: number): Promise<void>;
  protected abstract readRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]>;
  /** Checks the organization before any work (the memory adapter's key check). */
  protected checkOrganization(_organizationGuid: string): void {}

  async acquireLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult> {
    this.checkOrganization(organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    return this.takeLease(organizationGuid, owner, ttlMs);
  }

  async renewLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean> {
    this.checkOrganization(organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    return this.extendLease(organizationGuid, owner, ttlMs);
  }

  async releaseLease(organizationGuid: string, owner: string): Promise<void> {
    this.checkOrganization(organizationGuid);
    await this.dropLease(organizationGuid, owner);
  }

  async updateOrgState(
    organizationGuid: string,
    patch: Partial<Omit<OrgState, 'organizationGuid' | 'pollNumber'>>,
  ): Promise<void> {
    this.checkOrganization(organizationGuid);
    await this.patchState(organizationGuid, checkOrgStatePatch(patch));
  }

  async getOrgState(organizationGuid: string): Promise<OrgState | undefined> {
    this.checkOrganization(organizationGuid);
    return this.readState(organizationGuid);
  }

  async loadIndex(organizationGuid: string): Promise<Map<number, string>> {
    this.checkOrganization(organizationGuid);
    const index = new Map<number, string>();
    for (const [shard, bytes] of await this.readIndexShards(organizationGuid))
      decodeShard(shard, bytes, index);
    return index;
  }

  async getSnapshots(organizationGuid: string, ids: readonly number[]): Promise<Map<number, StoredSnapshot>> {
    this.checkOrganization(organizationGuid);
    const unique = [...new Set(ids)];
    for (const id of unique) assertCustomerId(id);
    return this.readSnapshots(organizationGuid, unique);
  }

  async commit(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
    index: ReadonlyMap<number, string>,
  ): Promise<void> {
    this.checkOrganization(organizationGuid);
    const changes = normaliseCommit(puts, deletes, index);
    await this.writeSnapshots(organizationGuid, changes);
    await this.writeIndex(organizationGuid, index, [...changes.puts.keys(), ...changes.deletes]);
  }

  async commitSnapshots(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
  ): Promise<void> {
    this.checkOrganization(organizationGuid);
    await this.writeSnapshots(organizationGuid, normaliseSnapshots(puts, deletes));
  }

  async commitIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    this.checkOrganization(organizationGuid);
    checkIndex(index);
    await this.writeIndex(organizationGuid, index, ids);
  }

  /**
   * Writes events about to be published, numbered after any batch of this poll still there (a re-run
   * never overwrites one), one item at a time.
   */
  async writeJournal(
    organizationGuid: string,
    pollNumber: number,
    entries: readonly JournalEntry[],
  ): Promise<string[]> {
    this.checkOrganization(organizationGuid);
    assertPollNumber(pollNumber);
    const payloads = await encodeJournal(entries, this.settings.journalItemBytes);
    if (payloads.length === 0) return [];
    const next = await this.nextJournalChunk(organizationGuid, pollNumber);
    const keys: string[] = [];
    for (const [i, payload] of payloads.entries()) {
      const key = journalSk(pollNumber, next + i);
      await this.putJournalItem(organizationGuid, { pollNumber, chunk: next + i, key, payload });
      keys.push(key);
    }
    return keys;
  }

  async loadJournal(organizationGuid: string): Promise<JournalBatch[]> {
    this.checkOrganization(organizationGuid);
    const batches: JournalBatch[] = [];
    for (const [key, payload] of await this.readJournalItems(organizationGuid)) {
      batches.push({ key, entries: await decodeJournal(key, payload) });
    }
    return batches;
  }

  async deleteJournal(organizationGuid: string, keys: readonly string[]): Promise<void> {
    this.checkOrganization(organizationGuid);
    const unique = [...new Set(keys)];
    for (const key of unique) assertJournalKey(key);
    await this.deleteJournalItems(organizationGuid, unique);
  }

  async putRunRecord(run: RunRecord): Promise<void> {
    this.checkOrganization(run.organizationGuid);
    const checked = runRecordSchema.safeParse(run);
    if (!checked.success) throw new Error(`putRunRecord: ${z.prettifyError(checked.error)}`);
    const expiresAt = Math.floor(this.clock.now() / 1000) + this.runTtlSeconds;
    await this.putRunItem(checked.data, runSk(run), expiresAt);
  }

  async listRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]> {
    this.checkOrganization(organizationGuid);
    if (!Number.isInteger(limit) || limit <= 0) return [];
    return this.readRunRecords(organizationGuid, limit);
  }

  /** Customer items in batches of 25, a few batches at a time; nothing is written if a record is too big. */
  private async writeSnapshots(organizationGuid: string, changes: SnapshotChanges): Promise<void> {
    const writes: CustomerWrite[] = [];
    for (const snapshot of changes.puts.values()) writes.push({ put: this.customerItem(snapshot) });
    for (const id of changes.deletes) writes.push({ delete: id });
    await pool(chunks(writes, BATCH_WRITE_MAX), this.settings.concurrency, (batch) =>
      this.writeCustomerBatch(organizationGuid, batch),
    );
  }

  private customerItem(snapshot: StoredSnapshot): CustomerItem {
    const { customerId, hash, sequence } = snapshot;
    const record = JSON.stringify(snapshot.record);
    const limit = this.settings.maxRecordJsonBytes;
    if (Number.isFinite(limit) && Buffer.byteLength(record, 'utf8') > limit) {
      throw new Error(`commit: the record of customer ${customerId} is too large for one item`);
    }
    return { customerId, hash, sequence, record };
  }

  /** The index shards holding `ids`, rewritten from `index` (the caller's complete id → hash map). */
  private async writeIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    const shards = new Set<number>();
    for (const id of ids) shards.add(id % INDEX_SHARDS);
    const writes: ShardWrite[] = [];
    const changed = shards.size === 0 ? [] : entriesOfShards(index, shards);
    for (const [shard, entries] of changed) {
      writes.push({ shard, bytes: entries.length === 0 ? undefined : encodeShard(entries) });
    }
    await this.writeIndexShards(organizationGuid, writes);
  }
}
