/**
 * The poller Lambda handler end to end, as Lambda runs it: two organizations registered, Secrets Manager,
 * EventBridge and SQS faked with aws-sdk-client-mock, DynamoDB an embedded dynalite on 127.0.0.1 and
 * Nutcache the sandbox API. What a user sees: the logs and the EMF metric lines the handler prints, and
 * whether the invocation fails (Lambda retries it, the failure queue and the alarms fill).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEMO_CREDENTIALS, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { organizationStaleDetailSchema } from '../../shared/events/contract.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';

const TABLE = 'poller-handler-test';
const SERVICE = 'nutcache-cdc-poller-test';
const GOOD = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const MISSING = '11111111-2222-4333-8444-555555555555';
const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
const GOOD_ARN = arn('nutcache-good');
const MISSING_ARN = arn('nutcache-missing');

const secrets = mockClient(SecretsManagerClient);
const events = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);

type PollerHandler = (event: unknown, context: Context) => Promise<{ outcome: string }>;
let handler: PollerHandler;
let sandbox: Sandbox;
let dynamo: LocalDynamo;
let store: DynamoSnapshotStore;
let registry: DynamoOrganizationRegistry;
const lines: string[] = [];

function context(): Context {
  return {
    functionName: 'poller',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => 120_000,
  } as unknown as Context;
}

/** The secret value as a user fills it in. */
function filled(organizationGuid: string): string {
  return JSON.stringify({ ...DEMO_CREDENTIALS, organizationGuid, baseUrl: sandbox.url });
}

/** The value the stack creates: empty credentials and Secrets Manager's random `placeholder`. */
function asCreated(organizationGuid: string): string {
  return JSON.stringify({
    apiKey: '',
    username: '',
    password: '',
    organizationGuid,
    placeholder: 'Xy7Qm2Lk9Pz3Rt5Vb8Nc1Df4Gh6Jw0Se',
  });
}

function answerSecrets(values: Record<string, string>): void {
  secrets.reset();
  secrets.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
    const value = values[String(input.SecretId)];
    if (value === undefined) {
      throw new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      });
    }
    return { ARN: input.SecretId, SecretString: value };
  });
}

