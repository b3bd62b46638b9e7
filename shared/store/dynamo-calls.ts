/**
 * The DynamoDB mechanics of the store, apart from what it stores: every call asks for its consumed capacity
 * and is counted in `stats`; a paginated Query; BatchWriteItem / BatchGetItem re-sending what came back
 * unprocessed, with backoff; batches of one operation run a few at a time.
 */
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { fullJitterDelay } from '../util/backoff.ts';
import { chunks, pool } from './pool.ts';
import { BATCH_WRITE_MAX, TABLE_KEYS } from './table.ts';

export type Item = Record<string, unknown>;

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_MAX = 100;

export interface RetryOptions {
  /** Calls in a row without progress before a batch gives up (first call included). Default 8. */
  readonly maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt (full jitter). Default 50 ms. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling. Default 2,000 ms. */
  readonly maxDelayMs?: number;
}

/** Consumed capacity and calls, summed over the store's life (or since `resetStats`). */
export interface StoreStats {
  readonly readUnits: number;
  readonly writeUnits: number;
  /** DynamoDB calls made, by API operation name (`Query`, `BatchWriteItem`, …). */
  readonly requests: Readonly<Record<string, number>>;
}

export interface DynamoCallsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly retry?: RetryOptions | undefined;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  /** Batch calls of one method in flight at once. */
  readonly concurrency: number;
}

/** What `query` reads: the items of partition `pk` whose sort key starts with `prefix`. */
export interface QueryRange {
  readonly pk: string;
  readonly prefix: string;
  /** A label for errors (the store method that reads). */
  readonly method: string;
  readonly newestFirst?: boolean;
  readonly limit?: number;
  /** Strongly consistent unless false. */
  readonly consistentRead?: boolean;
  readonly projection?: Pick<QueryCommandInput, 'ProjectionExpression' | 'ExpressionAttributeNames'>;
}

type Consuming = { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] | undefined };
type TableInput<I> = Omit<I, 'TableName' | 'ReturnConsumedCapacity'>;

/** A document client with the marshalling options the store relies on. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

export function isConditionFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/** What a conditional write answers; `otherwise` when its condition failed (nothing was written). */
export async function unlessConditionFails<T, U>(write: Promise<T>, otherwise: U): Promise<T | U> {
  try {
    return await write;
  } catch (err) {
    if (isConditionFailure(err)) return otherwise;
    throw err;
  }
}

export class DynamoCalls {
  readonly table: string;
  readonly concurrency: number;
  private readonly client: DynamoDBDocumentClient;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readUnits = 0;
  private writeUnits = 0;
  private requests: Record<string, number> = {};

  constructor(options: DynamoCallsOptions) {
    this.client = options.client;
    this.table = options.tableName;
    this.concurrency = options.concurrency;
    this.maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 8);
    this.baseDelayMs = options.retry?.baseDelayMs ?? 50;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 2_000;
    this.sleep = options.sleep;
    this.random = options.random;
  }

  get stats(): StoreStats {
    return { readUnits: this.readUnits, writeUnits: this.writeUnits, requests: { ...this.requests } };
  }

  resetStats(): void {
    this.readUnits = 0;
    this.writeUnits = 0;
    this.requests = {};
  }

  update(input: TableInput<UpdateCommandInput>) {
    return this.call('UpdateItem', 'write', () =>
      this.client.send(
        new UpdateCommand({ TableName: this.table, ...input, ReturnConsumedCapacity: 'TOTAL' }),
      ),
    );
  }

  put(input: TableInput<PutCommandInput>) {
    return this.call('PutItem', 'write', () =>
      this.client.send(new PutCommand({ TableName: this.table, ...input, ReturnConsumedCapacity: 'TOTAL' })),
    );
  }

  get(input: TableInput<GetCommandInput>) {
    return this.call('GetItem', 'read', () =>
      this.client.send(new GetCommand({ TableName: this.table, ...input, ReturnConsumedCapacity: 'TOTAL' })),
    );
  }

  /** The items of `range`, in sort-key order (or newest first), all of them or the first `limit`. */
  async query(range: QueryRange): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.call('Query', 'read', () =>
        this.client.send(new QueryCommand(this.queryInput(range, items.length, startKey))),
      );
      if (!out.Items) throw new Error(`${range.method}: Query returned no Items list`);
      items.push(...out.Items);
      startKey = out.LastEvaluatedKey;
    } while (startKey && (range.limit === undefined || items.length < range.limit));
    return items;
  }

  /** Every write request, in BatchWriteItem calls of 25 run `concurrency` at a time. */
  async writeAll(requests: readonly BatchWriteWriteRequest[]): Promise<void> {
    await pool(chunks(requests, BATCH_WRITE_MAX), this.concurrency, (batch) => this.batchWrite(batch));
  }

  /**
   * One BatchWriteItem of at most 25 requests, re-sending UnprocessedItems with backoff until done.
   */
  async batchWrite(requests: BatchWriteWriteRequest[]): Promise<void> {
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
  async batchGet(keys: Item[]): Promise<Item[]> {
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

  private queryInput(range: QueryRange, read: number, startKey: Item | undefined): QueryCommandInput {
    const { newestFirst, limit, consistentRead, projection = {} } = range;
    return {
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ...projection,
      ExpressionAttributeNames: {
        ...projection.ExpressionAttributeNames,
        '#pk': TABLE_KEYS.partitionKey,
        '#sk': TABLE_KEYS.sortKey,
      },
      ExpressionAttributeValues: { ':pk': range.pk, ':prefix': range.prefix },
      ConsistentRead: consistentRead ?? true,
      ...(newestFirst ? { ScanIndexForward: false } : {}),
      ...(limit !== undefined ? { Limit: limit - read } : {}),
      ExclusiveStartKey: startKey,
      ReturnConsumedCapacity: 'TOTAL',
    };
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
      await this.sleep(fullJitterDelay(stalled, this.baseDelayMs, this.maxDelayMs, this.random));
    }
  }

  /** Counts the call and adds the capacity it consumed to the read or write units. */
  private async call<O extends Consuming>(
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
