/**
 * The flows the IAM-evaluated test drives through the bundled functions, against the sandbox Nutcache API,
 * a dynalite table created from the template's key schema, an https webhook receiver and the recording AWS
 * stand-in: the organizations registered in the table's registry, polls as their schedules ask for them (a
 * message of the FIFO poll queue handed to the poller: first poll, then creations, updates and deletions),
 * an operator's direct invocation for an organization whose secret is imported (tagged by the ABAC
 * convention) and KMS-encrypted, with one event EventBridge rejects for good, a correctly signed "sync now"
 * request that looks the organization up in the registry and queues a resync the poller then runs, and the webhook delivery of the published events
 * from SQS records (success, a retry, a 410 that disables the subscription), and the registrar custom
 * resource as CloudFormation runs it (create, update, delete: registry items, schedules, iam:PassRole of the
 * scheduler role), answering on a loopback response URL. The stand-in enforces IAM with the template's policies, as an account would.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, SQSRecord } from 'aws-lambda';
import {
  DEFAULT_ORGANIZATION_GUID,
  DEMO_CREDENTIALS,
  type Sandbox,
  startSandbox,
} from '../../sandbox/index.ts';
import { ENV } from '../../shared/config/env.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { matchEventPattern } from '../../shared/rules/matcher.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { WEBHOOK_DELIVERY_ENV } from '../../shared/webhooks/aws-adapters.ts';
import { generateWebhookSecret, signWebhook } from '../../shared/webhooks/signing.ts';
import {
  type AwsRecorder,
  type PutEventsEntry,
  type RecordedCall,
  type StandInSecret,
  startAwsRecorder,
} from '../support/aws-recorder.ts';
import { ACCOUNT, type DeployedStack, REGION, secretSuffix } from '../support/cfn-template.ts';
import { evaluate } from '../support/iam-evaluator.ts';
import { type CloudFormationReceiver, startCloudFormationReceiver } from './cloudformation-receiver.ts';
import {
  type FunctionRun,
  type LambdaFunction,
  runFunction,
  type Synthesized,
  selfSignedCertificate,
  synthesizeFixture,
} from './harness.ts';
import { type HttpsReceiver, startHttpsReceiver } from './https-receiver.ts';
import { type Check, recordedChecks } from './permissions.ts';

export const ORG_A = DEFAULT_ORGANIZATION_GUID;
export const ORG_B = '11111111-2222-4333-8444-555555555555';
/** Its secret is imported: a name of its own, the environment tag of the ABAC convention. */
export const ORG_C = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
export const IMPORTED_SECRET_NAME = 'nutcache/org-c';
const ENVIRONMENT = 'iam';
/** A secret by the naming convention: `<secretNamePrefix><GUID>` plus Secrets Manager's suffix. */
const conventionSecretArn = (guid: string) =>
  `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:nutcache-cdc/${ENVIRONMENT}/organizations/${guid}-${secretSuffix(guid)}`;
