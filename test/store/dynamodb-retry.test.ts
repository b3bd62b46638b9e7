import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { customer, indexOf, snapshot } from './helpers.ts';

const TABLE = 'store-table';
const docClient = createDocumentClient(
  new DynamoDBClient({ region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
);
const ddb = mockClient(docClient);

function makeStore(sleeps: number[], maxAttempts = 4) {
  return new DynamoSnapshotStore({
    client: docClient,
    tableName: TABLE,
    retry: { maxAttempts, baseDelayMs: 100, maxDelayMs: 300 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
}

function sentWrites(call: number): BatchWriteWriteRequest[] {
  const input = ddb.commandCalls(BatchWriteCommand)[call]?.args[0].input;
  return input?.RequestItems?.[TABLE] ?? [];
}

describe('DynamoSnapshotStore batch retries', () => {
  beforeEach(() => {
    ddb.reset();
  });

  it('re-sends only the unprocessed writes of a batch, after a backoff', async () => {
    const sleeps: number[] = [];
    const store = makeStore(sleeps);
    const s = snapshot(customer(42));
    ddb
      .on(BatchWriteCommand)
      .callsFakeOnce((input: { RequestItems: Record<string, BatchWriteWriteRequest[]> }) => ({
        UnprocessedItems: { [TABLE]: input.RequestItems[TABLE]?.slice(0, 1) },
        ConsumedCapacity: [{ TableName: TABLE, CapacityUnits: 0 }],
      }))
      .resolves({ ConsumedCapacity: [{ TableName: TABLE, CapacityUnits: 1 }] });

    await store.commit('org', [s], [], indexOf([s]));

    // The customer item (unprocessed once, then re-sent), then the index shard.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(3);
    expect(sentWrites(1)).toEqual(sentWrites(0));
    expect(sentWrites(1)[0]?.PutRequest?.Item).toMatchObject({ sk: 'CUSTOMER#000000000000042' });
    expect(sentWrites(2)[0]?.PutRequest?.Item).toMatchObject({ sk: 'INDEX#042' });
    expect(sleeps).toEqual([50]);
    expect(store.stats).toEqual({ readUnits: 0, writeUnits: 2, requests: { BatchWriteItem: 3 } });
  });

  it('gives up with a clear error after the bounded number of attempts', async () => {
    const sleeps: number[] = [];
    const store = makeStore(sleeps, 4);
    ddb
      .on(BatchWriteCommand)
      .callsFake((input: { RequestItems: Record<string, BatchWriteWriteRequest[]> }) => ({
        UnprocessedItems: input.RequestItems,
      }));
    const s = snapshot(customer(42));

    await expect(store.commit('org', [s], [], indexOf([s]))).rejects.toThrow(
      'BatchWriteItem: 1 of 1 writes still unprocessed after 4 attempts',
    );
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(4);
    // Full jitter (here half) of an exponential ceiling capped at 300 ms.
    expect(sleeps).toEqual([50, 100, 150]);
  });

  it('keeps retrying while each call gets some writes through', async () => {
    const sleeps: number[] = [];
    const store = makeStore(sleeps, 2);
    ddb
      .on(BatchWriteCommand)
      .callsFake((input: { RequestItems: Record<string, BatchWriteWriteRequest[]> }) => ({
        UnprocessedItems: { [TABLE]: input.RequestItems[TABLE]?.slice(1) },
      }));
    const snapshots = [1, 2, 3].map((id) => snapshot(customer(id)));

    await store.commit('org', snapshots, [], indexOf(snapshots));

    // Customer items: 3 calls of 3, 2 and 1 requests; then the 3 index shards the same way.
    expect(
      ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.length),
    ).toEqual([3, 2, 1, 3, 2, 1]);
    expect(sleeps).toEqual([50, 50, 50, 50]);
  });

  it('re-asks unprocessed keys of a strongly consistent batch read', async () => {
    const store = makeStore([]);
    const record = customer(7);
    const item = {
      pk: 'ORG#ORG',
      sk: 'CUSTOMER#000000000000007',
      customerId: 7,
      hash: snapshot(record).hash,
      sequence: 3,
      record: JSON.stringify(record),
    };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'ORG#ORG', sk: item.sk }], ConsistentRead: true } },
        ConsumedCapacity: [{ TableName: TABLE, CapacityUnits: 0 }],
      })
      .resolves({
        Responses: { [TABLE]: [item] },
        ConsumedCapacity: [{ TableName: TABLE, CapacityUnits: 1 }],
      });

    const got = await store.getSnapshots('org', [7]);
    expect(got.get(7)).toEqual({ ...snapshot(record, 3) });
    const calls = ddb.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input.RequestItems?.[TABLE]?.ConsistentRead).toBe(true);
    expect(store.stats.readUnits).toBe(1);
  });
});

describe('DynamoSnapshotStore lease calls', () => {
  beforeEach(() => {
    ddb.reset();
  });

  it('takes the lease in one conditional update that also hands out the poll number', async () => {
    const store = makeStore([]);
    ddb.on(UpdateCommand).resolves({
      Attributes: { organizationGuid: 'org', pollNumber: 8, initialized: true, leaseOwner: 'me' },
      ConsumedCapacity: { TableName: TABLE, CapacityUnits: 1 },
    });
    expect(await store.acquireLease('org', 'me', 1000)).toEqual({
      acquired: true,
      pollNumber: 8,
      state: { organizationGuid: 'org', pollNumber: 8, initialized: true },
    });
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      '(attribute_not_exists(#owner) OR #exp < :now OR #owner = :owner) AND (attribute_not_exists(#poll) OR #poll < :clock)',
    );
    expect(input?.UpdateExpression).toContain('#poll = :clock');
    expect(input?.ExpressionAttributeValues?.[':clock']).toBe(
      Math.floor(Number(input?.ExpressionAttributeValues?.[':now']) / 1000),
    );
    expect(input?.ReturnValues).toBe('ALL_NEW');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('reads the holder back with a consistent read when the condition fails', async () => {
    const store = makeStore([]);
    ddb
      .on(UpdateCommand)
      .rejects(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      );
    const expiresAt = Date.now() + 60_000;
    ddb.on(GetCommand).resolves({
      Item: { organizationGuid: 'org', pollNumber: 3, leaseOwner: 'other', leaseExpiresAt: expiresAt },
    });
    expect(await store.acquireLease('org', 'me', 1000)).toEqual({
      acquired: false,
      holder: 'other',
      expiresAt,
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    expect(await store.renewLease('org', 'me', 1000)).toBe(false);
  });

  it('passes other errors of the lease call to the caller', async () => {
    const store = makeStore([]);
    ddb.on(UpdateCommand).rejects(new Error('network down'));
    await expect(store.acquireLease('org', 'me', 1000)).rejects.toThrow('network down');
    await expect(store.releaseLease('org', 'me')).rejects.toThrow('network down');
  });
});
