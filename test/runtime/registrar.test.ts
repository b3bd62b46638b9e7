/**
 * The declarative path and the upgrade from the previous version, at engine level: a table on dynalite,
 * Scheduler faked with aws-sdk-client-mock, Nutcache an in-memory fake. The registrar registers the
 * configuration's organizations (and their schedules), updates them, removes dropped ones and leaves
 * `orgs add` organizations alone. A deployment made with the previous version (snapshots written by a poll
 * of an organization the ORGANIZATIONS variable listed) keeps its snapshots: after registration, the next
 * poll publishes no Snapshot event, and a real change is still detected.
 */
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../shared/events/contract.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import type { DeploymentRecord } from '../../shared/registry/deployment.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { OrganizationSecrets } from '../../shared/runtime/organization-secrets.ts';
import { pollableOrganization } from '../../shared/runtime/organizations.ts';
import { pollOrganization } from '../../shared/runtime/poll-organization.ts';
import { type ConfigOrganization, register } from '../../shared/runtime/registrar.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { recordingLog } from '../client/helpers.ts';
import { TestClock } from '../support/clock.ts';
import { customer, FakeSource } from '../support/fake-source.ts';

const TABLE = 'registrar-test';
const ORG_A = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const ORG_B = '11111111-2222-4333-8444-555555555555';
const ORG_CLI = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
const deployment: DeploymentRecord = {
  environment: 'test',
  region: 'eu-west-1',
  scheduleGroupName: 'nutcache-cdc-test',
  pollQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:NutcacheCdc-test-PollQueue.fifo',
  schedulerRoleArn: 'arn:aws:iam::123456789012:role/NutcacheCdc-test-SchedulerRole',
  scheduleDeadLetterQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:NutcacheCdc-test-PollFailureQueue',
  secretNamePrefix: 'nutcache-cdc/test/organizations/',
  secretTag: { key: 'nutcache-cdc:environment', value: 'test' },
  eventBusName: 'nutcache-cdc-test',
};
const configured = (guid: string, fields: Partial<ConfigOrganization> = {}): ConfigOrganization => ({
  organizationGuid: guid,
  everyMinutes: 15,
  apiKeyGroup: `org-${guid}`,
  initialEvents: 'snapshot',
  secret: { name: `nutcache-cdc/test/organizations/${guid}` },
  ...fields,
});
const secretArn = (guid: string) =>
  `arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache-cdc/test/organizations/${guid}`;

const schedulerClient = new SchedulerClient({ region: 'eu-west-1' });
const scheduler = mockClient(schedulerClient);
const secretsClient = new SecretsManagerClient({ region: 'eu-west-1' });
const secretsManager = mockClient(secretsClient);
let dynamo: LocalDynamo;
let registry: DynamoOrganizationRegistry;
let store: DynamoSnapshotStore;
const clock = new TestClock();

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await createTable(dynamo.client, TABLE);
  const client = createDocumentClient(dynamo.client);
  registry = new DynamoOrganizationRegistry({ client, tableName: TABLE });
  store = new DynamoSnapshotStore({ client, tableName: TABLE });
  scheduler.on(CreateScheduleCommand).resolves({});
  scheduler.on(UpdateScheduleCommand).resolves({});
  scheduler.on(DeleteScheduleCommand).resolves({});
  secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => ({
    ARN: input.SecretId,
    SecretString: JSON.stringify({
      apiKey: 'k-1',
      username: 'ops@example.com',
      password: 'pw-1',
      organizationGuid: String(input.SecretId).split('/').at(-1),
    }),
  }));
});

afterAll(async () => {
  await dynamo?.close();
});

const deps = () => ({ registry, scheduler: schedulerClient, log: recordingLog(), now: () => clock.now() });

/** What a poll of the engine needs: the table's store, the in-memory bus and Nutcache, the faked secrets. */
function pollDeps(bus: MemoryBus, nutcache: FakeSource) {
  return {
    store,
    bus,
    deadLetters: new MemoryDeadLetterSink(),
    clock,
    log: recordingLog(),
    metrics: new RecordingMetrics(),
    secrets: new OrganizationSecrets({ client: secretsClient }),
    createSource: () => nutcache,
  };
}

/** One poll as the deployed poller runs it now: the registry, then the organization's secret. */
async function pollAsDeployed(guid: string, nutcache: FakeSource, bus: MemoryBus) {
  const target = await pollableOrganization(registry, guid);
  if (!('organization' in target)) throw new Error(target.reason);
  return pollOrganization(
    pollDeps(bus, nutcache),
    { organizationGuid: guid, secretArn: target.secretArn },
    {
      organizationGuid: guid,
      initialEvents: target.organization.initialEvents ?? 'snapshot',
      eventSource: 'nutcache.customers',
    },
  );
}

const detailTypes = (bus: MemoryBus) => bus.accepted.map((e) => e['detail-type']);