const IMPORTED_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${IMPORTED_SECRET_NAME}-${secretSuffix(IMPORTED_SECRET_NAME)}`;
/** The customer managed key the imported secret is encrypted with (reading it needs kms:Decrypt). */
export const IMPORTED_SECRET_KMS_KEY =
  'arn:aws:kms:us-east-1:123456789012:key/5e0c1d2a-3b4c-4d5e-8f60-718293a4b5c6';
/** The webhook rules' secret (sync-rules.yaml). */
const WEBHOOK_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:nutcache-cdc/crm-webhook-AbCdEf';
/** What Secrets Manager generates for the inbound secret: 32 alphanumeric characters (valid base64). */
const INBOUND_SECRET = 'SyncNowSecretForTests0123456789Z';
/** A customer whose event EventBridge rejects for good: the poller sends it to its dead-letter queue. */
const UNPUBLISHABLE = 'Unpublishable Customer';

export interface FlowRun {
  readonly flow: string;
  readonly function: LambdaFunction;
  readonly run: FunctionRun;
}

export interface Scenario extends Synthesized {
  readonly recorder: AwsRecorder;
  /**
   * The stand-in enforces IAM with the template's policies; `edit` changes a call's policies before it is
   * evaluated (a test breaking a policy on purpose).
   */
  readonly enforcement: { edit?: (check: Check) => Check };
  /** One more invocation, outside the scripted flows. */
  run(fn: LambdaFunction, event: unknown): Promise<FunctionRun>;
  readonly sandbox: Sandbox;
  readonly receiver: HttpsReceiver;
  readonly runs: FlowRun[];
  /** CloudFormation's response URL: the registrar's answers. */
  readonly cloudformation: CloudFormationReceiver;
  close(): Promise<void>;
}

export function functionOf(
  synthesized: Synthesized,
  role: 'poller' | 'sync-now' | 'delivery' | 'registrar',
): LambdaFunction {
  if (role === 'registrar') {
    const [registrar, ...others] = synthesized.functions.filter((f) => f.logicalId.startsWith('Registrar'));
    if (!registrar || others.length > 0) throw new Error('expected one registrar function');
    return registrar;
  }
  const variable = {
    poller: ENV.dailyRequestBudget,
    'sync-now': ENV.inboundWebhookSecretArn,
    delivery: ENV.webhookUrl,
  }[role];
  const found = synthesized.functions.filter(
    (f) => f.environment[variable] !== undefined && (role !== 'poller' || f.environment[ENV.eventBusName]),
  );
  if (found.length !== 1 || !found[0])
    throw new Error(`expected one ${role} function, found ${found.length}`);
  return found[0];
}

/** Every secret the functions may read, with values: organizations (sandbox credentials), webhook, inbound. */
function standInSecrets(
  synthesized: Synthesized,
  sandboxUrl: string,
  webhookSecret: string,
): StandInSecret[] {
  const credentials = (organizationGuid: string) =>
    JSON.stringify({ ...DEMO_CREDENTIALS, organizationGuid, baseUrl: sandboxUrl });
  const inbound = functionOf(synthesized, 'sync-now').environment[ENV.inboundWebhookSecretArn] ?? '';
  return [
    { arn: conventionSecretArn(ORG_A), value: credentials(ORG_A) },
    { arn: conventionSecretArn(ORG_B), value: credentials(ORG_B) },
    {
      arn: IMPORTED_SECRET_ARN,
      value: credentials(ORG_C),
      kmsKeyArn: IMPORTED_SECRET_KMS_KEY,
      tags: [{ Key: 'nutcache-cdc:environment', Value: ENVIRONMENT }],
    },
    { arn: WEBHOOK_SECRET_ARN, value: JSON.stringify({ secrets: [webhookSecret] }) },
    { arn: inbound, value: INBOUND_SECRET },
  ];
}

/** The organizations as `orgs add` (or the registrar) registers them. */
async function registerOrganizations(dynamo: LocalDynamo, tableName: string): Promise<void> {
  const registry = new DynamoOrganizationRegistry({ client: createDocumentClient(dynamo.client), tableName });
  const now = new Date().toISOString();
  const base = { everyMinutes: 15, state: 'active', createdAt: now, updatedAt: now } as const;
  for (const [organizationGuid, secretArn] of [
    [ORG_A, conventionSecretArn(ORG_A)],
    [ORG_B, conventionSecretArn(ORG_B)],
    [ORG_C, IMPORTED_SECRET_ARN],
  ] as const) {
    await registry.add({
      ...base,
      organizationGuid,
      credentials: { kind: 'secretsManager', secretArn },
      apiKeyGroup: `key-${organizationGuid.slice(0, 8)}`,
      managedBy: organizationGuid === ORG_C ? 'cli' : 'config',
    });
  }
}

function partitionKeyOf(stack: DeployedStack): string {
  const [[, table] = []] = stack.ofType('AWS::DynamoDB::Table');
  const schema = (table?.Properties?.KeySchema ?? []) as { AttributeName: string; KeyType: string }[];
  const hash = schema.find((k) => k.KeyType === 'HASH');
  if (!hash) throw new Error('the table has no partition key');
  return hash.AttributeName;
}

/** The poll queue's ARN: the event source of the poller. */
export function pollQueueArn(stack: DeployedStack): string {
  for (const [, mapping] of stack.ofType('AWS::Lambda::EventSourceMapping')) {
    const source = mapping.Properties?.EventSourceArn;
    if (stack.resource(stack.referencedId(source)).Properties?.FifoQueue === true) {
      return stack.resolveString(source);
    }
  }
  throw new Error('no FIFO event source in the template');
}

/** The poller's event for one message of the poll queue, as Lambda's SQS event source hands it over. */
export function pollQueueEvent(stack: DeployedStack, body: string, messageId = randomUUID()): unknown {
  return {
    Records: [
      {
        messageId,
        receiptHandle: `receipt-${messageId}`,
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'AIDASCHEDULER',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
          MessageGroupId: 'key',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: pollQueueArn(stack),
        awsRegion: REGION,
      },
    ],
  };
}

/** What an organization's schedule sends to the poll queue at one fire (shared/registry/schedules.ts). */
export function scheduledPoll(stack: DeployedStack, organizationGuid: string): unknown {
  const body = JSON.stringify({ organizationGuid, scheduledTime: new Date().toISOString() });
  return pollQueueEvent(stack, body);
}

function functionUrlEvent(body: string, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'url-id',
      domainName: 'url-id.lambda-url.us-east-1.on.aws',
      domainPrefix: 'url-id',
      http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'crm' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: false,
  };
}

/** The events EventBridge would hand to the webhook subscription's queue, as SQS records. */
function webhookRecords(
  stack: DeployedStack,
  queueArn: string,
  events: readonly PutEventsEntry[],
): SQSRecord[] {
  const patterns = stack
    .ofType('AWS::Events::Rule')
    .filter(([, rule]) =>
      ((rule.Properties?.Targets ?? []) as { Arn: unknown }[]).some(
        (t) => stack.resolveString(t.Arn) === queueArn,
      ),
    )
    .map(([, rule]) => JSON.parse(String(rule.Properties?.EventPattern)) as unknown);
  return events
    .map((entry) => ({
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: ACCOUNT,
      time: new Date().toISOString(),
      region: REGION,
      resources: entry.Resources ?? [],
      detail: JSON.parse(String(entry.Detail)) as unknown,
    }))
    .filter((event) => patterns.some((pattern) => matchEventPattern(pattern, event).matched))
    .map((event, i) => ({
      messageId: `msg-${i}`,
      receiptHandle: `receipt-${i}`,
      body: JSON.stringify(event),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'AIDAEVENTBRIDGE',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: REGION,
    }));
}

/** How AWS would refuse the first of these calls the template's policies deny, if any. */
async function firstDenial(
  synthesized: Synthesized,
  calls: readonly RecordedCall[],
  edit: ((check: Check) => Check) | undefined,
): Promise<string | undefined> {
  for (const check of recordedChecks(synthesized.stack, synthesized.functions, calls)) {
    const { request, policies } = edit ? edit(check) : check;
    const { decision } = await evaluate(request, policies);
    if (decision !== 'Allowed') {
      const who = request.caller.kind === 'role' ? request.caller.roleArn : request.caller.kind;
      return `${who} is not authorized to perform: ${request.action} on resource: ${request.resource} (${decision})`;
    }
  }
  return undefined;
}

export async function runScenario(): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), 'nutcache-iam-tls-'));
  const tls = selfSignedCertificate(dir);
  const webhookSecret = generateWebhookSecret();
  const receiver = await startHttpsReceiver(tls, webhookSecret);
  const cloudformation = await startCloudFormationReceiver();
  const synthesized = synthesizeFixture(
    {
      environmentName: ENVIRONMENT,
      organizations: [
        { organizationGuid: ORG_A, secret: { type: 'convention' } },
        // No `secret`: the stack's own secret (the previous version's), its ARN passed to the registrar.
        { organizationGuid: ORG_B },
        {
          organizationGuid: ORG_C,
          secret: { type: 'import', name: IMPORTED_SECRET_NAME, kmsKeyArn: IMPORTED_SECRET_KMS_KEY },
        },
      ],
      alarmEmail: 'ops@example.com',
      syncNow: true,
    },
    receiver.url,
  );
  const sandbox = await startSandbox({ organizationGuids: [ORG_A, ORG_B, ORG_C], rateLimit: null });
  const dynamo: LocalDynamo = await startLocalDynamo();
  const tableName = synthesized.stack.ref(synthesized.stack.ofType('AWS::DynamoDB::Table')[0]?.[0] ?? '');
  await createTable(dynamo.client, tableName);
  await registerOrganizations(dynamo, tableName);
  const eventSourceMappings = synthesized.stack.ofType('AWS::Lambda::EventSourceMapping').map(([id, m]) => ({
    uuid: synthesized.stack.ref(id),
    functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${synthesized.stack.resolveString(m.Properties?.FunctionName)}`,
    eventSourceArn: synthesized.stack.resolveString(m.Properties?.EventSourceArn),
    state: 'Enabled' as const,
  }));
  const enforcement: Scenario['enforcement'] = {};
  const recorder = await startAwsRecorder({
    authorize: (calls) => firstDenial(synthesized, calls, enforcement.edit),
    dynamodbEndpoint: dynamo.endpoint,
    partitionKey: partitionKeyOf(synthesized.stack),
    secrets: standInSecrets(synthesized, sandbox.url, webhookSecret),
    eventSourceMappings,
    rejectEntry: (entry) => (entry.Detail?.includes(UNPUBLISHABLE) ? 'MalformedDetail' : undefined),
  });
  const runs: FlowRun[] = [];
  const aws = { endpoint: recorder.endpoint, extraEnv: { NODE_EXTRA_CA_CERTS: tls.certFile } };
  const invoke = async (flow: string, fn: LambdaFunction, event: unknown) => {
    const run = await runFunction(fn, event, aws);
    runs.push({ flow, function: fn, run });
    return run;
  };
  const scenario: Scenario = {
    ...synthesized,
    recorder,
    enforcement,
    run: (fn, event) => runFunction(fn, event, aws),
    sandbox,
    receiver,
    runs,
    cloudformation,
    close: async () => {
      await recorder.close();
      await receiver.close();
      await cloudformation.close();
      await dynamo.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(synthesized.outdir, '..'), { recursive: true, force: true });
    },
  };
  try {
    await drivePolls(scenario, invoke);
    await driveSyncNow(scenario, invoke);
    await driveDelivery(scenario, invoke);
    await driveRegistrar(scenario, invoke);
  } catch (error) {
    await scenario.close();
    throw error;
  }
  return scenario;
}

