/**
 * The DynamoDB adapter of the SnapshotStore port: one table for all organizations, items laid out as in
 * docs/data-model.md. Every read that decides correctness is strongly consistent; every call asks for its
 * consumed capacity, kept in `stats`.
 */
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
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
import { fullJitterDelay } from '../util/backoff.ts';
import { systemClock } from '../util/clock.ts';
import { type BeforeOperationHook, FaultInjector, type StoreFaultPoint } from './faults.ts';
import { decodeShard, encodeShard, entriesOfShards, INDEX_FORMAT_VERSION } from './index-codec.ts';
import { DEFAULT_JOURNAL_ITEM_BYTES, decodeJournal, encodeJournal } from './journal-codec.ts';
import {
  assertCustomerId,
  assertJournalKey,
  assertLeaseArgs,
  assertPollNumber,
  checkIndex,
  checkOrgStatePatch,
  customerSk,
  DEFAULT_RUN_RECORD_TTL_DAYS,
  INDEX_SHARDS,
  indexSk,
  journalChunkOf,
  journalPollPrefix,
  journalSk,
  normaliseCommit,
  normaliseSnapshots,
  ORG_STATE_PATCH_FIELDS,
  orgPk,
  orgStateItemSchema,
  parseRecord,
  runRecordSchema,
  runSk,
  SK,
  shardFromSk,
} from './layout.ts';
import { TABLE_KEYS } from './table.ts';

const PK = TABLE_KEYS.partitionKey;
const SORT = TABLE_KEYS.sortKey;
const TTL = TABLE_KEYS.timeToLive;

/** BatchWriteItem takes at most 25 requests, BatchGetItem at most 100 keys. */
const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;

/** A record whose JSON is larger than this cannot be stored with its keys in one 400 KB item. */
const MAX_RECORD_JSON_BYTES = 380_000;

type Item = Record<string, unknown>;

export interface RetryOptions {
  /** Calls in a row without progress before a batch gives up (first call included). Default 8. */
  readonly maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt (full jitter). Default 50 ms. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling. Default 2,000 ms. */
  readonly maxDelayMs?: number;
}

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
  /** Called before each store step; throwing from it aborts the step (fault injection in tests). */
  readonly beforeOperation?: BeforeOperationHook;
}

/** Consumed capacity and calls, summed over the store's life (or since `resetStats`). */
export interface StoreStats {
  readonly readUnits: number;
  readonly writeUnits: number;
  /** DynamoDB calls made, by API operation name (`Query`, `BatchWriteItem`, …). */
  readonly requests: Readonly<Record<string, number>>;
}