describe('the registrar', () => {
  it('registers the configuration’s organizations, writes the deployment record and creates their schedules', async () => {
    const now = new Date(clock.now()).toISOString();
    await registry.add({
      organizationGuid: ORG_CLI,
      credentials: { kind: 'secretsManager', secretArn: secretArn(ORG_CLI) },
      everyMinutes: 30,
      apiKeyGroup: 'agency',
      state: 'active',
      createdAt: now,
      updatedAt: now,
      managedBy: 'cli',
    });
    const outcome = await register(deps(), deployment, [
      configured(ORG_A, { label: 'Acme' }),
      configured(ORG_B),
      configured(ORG_CLI, { everyMinutes: 5 }),
    ]);
    expect(outcome).toEqual({ added: 2, updated: 0, removed: 0, leftToCli: 1 });
    expect(await registry.getDeployment()).toEqual(deployment);
    expect(await registry.get(ORG_A)).toMatchObject({
      label: 'Acme',
      managedBy: 'config',
      state: 'active',
      credentials: { kind: 'secretsManager', secretArn: secretArn(ORG_A) },
    });
    expect((await registry.get(ORG_CLI))?.everyMinutes).toBe(30);
    const created = scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input);
    expect(created.map((i) => i.Name).sort()).toEqual([`org-${ORG_A}`, `org-${ORG_B}`].sort());
    expect(created[0]).toMatchObject({
      GroupName: 'nutcache-cdc-test',
      Target: { Arn: deployment.pollQueueArn, RoleArn: deployment.schedulerRoleArn },
    });
  });

  it('updates a changed organization (keeping its pause) and removes a dropped one with its schedule', async () => {
    await registry.update(ORG_A, { state: 'paused' });
    scheduler.resetHistory();
    const outcome = await register(deps(), deployment, [configured(ORG_A, { everyMinutes: 60 })]);
    expect(outcome).toEqual({ added: 0, updated: 1, removed: 1, leftToCli: 0 });
    expect(await registry.get(ORG_A)).toMatchObject({ everyMinutes: 60, state: 'paused' });
    expect(await registry.get(ORG_B)).toBeUndefined();
    expect(await registry.get(ORG_CLI)).toBeDefined();
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input.Name)).toEqual([
      `org-${ORG_B}`,
    ]);
    const schedule = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
    expect(schedule).toMatchObject({
      Name: `org-${ORG_A}`,
      State: 'DISABLED',
      ScheduleExpression: 'rate(60 minutes)',
    });
  });
});

describe('upgrading a deployment of the previous version', () => {
  const UPGRADED = 'CCCCCCCC-DDDD-4EEE-8FFF-000000000000';

  it('keeps its snapshots: no Snapshot event after registration, and a real change is still published', async () => {
    const nutcache = new FakeSource();
    for (const id of [1, 2, 3]) nutcache.put(customer(id));
    // The previous version: the poller polled the organization its ORGANIZATIONS variable listed.
    const before = new MemoryBus();
    const first = await pollOrganization(
      pollDeps(before, nutcache),
      { organizationGuid: UPGRADED, secretArn: secretArn(UPGRADED) },
      { organizationGuid: UPGRADED, initialEvents: 'snapshot', eventSource: 'nutcache.customers' },
    );
    expect(first.outcome).toBe('success');
    expect(detailTypes(before)).toEqual(Array(3).fill(DETAIL_TYPES.snapshot));

    // The upgrade: the same organization, now in the configuration the registrar registers.
    await register(deps(), deployment, [configured(UPGRADED)]);
    nutcache.put(customer(2, { name: 'Renamed Ltd' }));
    const after = new MemoryBus();
    const next = await pollAsDeployed(UPGRADED, nutcache, after);

    expect(next.outcome).toBe('success');
    expect(detailTypes(after)).toEqual([DETAIL_TYPES.updated]);
  });
});

describe('the registrar, for a secret the previous version created in the stack', () => {
  const ORG_LEGACY = '22222222-3333-4444-8555-666666666666';
  const legacyArn =
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:Org22222222333344448555666666666666Secret5A1B2C3D-AbCdEf';

  it('records the ARN CloudFormation passed for it in the registry item', async () => {
    await register(deps(), deployment, [configured(ORG_LEGACY, { secret: { stack: true } })], {
      [ORG_LEGACY]: legacyArn,
    });
    const item = await registry.get(ORG_LEGACY);
    expect(item?.credentials).toEqual({ kind: 'secretsManager', secretArn: legacyArn });
    const target = await pollableOrganization(registry, ORG_LEGACY);
    expect(target).toMatchObject({ secretArn: legacyArn });
  });

  it('fails the deploy, naming the organization, when no ARN was passed for it', async () => {
    await expect(
      register(deps(), deployment, [configured(ORG_LEGACY, { secret: { stack: true } })], {}),
    ).rejects.toThrow(ORG_LEGACY);
  });
});