type Invoke = (flow: string, fn: LambdaFunction, event: unknown) => Promise<FunctionRun>;

async function drivePolls(s: Scenario, invoke: Invoke): Promise<void> {
  const poller = functionOf(s, 'poller');
  await invoke('scheduled poll (first: snapshots)', poller, scheduledPoll(s.stack, ORG_A));
  const ids = s.sandbox.list().map((c) => c.id);
  s.sandbox.create({ name: 'Acme Ltée', email: 'info@acme.example' });
  s.sandbox.update(ids[1] ?? 0, { status: 1, contact: 'Marie Tremblay' });
  s.sandbox.remove(ids[6] ?? 0);
  await invoke('scheduled poll (created, updated, deleted)', poller, scheduledPoll(s.stack, ORG_A));
  s.sandbox.organization(ORG_C).create({ name: 'Imported Org Customer', email: 'c@example.com' });
  s.sandbox.organization(ORG_C).create({ name: UNPUBLISHABLE, email: 'dead@example.com' });
  await invoke('direct poll (imported secret, one event dead-lettered)', poller, { organizationGuid: ORG_C });
}

async function driveSyncNow(s: Scenario, invoke: Invoke): Promise<void> {
  s.sandbox.organization(ORG_B).create({ name: 'Resynced Customer', email: 'b@example.com' });
  const body = JSON.stringify({ organizationGuid: ORG_B, mode: 'resync' });
  const headers = signWebhook(`sync-${randomUUID()}`, Date.now(), body, [`whsec_${INBOUND_SECRET}`]);
  const syncNow = functionOf(s, 'sync-now');
  await invoke('sync now (signed request)', syncNow, functionUrlEvent(body, { ...headers }));
  // Nothing queued (e.g. denied): the flows' assertions report the missing resync.
  const queued = s.recorder.messages.find((m) => m.queueArn === pollQueueArn(s.stack));
  if (!queued) return;
  await invoke('resync (queued by sync now)', functionOf(s, 'poller'), pollQueueEvent(s.stack, queued.body));
}

