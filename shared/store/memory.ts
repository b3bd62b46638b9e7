/**
 * An in-memory SnapshotStore with the same semantics as the DynamoDB adapter (lease expiry by the injected
 * clock, poll numbers, sharded index, chunked journal, run records), for unit tests, the fault-injection
 * suite and local runs. Everything is copied on the way in and out, so callers cannot change stored state.
 * The protocol is SnapshotStoreProtocol's; each hook here is one operation on the organization's maps.
 */
import type { Clock, LeaseResult, OrgState, RunRecord, StoredSnapshot } from '../ports.ts';
import { systemClock } from '../util/clock.ts';
import { DEFAULT_JOURNAL_ITEM_BYTES } from './journal-codec.ts';
import { journalChunkOf, nextPollNumber, orgPk, parseRecord } from './layout.ts';
import { type LeaseInspection, type LeaseView, leaseView, otherHolder, toOrgState } from './lease-rules.ts';
import type { CustomerItem, CustomerWrite, JournalItem, OrgStatePatch, ShardWrite } from './protocol.ts';
import { SnapshotStoreProtocol } from './protocol.ts';

export interface InMemorySnapshotStoreOptions {
  /** Lease times and run record expiry. Default: the system clock. */
  readonly clock?: Clock;
  readonly runRecordTtlDays?: number;
  /** Budget of one journal item's compressed payload (default 300,000 bytes), as in DynamoDB. */
  readonly journalItemBytes?: number;
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

interface OrgData {
  state?: StateItem;
  readonly customers: Map<number, CustomerItem>;
  readonly shards: Map<number, Uint8Array>;
  readonly journal: Map<string, Uint8Array>;
  readonly runs: Map<string, { readonly run: RunRecord; readonly expiresAt: number }>;
}

export class InMemorySnapshotStore extends SnapshotStoreProtocol implements LeaseInspection {
  private readonly orgs = new Map<string, OrgData>();

  constructor(options: InMemorySnapshotStoreOptions = {}) {
    super({
      clock: options.clock ?? systemClock,
      runRecordTtlDays: options.runRecordTtlDays,
      journalItemBytes: options.journalItemBytes ?? DEFAULT_JOURNAL_ITEM_BYTES,
      concurrency: 1,
      maxRecordJsonBytes: Number.POSITIVE_INFINITY,
    });
  }

  /** Run records with their TTL (epoch seconds), for tests. */
  runRecordExpiry(organizationGuid: string): number[] {
    return [...(this.orgs.get(orgPk(organizationGuid))?.runs.values() ?? [])].map((r) => r.expiresAt);
  }

  protected override checkOrganization(organizationGuid: string): void {
    orgPk(organizationGuid);
  }

  // -------------------------------------------------------------------------------------------------
  // Lease and organization state

  protected async takeLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult> {
    const org = this.org(organizationGuid);
    const now = this.clock.now();
    const current = org.state;
    const busy = otherHolder(current, owner, now);
    if (busy) return busy;
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

  protected async extendLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean> {
    const state = this.org(organizationGuid).state;
    if (state?.leaseOwner !== owner) return false;
    state.leaseExpiresAt = this.clock.now() + ttlMs;
    return true;
  }

  protected async dropLease(organizationGuid: string, owner: string): Promise<void> {
    const state = this.org(organizationGuid).state;
    if (state?.leaseOwner !== owner) return;
    delete state.leaseOwner;
    delete state.leaseExpiresAt;
  }

  async readLease(organizationGuid: string): Promise<LeaseView | undefined> {
    return leaseView(this.org(organizationGuid).state);
  }

  async breakLease(organizationGuid: string): Promise<LeaseView | undefined> {
    const state = this.org(organizationGuid).state;
    const was = leaseView(state);
    delete state?.leaseOwner;
    delete state?.leaseExpiresAt;
    return was;
  }

  protected async patchState(organizationGuid: string, patch: OrgStatePatch): Promise<void> {
    const org = this.org(organizationGuid);
    org.state = { ...(org.state ?? { pollNumber: 0, initialized: false }), ...patch, organizationGuid };
  }

  protected async readState(organizationGuid: string): Promise<OrgState | undefined> {
    const state = this.org(organizationGuid).state;
    return state ? toOrgState(state) : undefined;
  }

  // -------------------------------------------------------------------------------------------------
  // Snapshots and index

  protected async readIndexShards(organizationGuid: string): Promise<[number, Uint8Array][]> {
    return [...this.org(organizationGuid).shards].sort((a, b) => a[0] - b[0]);
  }

  protected async readSnapshots(
    organizationGuid: string,
    ids: number[],
  ): Promise<Map<number, StoredSnapshot>> {
    const org = this.org(organizationGuid);
    const result = new Map<number, StoredSnapshot>();
    for (const id of ids) {
      const item = org.customers.get(id);
      if (!item) continue;
      const { customerId, hash, sequence } = item;
      result.set(id, { customerId, hash, sequence, record: parseRecord(item.record, `customer ${id}`) });
    }
    return result;
  }

  protected async writeCustomerBatch(organizationGuid: string, batch: CustomerWrite[]): Promise<void> {
    const customers = this.org(organizationGuid).customers;
    for (const write of batch) {
      if ('put' in write) customers.set(write.put.customerId, write.put);
      else customers.delete(write.delete);
    }
  }

  protected async writeIndexShards(organizationGuid: string, shards: ShardWrite[]): Promise<void> {
    const stored = this.org(organizationGuid).shards;
    for (const { shard, bytes } of shards) {
      if (bytes === undefined) stored.delete(shard);
      else stored.set(shard, bytes);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Journal

  protected async nextJournalChunk(organizationGuid: string, pollNumber: number): Promise<number> {
    let next = 0;
    for (const key of this.org(organizationGuid).journal.keys()) {
      const chunk = journalChunkOf(key, pollNumber);
      if (chunk !== undefined) next = Math.max(next, chunk + 1);
    }
    return next;
  }

  protected async putJournalItem(organizationGuid: string, item: JournalItem): Promise<void> {
    this.org(organizationGuid).journal.set(item.key, item.payload);
  }

  protected async readJournalItems(organizationGuid: string): Promise<[string, Uint8Array][]> {
    return [...this.org(organizationGuid).journal].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  protected async deleteJournalItems(organizationGuid: string, keys: string[]): Promise<void> {
    const journal = this.org(organizationGuid).journal;
    for (const key of keys) journal.delete(key);
  }

  // -------------------------------------------------------------------------------------------------
  // Run records

  protected async putRunItem(run: RunRecord, sk: string, expiresAt: number): Promise<void> {
    this.org(run.organizationGuid).runs.set(sk, { run: structuredClone(run), expiresAt });
  }

  protected async readRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]> {
    return [...this.org(organizationGuid).runs]
      .sort((a, b) => (a[0] < b[0] ? 1 : -1))
      .slice(0, limit)
      .map(([, item]) => structuredClone(item.run));
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
