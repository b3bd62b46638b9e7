/**
 * The DynamoDB adapter of the SnapshotStore port: one table for all organizations, items laid out as in
 * docs/data-model.md. Every read that decides correctness is strongly consistent; every call asks for its
 * consumed capacity, kept in `stats`. The protocol is SnapshotStoreProtocol's; each hook here is one kind of
 * DynamoDB call (dynamo-calls.ts holds the SDK mechanics, dynamo-lease.ts the lease and state item).
 */
import type { BatchWriteWriteRequest, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { Clock, LeaseResult, OrgState, RunRecord, StoredSnapshot } from '../ports.ts';
import { systemClock } from '../util/clock.ts';
import {
  BATCH_GET_MAX,
  DynamoCalls,
  type Item,
  isConditionFailure,
  type RetryOptions,
} from './dynamo-calls.ts';
import {
  acquireLease,
  breakLease,
  getStateItem,
  readLease,
  releaseLease,
  renewLease,
  updateOrgState,
} from './dynamo-lease.ts';
import { INDEX_FORMAT_VERSION } from './index-codec.ts';
import { DEFAULT_JOURNAL_ITEM_BYTES } from './journal-codec.ts';
import {
  customerSk,
  indexSk,
  journalChunkOf,
  journalPollPrefix,
  orgPk,
  parseRecord,
  runRecordSchema,
  SK,
  shardFromSk,
} from './layout.ts';
import { type LeaseInspection, type LeaseView, toOrgState } from './lease-rules.ts';
import { chunks, pool } from './pool.ts';
import type { CustomerWrite, JournalItem, OrgStatePatch, ShardWrite } from './protocol.ts';
import { SnapshotStoreProtocol } from './protocol.ts';
import { TABLE_KEYS } from './table.ts';

export { createDocumentClient, type RetryOptions, type StoreStats } from './dynamo-calls.ts';

const PK = TABLE_KEYS.partitionKey;
const SORT = TABLE_KEYS.sortKey;
const TTL = TABLE_KEYS.timeToLive;

/** A record whose JSON is larger than this cannot be stored with its keys in one 400 KB item. */
const MAX_RECORD_JSON_BYTES = 380_000;

export interface DynamoSnapshotStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Lease times, run record expiry and (unless `sleep` is given) backoff sleeps. Default: system clock. */
  readonly clock?: Clock;
  /** Days a run record is kept before DynamoDB TTL removes it. Default 30. */
  readonly runRecordTtlDays?: number;
  /** Retries of UnprocessedItems / UnprocessedKeys. */
  readonly retry?: RetryOptions;
  /** Sleep used between retries (default `clock.sleep`). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Budget of one journal item's compressed payload (default 300,000 bytes). */
  readonly journalItemBytes?: number;
  /** Batch calls of one method in flight at once (default 4). */
  readonly concurrency?: number;
}

const customerItemSchema = z.object({
  customerId: z.number().int().nonnegative(),
  hash: z.string(),
  sequence: z.number().int().nonnegative(),
  record: z.string(),
});

export class DynamoSnapshotStore extends SnapshotStoreProtocol implements LeaseInspection {
  /** Next journal item number of each organization's latest poll, for that poll's later writeJournal calls. */
  private readonly journalNext = new Map<string, { pollNumber: number; next: number }>();
  private readonly dynamo: DynamoCalls;

  constructor(options: DynamoSnapshotStoreOptions) {
    if (!options.tableName) throw new Error('DynamoSnapshotStore: tableName is required');
    const clock = options.clock ?? systemClock;
    const concurrency = Math.max(1, options.concurrency ?? 4);
    super({
      clock,
      runRecordTtlDays: options.runRecordTtlDays,
      journalItemBytes: options.journalItemBytes ?? DEFAULT_JOURNAL_ITEM_BYTES,
      concurrency,
      maxRecordJsonBytes: MAX_RECORD_JSON_BYTES,
    });
    this.dynamo = new DynamoCalls({
      client: options.client,
      tableName: options.tableName,
      retry: options.retry,
      sleep: options.sleep ?? ((ms) => clock.sleep(ms)),
      random: options.random ?? Math.random,
      concurrency,
    });
  }