async function driveDelivery(s: Scenario, invoke: Invoke): Promise<void> {
  const delivery = functionOf(s, 'delivery');
  const queueArn = delivery.environment[WEBHOOK_DELIVERY_ENV.queueArn] ?? '';
  const records = webhookRecords(s.stack, queueArn, s.recorder.events);
  const [first, second, third] = records;
  // Fewer published events than expected (e.g. PutEvents denied): the flows' assertions report it.
  if (!third) return;
  await invoke('webhook delivery (success)', delivery, { Records: [first] });
  s.receiver.script.push(503);
  await invoke('webhook delivery (503: retry later)', delivery, { Records: [second] });
  s.receiver.script.push(410);
  await invoke('webhook delivery (410: subscription disabled)', delivery, { Records: [third] });
}

/**
 * CloudFormation runs the registrar custom resource: Create (first deploy), Update (a deploy that changed
 * the organizations) and Delete, with the resource's properties as the template resolves them.
 */
async function driveRegistrar(s: Scenario, invoke: Invoke): Promise<void> {
  const registrar = functionOf(s, 'registrar');
  const [[logicalId, resource] = []] = s.stack.ofType('Custom::NutcacheCdcOrganizations');
  if (!logicalId || !resource) throw new Error('the template has no registrar custom resource');
  const properties = s.stack.resolve(resource.Properties ?? {});
  const event = (RequestType: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}) => ({
    RequestType,
    ResponseURL: s.cloudformation.url,
    StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${ENVIRONMENT}/${randomUUID()}`,
    RequestId: randomUUID(),
    LogicalResourceId: logicalId,
    ResourceType: resource.Type,
    ResourceProperties: properties,
    ...extra,
  });
  const physical = { PhysicalResourceId: 'nutcache-cdc-registrar' };
  await invoke('registrar (Create)', registrar, event('Create'));
  await invoke(
    'registrar (Update)',
    registrar,
    event('Update', { ...physical, OldResourceProperties: properties }),
  );
  await invoke('registrar (Delete)', registrar, event('Delete', physical));
}
