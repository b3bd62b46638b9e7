/**
 * An in-memory SnapshotStore with the same semantics as the DynamoDB adapter (lease expiry by the injected
 * clock, poll numbers, sharded index, chunked journal, run records), for unit tests, the fault-injection
 * suite and local runs. Everything is copied on the way in and out, so callers cannot change stored state.
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
import { systemClock } from '../util/clock.ts';
import { type BeforeOperationHook, FaultInjector, type StoreFaultPoint } from './faults.ts';
import { decodeShard, encodeShard, entriesOfShards } from './index-codec.ts';
import { DEFAULT_JOURNAL_ITEM_BYTES, decodeJournal, encodeJournal } from './journal-codec.ts';
import {
  assertCustomerId,
  assertJournalKey,
  assertLeaseArgs,
  assertPollNumber,
  checkIndex,
  checkOrgStatePatch,
  DEFAULT_RUN_RECORD_TTL_DAYS,
  INDEX_SHARDS,
  journalChunkOf,
  journalSk,
  nextPollNumber,
  normaliseCommit,
  normaliseSnapshots,
  orgPk,
  parseRecord,
  runRecordSchema,
  runSk,
} from './layout.ts';

export interface InMemorySnapshotStoreOptions {
  /** Lease times and run record expiry. Default: the system clock. */
  readonly clock?: Clock;
  readonly runRecordTtlDays?: number;
  /** Budget of one journal item's compressed payload (default 300,000 bytes), as in DynamoDB. */
  readonly journalItemBytes?: number;
  /** Called before each store step; throwing from it aborts the step (fault injection). */
  readonly beforeOperation?: BeforeOperationHook;
}

interface StateItem {
  organizationGuid: string;
  pollNumber: number;
  initialized: boolean;
  lastPages?: number;
  lastSuccessAt?: string;
  resyncRequested?: boolean;
  notBefore?: number;
  leaseOwner?: string;
  leaseExpiresAt?: number;
}

interface CustomerItem {
  readonly customerId: number;
  readonly hash: string;
  readonly sequence: number;
  /** JSON text, as in DynamoDB: reading parses a fresh copy. */
  readonly record: string;
}

interface OrgData {
  state?: StateItem;
  readonly customers: Map<number, CustomerItem>;
  readonly shards: Map<number, Uint8Array>;
  readonly journal: Map<string, Uint8Array>;
  readonly runs: Map<string, { readonly run: RunRecord; readonly expiresAt: number }>;
}

const BATCH_WRITE_MAX = 25;

export class InMemorySnapshotStore implements SnapshotStore {
  private readonly orgs = new Map<string, OrgData>();
  private readonly clock: Clock;
  private readonly runTtlSeconds: number;
  private readonly journalItemBytes: number;
  private readonly faults: FaultInjector;
  private callCounts: Record<string, number> = {};

  constructor(options: InMemorySnapshotStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.runTtlSeconds = Math.round((options.runRecordTtlDays ?? DEFAULT_RUN_RECORD_TTL_DAYS) * 86_400);
    this.journalItemBytes = options.journalItemBytes ?? DEFAULT_JOURNAL_ITEM_BYTES;
    this.faults = new FaultInjector(options.beforeOperation);
  }

  /**
   * Makes a later arrival at `point` throw `error` (default: an "injected store fault" error): the next one,
   * or the one after `skip` others. Nothing of the failing step is written; earlier steps stay written.
   */
  failNext(point: StoreFaultPoint, error?: Error, options?: { skip?: number }): void {
    this.faults.failNext(point, error, options);
  }

  /** Forgets faults registered with failNext that have not fired. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** How many times each store method was called. */
  get calls(): Readonly<Record<string, number>> {
    return { ...this.callCounts };
  }

  /** Run records with their TTL (epoch seconds), for tests. */
  runRecordExpiry(organizationGuid: string): number[] {
    return [...(this.orgs.get(orgPk(organizationGuid))?.runs.values() ?? [])].map((r) => r.expiresAt);
  }

  // -------------------------------------------------------------------------------------------------
  // Lease and organization state