  get stats() {
    return this.dynamo.stats;
  }

  resetStats(): void {
    this.dynamo.resetStats();
  }

  // -------------------------------------------------------------------------------------------------
  // Lease and organization state

  protected takeLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult> {
    return acquireLease(this.dynamo, this.clock, { organizationGuid, owner, ttlMs });
  }

  protected extendLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean> {
    return renewLease(this.dynamo, organizationGuid, owner, this.clock.now() + ttlMs);
  }

  protected dropLease(organizationGuid: string, owner: string): Promise<void> {
    return releaseLease(this.dynamo, organizationGuid, owner);
  }

  readLease(organizationGuid: string): Promise<LeaseView | undefined> {
    return readLease(this.dynamo, organizationGuid);
  }

  breakLease(organizationGuid: string): Promise<LeaseView | undefined> {
    return breakLease(this.dynamo, organizationGuid);
  }

  protected patchState(organizationGuid: string, patch: OrgStatePatch): Promise<void> {
    return updateOrgState(this.dynamo, organizationGuid, patch);
  }

  protected async readState(organizationGuid: string): Promise<OrgState | undefined> {
    const item = await getStateItem(this.dynamo, organizationGuid);
    return item ? toOrgState(item) : undefined;
  }

  // -------------------------------------------------------------------------------------------------
  // Snapshots and index

  protected async readIndexShards(organizationGuid: string): Promise<[number, Uint8Array][]> {
    const items = await this.query('loadIndex', organizationGuid, SK.indexPrefix);
    return items.map((item) => {
      const sk = String(item[SORT]);
      const bytes = item.idx;
      if (!(bytes instanceof Uint8Array) || item.v !== INDEX_FORMAT_VERSION) {
        throw new Error(`index item ${sk} of organization ${organizationGuid} is corrupt: no packed entries`);
      }
      return [shardFromSk(sk), bytes];
    });
  }

  protected async readSnapshots(
    organizationGuid: string,
    ids: number[],
  ): Promise<Map<number, StoredSnapshot>> {
    const pk = orgPk(organizationGuid);
    const result = new Map<number, StoredSnapshot>();
    await pool(chunks(ids, BATCH_GET_MAX), this.dynamo.concurrency, async (batch) => {
      const items = await this.dynamo.batchGet(batch.map((id) => ({ [PK]: pk, [SORT]: customerSk(id) })));
      for (const item of items) {
        const snapshot = toSnapshot(item);
        result.set(snapshot.customerId, snapshot);
      }
    });
    return result;
  }

  protected async writeCustomerBatch(organizationGuid: string, batch: CustomerWrite[]): Promise<void> {
    const pk = orgPk(organizationGuid);
    const requests: BatchWriteWriteRequest[] = batch.map((write) =>
      'put' in write
        ? { PutRequest: { Item: { [PK]: pk, [SORT]: customerSk(write.put.customerId), ...write.put } } }
        : { DeleteRequest: { Key: { [PK]: pk, [SORT]: customerSk(write.delete) } } },
    );
    await this.dynamo.batchWrite(requests);
  }

  protected async writeIndexShards(organizationGuid: string, shards: ShardWrite[]): Promise<void> {
    const pk = orgPk(organizationGuid);
    const requests: BatchWriteWriteRequest[] = shards.map(({ shard, bytes }) => {
      const key = { [PK]: pk, [SORT]: indexSk(shard) };
      return bytes === undefined
        ? { DeleteRequest: { Key: key } }
        : { PutRequest: { Item: { ...key, v: INDEX_FORMAT_VERSION, idx: bytes } } };
    });
    await this.dynamo.writeAll(requests);
  }

