import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { listAll, OrganizationExistsError, OrganizationNotFoundError } from '../../shared/registry/port.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { TestClock } from '../support/clock.ts';
import { deploymentRecord, guid, organization } from './helpers.ts';

const TABLE = 'nutcache-cdc-registry-test';
let local: LocalDynamo;

beforeAll(async () => {
  local = await startLocalDynamo();
  await createTable(local.client, TABLE);
});

afterAll(async () => {
  await local?.close();
});

let tableNumber = 0;
async function freshRegistry(clock = new TestClock(), pageSize?: number) {
  tableNumber += 1;
  const tableName = `${TABLE}-${tableNumber}`;
  await createTable(local.client, tableName);
  const client = createDocumentClient(local.client);
  return {
    client,
    tableName,
    registry: new DynamoOrganizationRegistry({
      client,
      tableName,
      clock,
      ...(pageSize ? { pageSize } : {}),
    }),
  };
}

describe('DynamoOrganizationRegistry on dynalite', () => {
  it('adds, gets (GUID in any case), updates and removes an organization', async () => {
    const clock = new TestClock({ start: Date.parse('2026-03-01T10:00:00Z') });
    const { registry } = await freshRegistry(clock);
    await registry.add(organization(1, { label: 'Acme' }));
    expect(await registry.get(guid(1).toLowerCase())).toMatchObject({ label: 'Acme', state: 'active' });

    const updated = await registry.update(guid(1), { state: 'paused', everyMinutes: 30 });
    expect(updated).toMatchObject({
      organizationGuid: guid(1).toUpperCase(),
      state: 'paused',
      everyMinutes: 30,
      label: 'Acme',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-03-01T10:00:00.000Z',
    });
    expect(await registry.get(guid(1))).toEqual(updated);

    expect(await registry.remove(guid(1))).toEqual(updated);
    expect(await registry.get(guid(1))).toBeUndefined();
    expect(await registry.remove(guid(1))).toBeUndefined();
  });

  it('refuses to add an organization twice and to update one that is not registered', async () => {
    const { registry } = await freshRegistry();
    await registry.add(organization(2, { label: 'first' }));
    await expect(registry.add(organization(2, { label: 'second' }))).rejects.toBeInstanceOf(
      OrganizationExistsError,
    );
    expect((await registry.get(guid(2)))?.label).toBe('first');
    await expect(registry.update(guid(3), { label: 'x' })).rejects.toBeInstanceOf(OrganizationNotFoundError);
    expect(await registry.get(guid(3))).toBeUndefined();
  });

  it('refuses an invalid organization before writing it', async () => {
    const { registry } = await freshRegistry();
    await expect(registry.add(organization(4, { everyMinutes: 0 }))).rejects.toThrow(/everyMinutes/);
    await expect(registry.add(organization(4, { apiKeyGroup: 'has space' }))).rejects.toThrow(/apiKeyGroup/);
    expect(await listAll(registry)).toEqual([]);
  });

  it('lists 250 organizations page by page, in GUID order, and nothing else of the table', async () => {
    const { registry, client, tableName } = await freshRegistry(new TestClock(), 40);
    // An organization's snapshot state in the same table is not a registry item.
    const store = new DynamoSnapshotStore({ client, tableName });
    await store.acquireLease(guid(7), 'owner', 60_000);
    const ns = Array.from({ length: 250 }, (_, i) => 249 - i);
    for (const n of ns) await registry.add(organization(n));

    const listed = await listAll(registry);
    expect(listed.map((o) => o.organizationGuid)).toEqual(
      [...ns].sort((a, b) => a - b).map((n) => guid(n).toUpperCase()),
    );
    const first = await registry.listPage({ limit: 10 });
    expect(first.organizations).toHaveLength(10);
    const second = await registry.listPage({ limit: 10, ...(first.next ? { next: first.next } : {}) });
    expect(second.organizations[0]?.organizationGuid).toBe(guid(10).toUpperCase());
  });

  it('keeps registry items apart from the organization snapshot items of the same GUID', async () => {
    const { registry, client, tableName } = await freshRegistry();
    const store = new DynamoSnapshotStore({ client, tableName });
    await store.acquireLease(guid(8), 'owner', 60_000);
    await registry.add(organization(8));
    await registry.remove(guid(8));
    expect((await store.getOrgState(guid(8)))?.pollNumber).toBeGreaterThan(0);
  });

  it('round-trips the deployment record and reports a table without one', async () => {
    const { registry, client, tableName } = await freshRegistry();
    expect(await registry.getDeployment()).toBeUndefined();
    const record = deploymentRecord();
    await registry.putDeployment(record);
    expect(await registry.getDeployment()).toEqual(record);
    const raw = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: 'REGISTRY#DEPLOYMENT', sk: 'CURRENT' } }),
    );
    expect(raw.Item?.environment).toBe('prod');
    await expect(registry.putDeployment({ ...record, pollQueueArn: 'not-an-arn' })).rejects.toThrow(
      /pollQueueArn/,
    );
  });
});