interface EmfRecord {
  readonly _aws: { readonly CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  readonly [key: string]: unknown;
}

const printed = () => lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{'));
const emf = (): EmfRecord[] =>
  printed()
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as EmfRecord);
const logs = () =>
  printed()
    .filter((l) => !l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as { level: string; message: string; [key: string]: unknown });

/** The EMF record carrying `name`, with the dimensions CloudWatch files it under. */
function metric(name: string): { value: unknown; dimensions: string[][]; record: EmfRecord } | undefined {
  for (const record of emf()) {
    const directive = record._aws.CloudWatchMetrics.find((d) => d.Metrics.some((m) => m.Name === name));
    if (directive) return { value: record[name], dimensions: directive.Dimensions, record };
  }
  return undefined;
}

/** One count of `name`, filed like every per-poll metric: under {service, organizationGuid}. */
function expectPerPollMetric(name: string, organizationGuid: string): void {
  const found = metric(name);
  expect(found?.value, name).toBe(1);
  expect(found?.record.service).toBe(SERVICE);
  expect(found?.record.organizationGuid).toBe(organizationGuid);
  expect(found?.dimensions).toEqual([['service', 'organizationGuid']]);
}

beforeAll(async () => {
  sandbox = await startSandbox({ organizationGuids: [GOOD, MISSING] });
  dynamo = await startLocalDynamo();
  await createTable(dynamo.client, TABLE);
  store = new DynamoSnapshotStore({ client: createDocumentClient(dynamo.client), tableName: TABLE });
  registry = new DynamoOrganizationRegistry({
    client: createDocumentClient(dynamo.client),
    tableName: TABLE,
  });
  for (const [organizationGuid, secretArn] of [
    [MISSING, MISSING_ARN],
    [GOOD, GOOD_ARN],
  ] as const) {
    const now = new Date().toISOString();
    await registry.add({
      organizationGuid,
      credentials: { kind: 'secretsManager', secretArn },
      everyMinutes: 15,
      apiKeyGroup: `key-${organizationGuid.slice(0, 4)}`,
      state: 'active',
      createdAt: now,
      updatedAt: now,
      managedBy: 'cli',
    });
  }
  events.on(PutEventsCommand).callsFake((input: { Entries?: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e-${i}` })),
  }));
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  sqs.on(SendMessageCommand).resolves({});
  Object.assign(process.env, {
    TABLE_NAME: TABLE,
    EVENT_BUS_NAME: 'nutcache-cdc-test',
    DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters',
    POWERTOOLS_SERVICE_NAME: SERVICE,
    POWERTOOLS_METRICS_NAMESPACE: 'NutcacheCdc',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    AWS_LAMBDA_FUNCTION_NAME: 'poller',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALONLY',
    AWS_SECRET_ACCESS_KEY: 'local-only',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  });
  // Lambda sends both streams to CloudWatch Logs (Powertools prints warnings and errors on stderr).
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
  }
  ({ handler } = (await import('../../functions/poller.ts')) as unknown as { handler: PollerHandler });
});

afterAll(async () => {
  vi.restoreAllMocks();
  await dynamo?.close();
  await sandbox?.close();
});

beforeEach(() => {
  lines.length = 0;
});

describe('the poller handler', () => {
  it('polls an organization whose secret is fine while another organization’s secret is missing', async () => {
    answerSecrets({ [GOOD_ARN]: filled(GOOD) });

    const good = await handler({ organizationGuid: GOOD }, context());
    expect(good.outcome).toBe('success');
    expectPerPollMetric('PollSucceeded', GOOD);
    // Only the invoked organization's secret is read.
    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([
      GOOD_ARN,
    ]);

    const failure = await handler({ organizationGuid: MISSING }, context()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = failure?.message ?? '';
    // One line, naming the secret and the cause, and no credential.
    expect(message).not.toContain('\n');
    expect(message).toContain(MISSING_ARN);
    expect(message).toContain('ResourceNotFoundException');
    expect(message).toMatch(/does not exist/);
    for (const value of Object.values(DEMO_CREDENTIALS)) expect(message).not.toContain(value);
    expectPerPollMetric('PollFailed', MISSING);
    const everything = printed().join('\n');
    expect(everything).toContain(MISSING_ARN);
    for (const value of [DEMO_CREDENTIALS.apiKey, DEMO_CREDENTIALS.username]) {
      expect(everything).not.toContain(value);
    }
  });

  it('reads the invoked organization’s secret once per 5 minutes, not on every poll', async () => {
    answerSecrets({ [GOOD_ARN]: filled(GOOD) });
    // A warm instance: the first test already read it within the last 5 minutes.
    await handler({ organizationGuid: GOOD }, context());
    await handler({ organizationGuid: GOOD }, context());
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('treats the secret as the stack created it as unconfigured: no failure, one log line, one metric', async () => {
    answerSecrets({ [GOOD_ARN]: filled(GOOD), [MISSING_ARN]: asCreated(MISSING) });
    sandbox.resetStats();

    const result = await handler({ organizationGuid: MISSING }, context());

    expect(result.outcome).toBe('unconfigured');
    expectPerPollMetric('PollUnconfigured', MISSING);
    for (const name of ['PollFailed', 'PollSucceeded', 'PollDeferred']) expect(metric(name)).toBeUndefined();
    const said = logs().filter((l) => l.organizationGuid === MISSING);
    expect(said).toHaveLength(1);
    expect(['INFO', 'WARN']).toContain(said[0]?.level);
    expect(said[0]?.message).toContain(MISSING_ARN);
    expect(said[0]?.message).toMatch(/put-secret-value/);
    expect(sandbox.stats.requests).toBe(0); // Nutcache is not called
  });

  it('polls as soon as the unconfigured secret is filled in, without waiting for the cache', async () => {
    answerSecrets({ [MISSING_ARN]: asCreated(MISSING) });
    expect((await handler({ organizationGuid: MISSING }, context())).outcome).toBe('unconfigured');
    answerSecrets({ [MISSING_ARN]: filled(MISSING) });
    expect((await handler({ organizationGuid: MISSING }, context())).outcome).toBe('success');
  });

  it('fails loudly, naming the empty fields, for a partly filled secret', async () => {
    answerSecrets({
      [MISSING_ARN]: JSON.stringify({ apiKey: 'k-123', username: '', organizationGuid: MISSING }),
    });
    // The previous test cached a good value: a rotation is seen after 5 minutes.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
      const failure = await handler({ organizationGuid: MISSING }, context()).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(failure?.message).toContain(MISSING_ARN);
      expect(failure?.message).toMatch(/username/);
      expect(failure?.message).toMatch(/password/);
      expect(failure?.message).not.toContain('k-123');
    } finally {
      vi.useRealTimers();
    }
  });

  it('emits PollDeferred under {service, organizationGuid} while polls back off', async () => {
    answerSecrets({ [GOOD_ARN]: filled(GOOD) });
    await store.updateOrgState(GOOD, { notBefore: Date.now() + 60 * 60_000 });
    try {
      const result = await handler({ organizationGuid: GOOD }, context());
      expect(result.outcome).toBe('deferred');
      expectPerPollMetric('PollDeferred', GOOD);
    } finally {
      await store.updateOrgState(GOOD, { notBefore: 0 });
    }
  });

  describe('from the poll queue (one message per poll, as the schedules send them)', () => {
    const message = (organizationGuid: string, messageId: string) => ({
      Records: [
        {
          messageId,
          receiptHandle: `r-${messageId}`,
          body: JSON.stringify({ organizationGuid, scheduledTime: new Date().toISOString() }),
          eventSource: 'aws:sqs',
          attributes: {},
        },
      ],
    });
    const failures = (result: unknown) => (result as { batchItemFailures: unknown[] }).batchItemFailures;

    it('polls the registered organization and reports no batch item failure', async () => {
      answerSecrets({ [GOOD_ARN]: filled(GOOD) });
      expect(failures(await handler(message(GOOD, 'm-1'), context()))).toEqual([]);
      expectPerPollMetric('PollSucceeded', GOOD);
    });

    it('reports a failed poll as that message’s failure, so SQS hands it out again', async () => {
      answerSecrets({});
      expect(failures(await handler(message(MISSING, 'm-2'), context()))).toEqual([
        { itemIdentifier: 'm-2' },
      ]);
    });

    it('names an organization stale once it had no success for 3 of its intervals: one log line, one metric', async () => {
      const longAgo = new Date(Date.now() - 4 * 15 * 60_000).toISOString();
      await store.updateOrgState(MISSING, { lastSuccessAt: longAgo });
      answerSecrets({});
      await handler(message(MISSING, 'm-5'), context());
      const stale = logs().filter((l) => l.message === 'organization stale');
      expect(stale).toHaveLength(1);
      expect(stale[0]).toMatchObject({
        organizationGuid: MISSING,
        lastSuccessAt: longAgo,
        outcome: 'failed',
      });
      expect(Number(stale[0]?.staleMinutes)).toBeGreaterThanOrEqual(60);
      expectPerPollMetric('OrganizationStale', MISSING);
    });

    it('publishes an Organization Stale event on the bus, with one event id for the whole stale episode', async () => {
      const longAgo = new Date(Date.now() - 4 * 15 * 60_000).toISOString();
      await store.updateOrgState(MISSING, { lastSuccessAt: longAgo });
      answerSecrets({});
      const earlier = events.commandCalls(PutEventsCommand).length;
      const staleEvents = () =>
        events
          .commandCalls(PutEventsCommand)
          .slice(earlier)
          .flatMap((call) => call.args[0].input.Entries ?? [])
          .filter((entry) => entry.DetailType === 'Organization Stale');
      await handler(message(MISSING, 'm-6'), context());
      await handler(message(MISSING, 'm-7'), context());
      const [first, second] = staleEvents();
      expect(staleEvents()).toHaveLength(2);
      expect(first?.Source).toBe('nutcache.customers');
      const detail = JSON.parse(first?.Detail ?? '{}');
      expect(organizationStaleDetailSchema.parse(detail)).toMatchObject({
        organizationGuid: MISSING,
        anomaly: 'organization-stale',
        lastSuccessAt: longAgo,
        everyMinutes: 15,
        outcome: 'failed',
      });
      expect(detail.staleMinutes).toBeGreaterThanOrEqual(60);
      expect(JSON.parse(second?.Detail ?? '{}').eventId).toBe(detail.eventId);
      // A new episode (a success, then stale again) gets a new id.
      const later = new Date(Date.now() - 3 * 15 * 60_000).toISOString();
      await store.updateOrgState(MISSING, { lastSuccessAt: later });
      await handler(message(MISSING, 'm-8'), context());
      expect(JSON.parse(staleEvents()[2]?.Detail ?? '{}').eventId).not.toBe(detail.eventId);
    });

    it('does not fail a poll when the Organization Stale event cannot be published: one error line', async () => {
      // An organization of its own, registered 4 intervals ago, whose secret is still as created: unconfigured.
      const org = '22222222-3333-4444-8555-666666666666';
      const secretArn = arn('nutcache-quiet');
      const registeredAt = new Date(Date.now() - 4 * 15 * 60_000).toISOString();
      await registry.add({
        organizationGuid: org,
        credentials: { kind: 'secretsManager', secretArn },
        everyMinutes: 15,
        apiKeyGroup: 'key-quiet',
        state: 'active',
        createdAt: registeredAt,
        updatedAt: registeredAt,
        managedBy: 'cli',
      });
      answerSecrets({ [secretArn]: asCreated(org) });
      events.on(PutEventsCommand).rejects(new Error('EventBridge is unavailable'));
      try {
        expect(failures(await handler(message(org, 'm-9'), context()))).toEqual([]);
      } finally {
        events.on(PutEventsCommand).callsFake((input: { Entries?: unknown[] }) => ({
          FailedEntryCount: 0,
          Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e-${i}` })),
        }));
      }
      const line = logs().find((l) => l.message === 'the Organization Stale event could not be published');
      expect(line).toMatchObject({
        organizationGuid: org.toUpperCase(),
        failure: 'EventBridge is unavailable',
      });
      expect(logs().filter((l) => l.message === 'organization stale')).toHaveLength(1);
    });

    it('skips a paused organization: no secret read, no Nutcache call, no failure', async () => {
      await registry.update(GOOD, { state: 'paused' });
      try {
        answerSecrets({ [GOOD_ARN]: filled(GOOD) });
        sandbox.resetStats();
        expect(failures(await handler(message(GOOD, 'm-3'), context()))).toEqual([]);
        expectPerPollMetric('PollSkipped', GOOD);
        expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
        expect(sandbox.stats.requests).toBe(0);
        expect(logs().some((l) => /paused/.test(l.message))).toBe(true);
      } finally {
        await registry.update(GOOD, { state: 'active' });
      }
    });

    it('answers an organization that is not registered as unconfigured, without failing the message', async () => {
      const unknown = 'CCCCCCCC-DDDD-4EEE-8FFF-000000000000';
      answerSecrets({});
      expect(failures(await handler(message(unknown, 'm-4'), context()))).toEqual([]);
      expectPerPollMetric('PollUnconfigured', unknown);
      expect(logs().some((l) => /not registered/.test(l.message))).toBe(true);
    });
  });
});