  // -------------------------------------------------------------------------------------------------
  // Journal

  /**
   * The number after this poll's last journal item. It is remembered between calls of one poll (a Query
   * reads whole items, so asking again for every batch would read the poll's whole journal each time); the
   * conditional put catches anything else.
   */
  protected async nextJournalChunk(organizationGuid: string, pollNumber: number): Promise<number> {
    const remembered = this.journalNext.get(orgPk(organizationGuid));
    if (remembered?.pollNumber === pollNumber) return remembered.next;
    const existing = await this.query('writeJournal', organizationGuid, journalPollPrefix(pollNumber), {
      ProjectionExpression: '#sk',
      ExpressionAttributeNames: { '#sk': SORT },
    });
    let next = 0;
    for (const item of existing) {
      const chunk = journalChunkOf(String(item[SORT]), pollNumber);
      if (chunk !== undefined) next = Math.max(next, chunk + 1);
    }
    return next;
  }

  /** One journal item, never over an existing one. */
  protected async putJournalItem(organizationGuid: string, item: JournalItem): Promise<void> {
    const pk = orgPk(organizationGuid);
    const { pollNumber, key, payload } = item;
    try {
      await this.dynamo.put({
        Item: { [PK]: pk, [SORT]: key, pollNumber, payload },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
      });
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      this.journalNext.delete(pk);
      throw new Error(`writeJournal: journal item ${key} was written meanwhile by another writer`);
    }
    this.journalNext.set(pk, { pollNumber, next: item.chunk + 1 });
  }

  protected async readJournalItems(organizationGuid: string): Promise<[string, Uint8Array][]> {
    const items = await this.query('loadJournal', organizationGuid, SK.journalPrefix);
    return items.map((item) => {
      const key = String(item[SORT]);
      const payload = item.payload;
      if (!(payload instanceof Uint8Array)) throw new Error(`journal item ${key} is corrupt: no payload`);
      return [key, payload];
    });
  }

  protected async deleteJournalItems(organizationGuid: string, keys: string[]): Promise<void> {
    const pk = orgPk(organizationGuid);
    await this.dynamo.writeAll(keys.map((sk) => ({ DeleteRequest: { Key: { [PK]: pk, [SORT]: sk } } })));
  }

  // -------------------------------------------------------------------------------------------------
  // Run records

  protected async putRunItem(run: RunRecord, sk: string, expiresAt: number): Promise<void> {
    await this.dynamo.put({
      Item: { [PK]: orgPk(run.organizationGuid), [SORT]: sk, [TTL]: expiresAt, run },
    });
  }

  /** Newest first; an eventually consistent read is enough here: it decides nothing. */
  protected async readRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]> {
    const items = await this.query('listRunRecords', organizationGuid, SK.runPrefix, {}, limit);
    return items.map((item) => {
      const checked = runRecordSchema.safeParse(item.run);
      if (!checked.success) {
        throw new Error(`run record ${String(item[SORT])} is corrupt: ${z.prettifyError(checked.error)}`);
      }
      return checked.data;
    });
  }

  /** The organization's items under `prefix`; a `limit` reads the newest first, eventually consistent. */
  private query(
    method: string,
    organizationGuid: string,
    prefix: string,
    projection: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> } = {},
    limit?: number,
  ): Promise<Item[]> {
    const pk = orgPk(organizationGuid);
    if (limit === undefined) return this.dynamo.query({ method, pk, prefix, projection });
    return this.dynamo.query({ method, pk, prefix, limit, newestFirst: true, consistentRead: false });
  }
}

function toSnapshot(item: Item): StoredSnapshot {
  const where = `customer item ${String(item[SORT])}`;
  const checked = customerItemSchema.safeParse(item);
  if (!checked.success) throw new Error(`${where} is corrupt: ${z.prettifyError(checked.error)}`);
  const { customerId, hash, sequence, record } = checked.data;
  return { customerId, hash, sequence, record: parseRecord(record, where) };
}
