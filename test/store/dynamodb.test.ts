import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import type { TestClock } from '../support/clock.ts';
import { withStoreFaults } from '../support/store-faults.ts';
import { defineStoreContract } from './contract.ts';
import { customer, customerIds, indexOf, runRecord, snapshot, storeClock } from './helpers.ts';

const TABLE = 'nutcache-cdc-store-test';
let local: LocalDynamo;

beforeAll(async () => {
  local = await startLocalDynamo();
  await createTable(local.client, TABLE);
});

afterAll(async () => {
  await local?.close();
});

function makeStore(clock: TestClock, options: { runRecordTtlDays?: number } = {}) {
  return new DynamoSnapshotStore({
    client: createDocumentClient(local.client),
    tableName: TABLE,
    clock,
    ...options,
  });
}

defineStoreContract('DynamoSnapshotStore on dynalite', (clock) => withStoreFaults(makeStore(clock)));

describe('DynamoSnapshotStore on dynalite', () => {
  it('loads the index of 20,000 customers for under twice the ideal read units', async () => {
    const store = makeStore(storeClock());
    const snapshots = customerIds(20_000).map((id) => snapshot(customer(id)));
    await store.commit('org-20k', snapshots, [], indexOf(snapshots));

    store.resetStats();
    const index = await store.loadIndex('org-20k');
    expect(index).toEqual(indexOf(snapshots));

    const floor = Math.ceil((20_000 * 16) / 4096);
    const { readUnits, writeUnits, requests } = store.stats;
    expect(readUnits).toBeGreaterThanOrEqual(floor);
    expect(readUnits).toBeLessThan(2 * floor);
    expect(writeUnits).toBe(0);
    expect(requests).toEqual({ Query: 1 });
  });

  it('counts the write units of a commit and its calls per operation', async () => {
    const store = makeStore(storeClock());
    const snapshots = customerIds(30).map((id) => snapshot(customer(id)));
    await store.commit('org-units', snapshots, [], indexOf(snapshots));
    // 30 small customer items (1 unit each) and 30 one-entry shards (1 unit each), 25 per call.
    expect(store.stats).toEqual({ readUnits: 0, writeUnits: 60, requests: { BatchWriteItem: 4 } });
  });

  it('stores a run record with a TTL of 30 days by default, or as configured', async () => {
    const clock = storeClock();
    const docs = createDocumentClient(local.client);
    const expiresAt = async (ttlDays?: number) => {
      const org = `org-ttl-${ttlDays ?? 'default'}`;
      const store = makeStore(clock, ttlDays === undefined ? {} : { runRecordTtlDays: ttlDays });
      await store.putRunRecord(runRecord(org, 1, '2026-01-15T12:00:00.000Z'));
      const out = await docs.send(
        new GetCommand({
          TableName: TABLE,
          Key: { pk: `ORG#${org.toUpperCase()}`, sk: 'RUN#2026-01-15T12:00:00.000Z#poll-1' },
        }),
      );
      return out.Item?.expiresAt;
    };
    const nowSeconds = Math.floor(clock.now() / 1000);
    expect(await expiresAt()).toBe(nowSeconds + 30 * 86_400);
    expect(await expiresAt(2)).toBe(nowSeconds + 2 * 86_400);
  });

  it('raises a clear error naming a corrupt journal item', async () => {
    const store = makeStore(storeClock());
    await createDocumentClient(local.client).send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: 'ORG#ORG-CORRUPT', sk: 'JOURNAL#000000000001#0000', payload: Buffer.from('not gzip') },
      }),
    );
    await expect(store.loadJournal('org-corrupt')).rejects.toThrow(
      /journal item JOURNAL#000000000001#0000 is corrupt/,
    );
  });

  it('raises a clear error naming a corrupt index shard', async () => {
    const store = makeStore(storeClock());
    await createDocumentClient(local.client).send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: 'ORG#ORG-BAD-INDEX', sk: 'INDEX#003', v: 1, idx: Buffer.alloc(15) },
      }),
    );
    await expect(store.loadIndex('org-bad-index')).rejects.toThrow(/index item INDEX#003 .*corrupt/);
  });
});