  async acquireLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult> {
    await this.enter('acquireLease', organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    const org = this.org(organizationGuid);
    const now = this.clock.now();
    const current = org.state;
    if (
      current?.leaseOwner !== undefined &&
      current.leaseExpiresAt !== undefined &&
      !(current.leaseExpiresAt < now) &&
      current.leaseOwner !== owner
    ) {
      return { acquired: false, holder: current.leaseOwner, expiresAt: current.leaseExpiresAt };
    }
    const state: StateItem = {
      ...(current ?? { pollNumber: 0, initialized: false }),
      organizationGuid,
      pollNumber: nextPollNumber(current?.pollNumber, now),
      leaseOwner: owner,
      leaseExpiresAt: now + ttlMs,
    };
    org.state = state;
    const orgState = toOrgState(state);
    return { acquired: true, pollNumber: orgState.pollNumber, state: orgState };
  }

  async renewLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean> {
    await this.enter('renewLease', organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    const state = this.org(organizationGuid).state;
    if (state?.leaseOwner !== owner) return false;
    state.leaseExpiresAt = this.clock.now() + ttlMs;
    return true;
  }

  async releaseLease(organizationGuid: string, owner: string): Promise<void> {
    await this.enter('releaseLease', organizationGuid);
    const state = this.org(organizationGuid).state;
    if (state?.leaseOwner !== owner) return;
    delete state.leaseOwner;
    delete state.leaseExpiresAt;
  }

  async updateOrgState(
    organizationGuid: string,
    patch: Partial<Omit<OrgState, 'organizationGuid' | 'pollNumber'>>,
  ): Promise<void> {
    await this.enter('updateOrgState', organizationGuid);
    const checked = checkOrgStatePatch(patch);
    const org = this.org(organizationGuid);
    org.state = {
      ...(org.state ?? { pollNumber: 0, initialized: false }),
      ...checked,
      organizationGuid,
    };
  }

  async getOrgState(organizationGuid: string): Promise<OrgState | undefined> {
    await this.enter('getOrgState', organizationGuid);
    const state = this.org(organizationGuid).state;
    return state ? toOrgState(state) : undefined;
  }

  // -------------------------------------------------------------------------------------------------
  // Snapshots and index

  async loadIndex(organizationGuid: string): Promise<Map<number, string>> {
    await this.enter('loadIndex', organizationGuid);
    const index = new Map<number, string>();
    const shards = [...this.org(organizationGuid).shards].sort((a, b) => a[0] - b[0]);
    for (const [shard, bytes] of shards) decodeShard(shard, bytes, index);
    return index;
  }

  async getSnapshots(organizationGuid: string, ids: readonly number[]): Promise<Map<number, StoredSnapshot>> {
    await this.enter('getSnapshots', organizationGuid);
    const org = this.org(organizationGuid);
    const result = new Map<number, StoredSnapshot>();
    for (const id of ids) {
      assertCustomerId(id);
      const item = org.customers.get(id);
      if (!item) continue;
      result.set(id, {
        customerId: item.customerId,
        hash: item.hash,
        sequence: item.sequence,
        record: parseRecord(item.record, `customer ${id}`),
      });
    }
    return result;
  }

  async commit(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
    index: ReadonlyMap<number, string>,
  ): Promise<void> {
    await this.enter('commit', organizationGuid);
    const changes = normaliseCommit(puts, deletes, index);
    // The same steps as DynamoDB: customer items in batches of 25, then the changed index shards.
    await this.writeSnapshots(organizationGuid, changes);
    await this.writeIndex(organizationGuid, index, [...changes.puts.keys(), ...changes.deletes]);
  }

  async commitSnapshots(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
  ): Promise<void> {
    await this.enter('commitSnapshots', organizationGuid);
    await this.writeSnapshots(organizationGuid, normaliseSnapshots(puts, deletes));
  }

  async commitIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    await this.enter('commitIndex', organizationGuid);
    checkIndex(index);
    await this.writeIndex(organizationGuid, index, ids);
  }

  private async writeSnapshots(
    organizationGuid: string,
    changes: { puts: ReadonlyMap<number, StoredSnapshot>; deletes: ReadonlySet<number> },
  ): Promise<void> {
    const org = this.org(organizationGuid);
    type Write = { put: StoredSnapshot } | { delete: number };
    const writes: Write[] = [
      ...[...changes.puts.values()].map((put) => ({ put })),
      ...[...changes.deletes].map((id) => ({ delete: id })),
    ];
    for (let i = 0; i < writes.length; i += BATCH_WRITE_MAX) {
      await this.faults.check('commit:snapshots', organizationGuid);
      for (const write of writes.slice(i, i + BATCH_WRITE_MAX)) {
        if ('put' in write) {
          const { customerId, hash, sequence, record } = write.put;
          org.customers.set(customerId, { customerId, hash, sequence, record: JSON.stringify(record) });
        } else {
          org.customers.delete(write.delete);
        }
      }
    }
  }

  private async writeIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    await this.faults.check('commit:index', organizationGuid);
    const org = this.org(organizationGuid);
    const shards = new Set<number>();
    for (const id of ids) shards.add(id % INDEX_SHARDS);
    for (const [shard, entries] of entriesOfShards(index, shards)) {
      if (entries.length === 0) org.shards.delete(shard);
      else org.shards.set(shard, encodeShard(entries));
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Journal

  async writeJournal(
    organizationGuid: string,
    pollNumber: number,
    entries: readonly JournalEntry[],
  ): Promise<string[]> {
    await this.enter('writeJournal', organizationGuid);
    assertPollNumber(pollNumber);
    const payloads = await encodeJournal(entries, this.journalItemBytes);
    const org = this.org(organizationGuid);
    let next = 0;
    for (const key of org.journal.keys()) {
      const chunk = journalChunkOf(key, pollNumber);
      if (chunk !== undefined) next = Math.max(next, chunk + 1);
    }
    const keys: string[] = [];
    for (const [i, payload] of payloads.entries()) {
      const key = journalSk(pollNumber, next + i);
      await this.faults.check('writeJournal:item', organizationGuid);
      org.journal.set(key, payload);
      keys.push(key);
    }
    return keys;
  }

  async loadJournal(organizationGuid: string): Promise<JournalBatch[]> {
    await this.enter('loadJournal', organizationGuid);
    const items = [...this.org(organizationGuid).journal].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const batches: JournalBatch[] = [];
    for (const [key, payload] of items) batches.push({ key, entries: await decodeJournal(key, payload) });
    return batches;
  }

  async deleteJournal(organizationGuid: string, keys: readonly string[]): Promise<void> {
    await this.enter('deleteJournal', organizationGuid);
    for (const key of keys) assertJournalKey(key);
    const journal = this.org(organizationGuid).journal;
    for (const key of keys) journal.delete(key);
  }

  // -------------------------------------------------------------------------------------------------
  // Run records

  async putRunRecord(run: RunRecord): Promise<void> {
    await this.enter('putRunRecord', run.organizationGuid);
    const checked = runRecordSchema.safeParse(run);
    if (!checked.success) throw new Error(`putRunRecord: ${z.prettifyError(checked.error)}`);
    this.org(run.organizationGuid).runs.set(runSk(run), {
      run: structuredClone(checked.data),
      expiresAt: Math.floor(this.clock.now() / 1000) + this.runTtlSeconds,
    });
  }

  async listRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]> {
    await this.enter('listRunRecords', organizationGuid);
    if (!Number.isInteger(limit) || limit <= 0) return [];
    return [...this.org(organizationGuid).runs]
      .sort((a, b) => (a[0] < b[0] ? 1 : -1))
      .slice(0, limit)
      .map(([, item]) => structuredClone(item.run));
  }

  // -------------------------------------------------------------------------------------------------

  private async enter(method: keyof SnapshotStore, organizationGuid: string): Promise<void> {
    this.callCounts[method] = (this.callCounts[method] ?? 0) + 1;
    orgPk(organizationGuid);
    await this.faults.check(method, organizationGuid);
  }

  private org(organizationGuid: string): OrgData {
    const pk = orgPk(organizationGuid);
    let org = this.orgs.get(pk);
    if (!org) {
      org = { customers: new Map(), shards: new Map(), journal: new Map(), runs: new Map() };
      this.orgs.set(pk, org);
    }
    return org;
  }
}

function toOrgState(state: StateItem): OrgState {
  return {
    organizationGuid: state.organizationGuid,
    pollNumber: state.pollNumber,
    initialized: state.initialized,
    ...(state.lastPages !== undefined ? { lastPages: state.lastPages } : {}),
    ...(state.lastSuccessAt !== undefined ? { lastSuccessAt: state.lastSuccessAt } : {}),
    ...(state.resyncRequested !== undefined ? { resyncRequested: state.resyncRequested } : {}),
    ...(state.notBefore ? { notBefore: state.notBefore } : {}),
  };
}