/** A document client with the marshalling options the store relies on. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const customerItemSchema = z.object({
  customerId: z.number().int().nonnegative(),
  hash: z.string(),
  sequence: z.number().int().nonnegative(),
  record: z.string(),
});

export class DynamoSnapshotStore implements SnapshotStore {
  /** Next journal item number of each organization's latest poll, for that poll's later writeJournal calls. */
  private readonly journalNext = new Map<string, { pollNumber: number; next: number }>();
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly clock: Clock;
  private readonly runTtlSeconds: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly journalItemBytes: number;
  private readonly concurrency: number;
  private readonly faults: FaultInjector;
  private readUnits = 0;
  private writeUnits = 0;
  private requests: Record<string, number> = {};

  constructor(options: DynamoSnapshotStoreOptions) {
    if (!options.tableName) throw new Error('DynamoSnapshotStore: tableName is required');
    this.client = options.client;
    this.table = options.tableName;
    this.clock = options.clock ?? systemClock;
    this.runTtlSeconds = Math.round((options.runRecordTtlDays ?? DEFAULT_RUN_RECORD_TTL_DAYS) * 86_400);
    this.maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 8);
    this.baseDelayMs = options.retry?.baseDelayMs ?? 50;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 2_000;
    const clock = this.clock;
    this.sleep = options.sleep ?? ((ms) => clock.sleep(ms));
    this.random = options.random ?? Math.random;
    this.journalItemBytes = options.journalItemBytes ?? DEFAULT_JOURNAL_ITEM_BYTES;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.faults = new FaultInjector(options.beforeOperation);
  }

  get stats(): StoreStats {
    return { readUnits: this.readUnits, writeUnits: this.writeUnits, requests: { ...this.requests } };
  }

  resetStats(): void {
    this.readUnits = 0;
    this.writeUnits = 0;
    this.requests = {};
  }

  /** Makes a later arrival at `point` throw (see FaultInjector). */
  failNext(point: StoreFaultPoint, error?: Error, options?: { skip?: number }): void {
    this.faults.failNext(point, error, options);
  }

  // -------------------------------------------------------------------------------------------------
  // Lease and organization state

  async acquireLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult> {
    await this.faults.check('acquireLease', organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    const key = this.stateKey(organizationGuid);
    // One conditional UpdateItem takes the lease and hands out the next poll number: the current time in
    // seconds when the stored number is below it (`nextPollNumber`), else the stored number plus one.
    // A failed condition followed by a lease that is already gone again is a race with a release: retry.
    for (let attempt = 0; attempt < 4; attempt++) {
      const now = this.clock.now();
      const byClock = attempt % 2 === 0;
      try {
        const out = await this.call('UpdateItem', 'write', () =>
          this.client.send(
            new UpdateCommand({
              TableName: this.table,
              Key: key,
              UpdateExpression: byClock
                ? 'SET #owner = :owner, #exp = :exp, #guid = :guid, #init = if_not_exists(#init, :false), #poll = :clock'
                : 'SET #owner = :owner, #exp = :exp, #guid = :guid, #init = if_not_exists(#init, :false) ADD #poll :one',
              ConditionExpression: byClock
                ? '(attribute_not_exists(#owner) OR #exp < :now OR #owner = :owner) AND (attribute_not_exists(#poll) OR #poll < :clock)'
                : '(attribute_not_exists(#owner) OR #exp < :now OR #owner = :owner) AND #poll >= :clock',
              ExpressionAttributeNames: {
                '#owner': 'leaseOwner',
                '#exp': 'leaseExpiresAt',
                '#guid': 'organizationGuid',
                '#init': 'initialized',
                '#poll': 'pollNumber',
              },
              ExpressionAttributeValues: {
                ':owner': owner,
                ':exp': now + ttlMs,
                ':now': now,
                ':guid': organizationGuid,
                ':false': false,
                ':clock': Math.floor(now / 1000),
                ...(byClock ? {} : { ':one': 1 }),
              },
              ReturnValues: 'ALL_NEW',
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
        const state = toOrgState(organizationGuid, out.Attributes);
        return { acquired: true, pollNumber: state.pollNumber, state };
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      const item = await this.getStateItem(organizationGuid);
      const leaseFree =
        item?.leaseOwner === undefined ||
        item.leaseExpiresAt === undefined ||
        item.leaseExpiresAt < this.clock.now() ||
        item.leaseOwner === owner;
      if (!leaseFree && item?.leaseOwner !== undefined && item.leaseExpiresAt !== undefined) {
        return { acquired: false, holder: item.leaseOwner, expiresAt: item.leaseExpiresAt };
      }
      // The lease is free: the poll-number half of the condition failed; the other form fits.
    }
    throw new Error(`acquireLease: the lease of organization ${organizationGuid} kept changing; try again`);
  }

  async renewLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean> {
    await this.faults.check('renewLease', organizationGuid);
    assertLeaseArgs(owner, ttlMs);
    try {
      await this.call('UpdateItem', 'write', () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: this.stateKey(organizationGuid),
            UpdateExpression: 'SET #exp = :exp',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'leaseOwner', '#exp': 'leaseExpiresAt' },
            ExpressionAttributeValues: { ':owner': owner, ':exp': this.clock.now() + ttlMs },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async releaseLease(organizationGuid: string, owner: string): Promise<void> {
    await this.faults.check('releaseLease', organizationGuid);
    try {
      await this.call('UpdateItem', 'write', () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: this.stateKey(organizationGuid),
            UpdateExpression: 'REMOVE #owner, #exp',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'leaseOwner', '#exp': 'leaseExpiresAt' },
            ExpressionAttributeValues: { ':owner': owner },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
    } catch (err) {
      // Not ours (any more): nothing to release.
      if (!isConditionFailure(err)) throw err;
    }
  }

  async updateOrgState(
    organizationGuid: string,
    patch: Partial<Omit<OrgState, 'organizationGuid' | 'pollNumber'>>,
  ): Promise<void> {
    await this.faults.check('updateOrgState', organizationGuid);
    const patchFields = checkOrgStatePatch(patch);
    const names: Record<string, string> = { '#guid': 'organizationGuid' };
    const values: Record<string, unknown> = { ':guid': organizationGuid };
    const sets = ['#guid = :guid'];
    for (const field of ORG_STATE_PATCH_FIELDS) {
      const value = patchFields[field];
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    if (patchFields.initialized === undefined) {
      names['#initialized'] = 'initialized';
      values[':false'] = false;
      sets.push('#initialized = if_not_exists(#initialized, :false)');
    }
    await this.call('UpdateItem', 'write', () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.stateKey(organizationGuid),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
  }

  async getOrgState(organizationGuid: string): Promise<OrgState | undefined> {
    await this.faults.check('getOrgState', organizationGuid);
    const item = await this.getStateItem(organizationGuid);
    return item ? toOrgState(organizationGuid, item) : undefined;
  }

  // -------------------------------------------------------------------------------------------------
  // Snapshots and index

  async loadIndex(organizationGuid: string): Promise<Map<number, string>> {
    await this.faults.check('loadIndex', organizationGuid);
    const index = new Map<number, string>();
    const items = await this.queryAll('loadIndex', organizationGuid, SK.indexPrefix);
    for (const item of items) {
      const sk = String(item[SORT]);
      const bytes = item.idx;
      if (!(bytes instanceof Uint8Array) || item.v !== INDEX_FORMAT_VERSION) {
        throw new Error(`index item ${sk} of organization ${organizationGuid} is corrupt: no packed entries`);
      }
      decodeShard(shardFromSk(sk), bytes, index);
    }
    return index;
  }

  async getSnapshots(organizationGuid: string, ids: readonly number[]): Promise<Map<number, StoredSnapshot>> {
    await this.faults.check('getSnapshots', organizationGuid);
    const pk = orgPk(organizationGuid);
    const unique = [...new Set(ids)];
    for (const id of unique) assertCustomerId(id);
    const result = new Map<number, StoredSnapshot>();
    const batches = chunks(unique, BATCH_GET_MAX);
    await this.pool(batches, async (batch) => {
      const items = await this.batchGet(batch.map((id) => ({ [PK]: pk, [SORT]: customerSk(id) })));
      for (const item of items) {
        const snapshot = toSnapshot(item);
        result.set(snapshot.customerId, snapshot);
      }
    });
    return result;
  }

  async commit(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
    index: ReadonlyMap<number, string>,
  ): Promise<void> {
    await this.faults.check('commit', organizationGuid);
    const changes = normaliseCommit(puts, deletes, index);
    await this.writeSnapshots(organizationGuid, changes);
    await this.writeIndex(organizationGuid, index, [...changes.puts.keys(), ...changes.deletes]);
  }

  async commitSnapshots(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
  ): Promise<void> {
    await this.faults.check('commitSnapshots', organizationGuid);
    await this.writeSnapshots(organizationGuid, normaliseSnapshots(puts, deletes));
  }

  async commitIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    await this.faults.check('commitIndex', organizationGuid);
    checkIndex(index);
    await this.writeIndex(organizationGuid, index, ids);
  }

  /** Customer items, in batches of 25 (the 'commit:snapshots' fault point precedes each). */
  private async writeSnapshots(
    organizationGuid: string,
    changes: { puts: ReadonlyMap<number, StoredSnapshot>; deletes: ReadonlySet<number> },
  ): Promise<void> {
    const pk = orgPk(organizationGuid);
    const requests: BatchWriteWriteRequest[] = [];
    for (const snapshot of changes.puts.values()) {
      const record = JSON.stringify(snapshot.record);
      if (Buffer.byteLength(record, 'utf8') > MAX_RECORD_JSON_BYTES) {
        throw new Error(`commit: the record of customer ${snapshot.customerId} is too large for one item`);
      }
      requests.push({
        PutRequest: {
          Item: {
            [PK]: pk,
            [SORT]: customerSk(snapshot.customerId),
            customerId: snapshot.customerId,
            hash: snapshot.hash,
            sequence: snapshot.sequence,
            record,
          },
        },
      });
    }
    for (const id of changes.deletes) {
      requests.push({ DeleteRequest: { Key: { [PK]: pk, [SORT]: customerSk(id) } } });
    }
    await this.pool(chunks(requests, BATCH_WRITE_MAX), async (batch) => {
      await this.faults.check('commit:snapshots', organizationGuid);
      await this.batchWrite(batch);
    });
  }

  /** The index shards holding `ids`, rewritten from `index` (the 'commit:index' fault point precedes). */
  private async writeIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void> {
    await this.faults.check('commit:index', organizationGuid);
    const pk = orgPk(organizationGuid);
    const shards = new Set<number>();
    for (const id of ids) shards.add(id % INDEX_SHARDS);
    if (shards.size === 0) return;
    const shardWrites: BatchWriteWriteRequest[] = [];
    for (const [shard, entries] of entriesOfShards(index, shards)) {
      const key = { [PK]: pk, [SORT]: indexSk(shard) };
      if (entries.length === 0) {
        shardWrites.push({ DeleteRequest: { Key: key } });
      } else {
        shardWrites.push({
          PutRequest: { Item: { ...key, v: INDEX_FORMAT_VERSION, idx: encodeShard(entries) } },
        });
      }
    }
    await this.pool(chunks(shardWrites, BATCH_WRITE_MAX), (batch) => this.batchWrite(batch));
  }

  // -------------------------------------------------------------------------------------------------
  // Journal

  async writeJournal(
    organizationGuid: string,
    pollNumber: number,
    entries: readonly JournalEntry[],
  ): Promise<string[]> {
    await this.faults.check('writeJournal', organizationGuid);
    assertPollNumber(pollNumber);
    const payloads = await encodeJournal(entries, this.journalItemBytes);
    if (payloads.length === 0) return [];
    const pk = orgPk(organizationGuid);
    // Never overwrite a batch of this poll that is still there: number the new items after it. The next
    // number is remembered between calls of one poll (a Query reads whole items, so asking again for every
    // chunk would read the poll's whole journal each time); a conditional put catches anything else.
    const remembered = this.journalNext.get(pk);
    let next = remembered?.pollNumber === pollNumber ? remembered.next : undefined;
    if (next === undefined) {
      const existing = await this.queryAll('writeJournal', organizationGuid, journalPollPrefix(pollNumber), {
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#sk': SORT },
      });
      next = 0;
      for (const item of existing) {
        const chunk = journalChunkOf(String(item[SORT]), pollNumber);
        if (chunk !== undefined) next = Math.max(next, chunk + 1);
      }
    }
    const keys: string[] = [];
    for (const [i, payload] of payloads.entries()) {
      const sk = journalSk(pollNumber, next + i);
      await this.faults.check('writeJournal:item', organizationGuid);
      try {
        await this.call('PutItem', 'write', () =>
          this.client.send(
            new PutCommand({
              TableName: this.table,
              Item: { [PK]: pk, [SORT]: sk, pollNumber, payload },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': PK },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
      } catch (err) {
        if (isConditionFailure(err)) {
          this.journalNext.delete(pk);
          throw new Error(`writeJournal: journal item ${sk} was written meanwhile by another writer`);
        }
        throw err;
      }
      keys.push(sk);
      this.journalNext.set(pk, { pollNumber, next: next + i + 1 });
    }
    return keys;
  }

  async loadJournal(organizationGuid: string): Promise<JournalBatch[]> {
    await this.faults.check('loadJournal', organizationGuid);
    const items = await this.queryAll('loadJournal', organizationGuid, SK.journalPrefix);
    const batches: JournalBatch[] = [];
    for (const item of items) {
      const key = String(item[SORT]);
      const payload = item.payload;
      if (!(payload instanceof Uint8Array)) throw new Error(`journal item ${key} is corrupt: no payload`);
      batches.push({ key, entries: await decodeJournal(key, payload) });
    }
    return batches;
  }

  async deleteJournal(organizationGuid: string, keys: readonly string[]): Promise<void> {
    await this.faults.check('deleteJournal', organizationGuid);
    const pk = orgPk(organizationGuid);
    const unique = [...new Set(keys)];
    for (const key of unique) assertJournalKey(key);
    const requests = unique.map((sk) => ({ DeleteRequest: { Key: { [PK]: pk, [SORT]: sk } } }));
    await this.pool(chunks(requests, BATCH_WRITE_MAX), (batch) => this.batchWrite(batch));
  }

  // -------------------------------------------------------------------------------------------------
  // Run records

  async putRunRecord(run: RunRecord): Promise<void> {
    await this.faults.check('putRunRecord', run.organizationGuid);
    const checked = runRecordSchema.safeParse(run);
    if (!checked.success) throw new Error(`putRunRecord: ${z.prettifyError(checked.error)}`);
    await this.call('PutItem', 'write', () =>
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            [PK]: orgPk(run.organizationGuid),
            [SORT]: runSk(run),
            [TTL]: Math.floor(this.clock.now() / 1000) + this.runTtlSeconds,
            run: checked.data,
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
  }

  async listRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]> {
    await this.faults.check('listRunRecords', organizationGuid);
    if (!Number.isInteger(limit) || limit <= 0) return [];
    // Newest first; an eventually consistent read is enough here: it decides nothing.
    const items = await this.queryAll('listRunRecords', organizationGuid, SK.runPrefix, {
      newestFirst: true,
      limit,
      consistentRead: false,
    });
    return items.map((item) => {
      const checked = runRecordSchema.safeParse(item.run);
      if (!checked.success) {
        throw new Error(`run record ${String(item[SORT])} is corrupt: ${z.prettifyError(checked.error)}`);
      }
      return checked.data;
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Plumbing

  private stateKey(organizationGuid: string): Item {
    return { [PK]: orgPk(organizationGuid), [SORT]: SK.state };
  }

  private async getStateItem(organizationGuid: string) {
    const out = await this.call('GetItem', 'read', () =>
      this.client.send(
        new GetCommand({
          TableName: this.table,
          Key: this.stateKey(organizationGuid),
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    if (!out.Item) return undefined;
    const checked = orgStateItemSchema.safeParse(out.Item);
    if (!checked.success) {
      throw new Error(
        `state item of organization ${organizationGuid} is corrupt: ${z.prettifyError(checked.error)}`,
      );
    }
    return checked.data;
  }

  /**
   * The items of the organization whose sort key starts with `prefix`, in sort-key order (or newest first),
   * all of them or the first `limit`; strongly consistent unless asked otherwise.
   */
  private async queryAll(
    method: string,
    organizationGuid: string,
    prefix: string,
    options: Pick<QueryCommandInput, 'ProjectionExpression' | 'ExpressionAttributeNames'> & {
      readonly newestFirst?: boolean;
      readonly limit?: number;
      readonly consistentRead?: boolean;
    } = {},
  ): Promise<Item[]> {
    const { newestFirst, limit, consistentRead, ...extra } = options;
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.call('Query', 'read', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ...extra,
            ExpressionAttributeNames: { ...extra.ExpressionAttributeNames, '#pk': PK, '#sk': SORT },
            ExpressionAttributeValues: { ':pk': orgPk(organizationGuid), ':prefix': prefix },
            ConsistentRead: consistentRead ?? true,
            ...(newestFirst ? { ScanIndexForward: false } : {}),
            ...(limit !== undefined ? { Limit: limit - items.length } : {}),
            ExclusiveStartKey: startKey,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      if (!out.Items) throw new Error(`${method}: Query returned no Items list`);
      items.push(...out.Items);
      startKey = out.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }

  /**
   * One BatchWriteItem of at most 25 requests, re-sending UnprocessedItems with backoff until done.
   */
  private async batchWrite(requests: BatchWriteWriteRequest[]): Promise<void> {
    await this.untilProcessed('BatchWriteItem', 'writes', requests, async (pending) => {
      const out = await this.call('BatchWriteItem', 'write', () =>
        this.client.send(
          new BatchWriteCommand({
            RequestItems: { [this.table]: pending },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      return out.UnprocessedItems?.[this.table] ?? [];
    });
  }

  /** One BatchGetItem of at most 100 keys (strongly consistent), re-asking UnprocessedKeys with backoff. */
  private async batchGet(keys: Item[]): Promise<Item[]> {
    const items: Item[] = [];
    await this.untilProcessed('BatchGetItem', 'keys', keys, async (pending) => {
      const out = await this.call('BatchGetItem', 'read', () =>
        this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      items.push(...(out.Responses?.[this.table] ?? []));
      return out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    });
    return items;
  }

  /**
   * Calls `send` with what is still pending (it answers what was left unprocessed) until nothing is left,
   * with backoff. Gives up after `maxAttempts` calls in a row that made no progress (a call that got some
   * through resets the count, so a throttled but moving partition is waited out).
   */
  private async untilProcessed<T>(
    operation: string,
    what: string,
    initial: T[],
    send: (pending: T[]) => Promise<T[]>,
  ): Promise<void> {
    let pending = initial;
    let stalled = 0;
    for (let calls = 1; ; calls++) {
      const left = await send(pending);
      if (left.length === 0) return;
      stalled = left.length < pending.length ? 1 : stalled + 1;
      pending = left;
      if (stalled >= this.maxAttempts) {
        throw new Error(
          `${operation}: ${pending.length} of ${initial.length} ${what} still unprocessed after ${calls} attempts (table throttled?)`,
        );
      }
      await this.sleep(this.backoff(stalled));
    }
  }

  /** Full-jitter exponential backoff before retry number `attempt` (1-based). */
  private backoff(attempt: number): number {
    return fullJitterDelay(attempt, this.baseDelayMs, this.maxDelayMs, this.random);
  }

  /** Runs `work` on every item, at most `concurrency` at once; stops starting new ones after a failure. */
  private async pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < items.length) {
        const item = items[next++] as T;
        try {
          await work(item);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const workers = Array.from({ length: Math.min(this.concurrency, items.length) }, worker);
    const results = await Promise.allSettled(workers);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  private async call<O extends { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] | undefined }>(
    operation: string,
    kind: 'read' | 'write',
    send: () => Promise<O>,
  ): Promise<O> {
    this.requests[operation] = (this.requests[operation] ?? 0) + 1;
    const out = await send();
    const consumed = out.ConsumedCapacity;
    const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
    const units = list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
    if (kind === 'read') this.readUnits += units;
    else this.writeUnits += units;
    return out;
  }
}

function toOrgState(organizationGuid: string, attributes: Record<string, unknown> | undefined): OrgState {
  const checked = orgStateItemSchema.safeParse(attributes);
  if (!checked.success) {
    throw new Error(
      `state item of organization ${organizationGuid} is corrupt: ${z.prettifyError(checked.error)}`,
    );
  }
  const item = checked.data;
  return {
    organizationGuid: item.organizationGuid,
    pollNumber: item.pollNumber ?? 0,
    initialized: item.initialized ?? false,
    ...(item.lastPages !== undefined ? { lastPages: item.lastPages } : {}),
    ...(item.lastSuccessAt !== undefined ? { lastSuccessAt: item.lastSuccessAt } : {}),
    ...(item.resyncRequested !== undefined ? { resyncRequested: item.resyncRequested } : {}),
    ...(item.notBefore ? { notBefore: item.notBefore } : {}),
  };
}

function toSnapshot(item: Item): StoredSnapshot {
  const where = `customer item ${String(item[SORT])}`;
  const checked = customerItemSchema.safeParse(item);
  if (!checked.success) throw new Error(`${where} is corrupt: ${z.prettifyError(checked.error)}`);
  const { customerId, hash, sequence, record } = checked.data;
  return { customerId, hash, sequence, record: parseRecord(record, where) };
}
