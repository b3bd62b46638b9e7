import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import {
  type LocalDynamo,
  openSharedLocalDynamo,
  startLocalDynamo,
} from '../../shared/store/local-dynamo.ts';
import { ownerFileOf, readOwnerRecord } from '../../shared/store/local-dynamo-owner.ts';
import { customer, indexOf, snapshot, storeClock } from './helpers.ts';

const started: LocalDynamo[] = [];
const dirs: string[] = [];

async function start(stateDir?: string): Promise<LocalDynamo> {
  const local = await startLocalDynamo(stateDir ? { stateDir } : {});
  started.push(local);
  return local;
}

afterEach(async () => {
  for (const local of started.splice(0)) await local.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('startLocalDynamo', () => {
  it('serves DynamoDB on a free loopback port', async () => {
    const local = await start();
    expect(local.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const result = await createTable(local.client, 'cdc-store');
    expect(result).toEqual({ created: true, timeToLive: false });
    const table = await local.client.send(new DescribeTableCommand({ TableName: 'cdc-store' }));
    expect(table.Table?.TableStatus).toBe('ACTIVE');
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('accepts creating a table that already exists', async () => {
    const local = await start();
    await createTable(local.client, 'cdc-store');
    expect(await createTable(local.client, 'cdc-store')).toMatchObject({ created: false });
  });

  it('keeps the data of a state directory across a stop and a start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-dynamo-'));
    dirs.push(dir);
    const s = snapshot(customer(143_222, { notes: 'kept' }));

    const first = await start(dir);
    await createTable(first.client, 'cdc-store');
    const writer = new DynamoSnapshotStore({
      client: createDocumentClient(first.client),
      tableName: 'cdc-store',
      clock: storeClock(),
    });
    await writer.acquireLease('org', 'worker', 60_000);
    await writer.commit('org', [s], [], indexOf([s]));
    await first.close();

    const second = await start(dir);
    expect(await createTable(second.client, 'cdc-store')).toMatchObject({ created: false });
    const reader = new DynamoSnapshotStore({
      client: createDocumentClient(second.client),
      tableName: 'cdc-store',
      clock: storeClock(),
    });
    expect(await reader.loadIndex('org')).toEqual(indexOf([s]));
    expect((await reader.getSnapshots('org', [143_222])).get(143_222)).toEqual(s);
    expect((await reader.getOrgState('org'))?.pollNumber).toBe(Math.floor(storeClock().now() / 1000));
  });

  it('starts empty without a state directory', async () => {
    const first = await start();
    await createTable(first.client, 'cdc-store');
    await first.close();
    const second = await start();
    expect(await createTable(second.client, 'cdc-store')).toMatchObject({ created: true });
  });
});

describe('openSharedLocalDynamo', () => {
  it('lets a second user of the directory in through the first, and takes over when the first leaves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-shared-'));
    dirs.push(dir);
    const data = join(dir, 'dynamodb');
    const first = await openSharedLocalDynamo(data);
    const second = await openSharedLocalDynamo(data);
    expect([first.role(), second.role()]).toEqual(['owner', 'client']);
    expect(readOwnerRecord(ownerFileOf(data))).toMatchObject({ pid: process.pid, port: expect.any(Number) });

    await createTable(second.client, 'cdc-store');
    const store = new DynamoSnapshotStore({
      client: createDocumentClient(second.client),
      tableName: 'cdc-store',
      clock: storeClock(),
    });
    const s = snapshot(customer(1));
    await store.commit('org', [s], [], indexOf([s]));

    await first.close();
    expect(readOwnerRecord(ownerFileOf(data))).toBeUndefined();
    // The next request of the second user finds nobody serving, serves the files itself and sees the data.
    expect(await store.loadIndex('org')).toEqual(indexOf([s]));
    expect(second.role()).toBe('owner');
    await second.close();
    expect(readOwnerRecord(ownerFileOf(data))).toBeUndefined();
  });

  it('removes the record of an owner that is gone and serves the files itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-shared-'));
    dirs.push(dir);
    const data = join(dir, 'dynamodb');
    writeFileSync(
      ownerFileOf(data),
      JSON.stringify({ pid: 99_999_999, host: hostname(), port: 9, startedAt: 'earlier' }),
    );
    const local = await openSharedLocalDynamo(data);
    expect(local.role()).toBe('owner');
    expect(readOwnerRecord(ownerFileOf(data))).toMatchObject({ pid: process.pid });
    await local.close();
  });
});
