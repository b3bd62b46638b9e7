import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyId, QuotaGuard, utcDay } from '../../shared/quota/budget.ts';
import { DynamoQuotaStore, QUOTA_TTL_SECONDS } from '../../shared/quota/dynamodb.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';

const TABLE = 'quota-test';
let dynamo: LocalDynamo;
let store: DynamoQuotaStore;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await createTable(dynamo.client, TABLE);
  store = new DynamoQuotaStore({ client: createDocumentClient(dynamo.client), tableName: TABLE });
});

afterAll(async () => {
  await dynamo?.close();
});

describe('DynamoQuotaStore on dynalite', () => {
  it('counts 20 parallel consumptions exactly once each (atomic ADD)', async () => {
    const id = apiKeyId('parallel-key');
    const totals = await Promise.all(Array.from({ length: 20 }, () => store.consume(id, '2026-03-01', 3)));
    expect(await store.used(id, '2026-03-01')).toBe(60);
    // Every caller saw a different running total: no two adds were merged.
    expect(new Set(totals).size).toBe(20);
    expect(Math.max(...totals)).toBe(60);
  });

  it('keeps one item per key and UTC day, with a TTL about three days after the day began', async () => {
    const id = apiKeyId('ttl-key');
    const before = utcDay(Date.parse('2026-03-01T23:59:59Z'));
    const after = utcDay(Date.parse('2026-03-02T00:00:01Z'));
    await store.consume(id, before, 150);
    await store.consume(id, after, 5);
    expect(await store.used(id, before)).toBe(150);
    expect(await store.used(id, after)).toBe(5);
    const item = await createDocumentClient(dynamo.client).send(
      new GetCommand({ TableName: TABLE, Key: { pk: `QUOTA#${id}`, sk: 'DAY#2026-03-01' } }),
    );
    expect(item.Item).toMatchObject({ used: 150 });
    expect(item.Item?.expiresAt).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000 + QUOTA_TTL_SECONDS);
    expect(JSON.stringify(item.Item)).not.toContain('ttl-key');
  });

  it('reads 0 for a day nothing was counted', async () => {
    expect(await store.used(apiKeyId('never-used'), '2026-03-01')).toBe(0);
  });

  it('refuses a raw-looking key so a secret is never written as a partition key', async () => {
    await expect(store.consume('key with spaces: secret', '2026-03-01', 1)).rejects.toThrow(/derived id/);
  });

  it('lets concurrent guards sharing a key admit no more than the budget', async () => {
    const id = apiKeyId('shared-dynamo-key');
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    let deferred = 0;
    const metrics = { count: (name: string) => void (name === 'PollDeferred' && deferred++), gauge() {} };
    const guard = () =>
      new QuotaGuard({
        store,
        apiKeyId: id,
        dailyBudget: 1_000,
        clock: { now: () => Date.parse('2026-03-05T10:00:00Z') },
        log: silent,
        metrics,
      });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => guard().admit(120, { organizationGuid: `org-${i}` })),
    );
    const admitted = results.filter((r) => r.admitted).length;
    expect(admitted).toBe(8); // 8 × 120 = 960 ≤ 1,000; a 9th would be 1,080
    expect(deferred).toBe(4);
    expect(await store.used(id, '2026-03-05')).toBe(960);
  });
});
