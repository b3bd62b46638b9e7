import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../shared/config/env.ts';
import { DETAIL_TYPES } from '../../shared/events/contract.ts';
import { TABLE_KEYS } from '../../shared/store/table.ts';
import { resolveIntrinsics } from './fixtures/intrinsics.ts';
import { GUID_A, GUID_B, GUID_C, synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: Json };

function resourcesOf(template: ReturnType<typeof synthesise>['template'], type: string): [string, Json][] {
  return Object.entries(template.findResources(type)) as [string, Json][];
}

function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

/** Every statement of the IAM policies attached to the role `roleLogicalId`. */
function statementsOfRole(template: ReturnType<typeof synthesise>['template'], roleLogicalId: string) {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, r]) => JSON.stringify((r.Properties as Json).Roles).includes(`"${roleLogicalId}"`))
    .flatMap(([, r]) => ((r.Properties as Json).PolicyDocument as { Statement: Statement[] }).Statement);
}

function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** A statement's resources as a list (IAM policy minimization merges statements into resource lists). */
function resourceList(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

function pollerFunction(template: ReturnType<typeof synthesise>['template']): Json {
  return only(resourcesOf(template, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Poller')))[1]
    .Properties as Json;
}

function pollerRoleId(template: ReturnType<typeof synthesise>['template']): string {
  return ((pollerFunction(template).Role as Json)['Fn::GetAtt'] as string[])[0] as string;
}

describe('the stack for one organization (defaults)', () => {
  const { template, stack } = synthesise();
  const tableId = stack.getLogicalId(stack.table.node.defaultChild as never);
  const busId = only(resourcesOf(template, 'AWS::Events::EventBus'))[0];

  it('keeps snapshots in an on-demand, point-in-time-recoverable, encrypted table with TTL, retained on delete', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // SSEEnabled false = encrypted at rest with an AWS owned key (DynamoDB never stores plaintext).
        SSESpecification: { SSEEnabled: false },
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.timeToLive, Enabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('creates a custom event bus whose archive keeps every nutcache event for replay', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'nutcache-cdc-test' });
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      EventPattern: { source: ['nutcache.customers'] },
      RetentionDays: 90,
    });
  });

  it('publishes the event JSON Schemas (Draft 4) to a schema registry', () => {
    template.hasResourceProperties('AWS::EventSchemas::Registry', { RegistryName: 'nutcache-cdc-test' });
    const schemas = resourcesOf(template, 'AWS::EventSchemas::Schema').map(([, r]) => r.Properties as Json);
    expect(schemas.map((s) => s.SchemaName).sort()).toEqual([
      'nutcache.customers@CustomerChange',
      'nutcache.customers@CustomerSyncAnomaly',
      'nutcache.customers@OrganizationStale',
    ]);
    for (const schema of schemas) expect(schema.Type).toBe('JSONSchemaDraft4');
    const change = schemas.find((s) => s.SchemaName === 'nutcache.customers@CustomerChange') as Json;
    const content = JSON.parse(change.Content as string);
    expect(content.$schema).toBe('http://json-schema.org/draft-04/schema#');
    expect(content.properties['detail-type'].enum).toEqual(Object.values(DETAIL_TYPES));
    expect(content.properties.source.enum).toEqual(['nutcache.customers']);
    expect(content.properties.detail.required).toEqual(
      expect.arrayContaining(['eventId', 'organizationGuid', 'customerId', 'changeType', 'sequence']),
    );
    // Every local reference resolves inside the document.
    for (const ref of String(change.Content).match(/#\/definitions\/[\w]+/g) ?? []) {
      expect(content.definitions).toHaveProperty(ref.replace('#/definitions/', ''));
    }
  });

  it('creates no secret, schedule or alarm of its own for the organization (organizations are data)', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain(GUID_A);
  });

  it('feeds the poller from a FIFO poll queue: one message a poll, deduplicated per fire, dead-lettered after 3 receives', () => {
    const pollQueueId = stack.getLogicalId(stack.pollQueue.node.defaultChild as never);
    const deadLetterId = stack.getLogicalId(stack.pollDeadLetterQueue.node.defaultChild as never);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      // Longer than the poller's 900 s timeout: a message is not handed out again while its poll runs.
      VisibilityTimeout: 960,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] }, maxReceiveCount: 3 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [pollQueueId, 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^Poller') },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('lets schedules of its group only send to the poll queue and the poll-failure queue', () => {
    const roleId = stack.getLogicalId(stack.schedulerRole.node.defaultChild as never);
    const role = template.findResources('AWS::IAM::Role')[roleId] as { Properties: Json };
    const trust = JSON.stringify(role.Properties.AssumeRolePolicyDocument);
    expect(trust).toContain('scheduler.amazonaws.com');
    expect(trust).toContain('aws:SourceArn');
    const statements = statementsOfRole(template, roleId);
    expect(statements.flatMap(actionsOf).every((a) => a.startsWith('sqs:'))).toBe(true);
    const queues = statements.flatMap(resourceList).map((r) => JSON.stringify(r));
    expect(queues.sort()).toEqual(
      [stack.pollQueue, stack.pollFailureQueue]
        .map((q) =>
          JSON.stringify({ 'Fn::GetAtt': [stack.getLogicalId(q.node.defaultChild as never), 'Arn'] }),
        )
        .sort(),
    );
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'nutcache-cdc-test' });
  });

  it('registers the configured organizations at deploy through a custom resource whose only organization-dependent property is a hash', () => {
    const [, resource] = only(resourcesOf(template, 'Custom::NutcacheCdcOrganizations'));
    const props = resource.Properties as Json;
    expect(props.OrganizationsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(props.Deployment).toMatchObject({
      environment: 'test',
      scheduleGroupName: 'nutcache-cdc-test',
      secretNamePrefix: 'nutcache-cdc/test/organizations/',
      secretTag: { key: 'nutcache-cdc:environment', value: 'test' },
    });
    expect(JSON.stringify(props)).not.toContain(GUID_A);
    expect(JSON.stringify(resource.DependsOn)).toContain('SchedulerRoleDefaultPolicy');
  });

  it('lets the registrar manage only registry items, the group’s schedules, and pass only the scheduler role to Scheduler', () => {
    const registrar = only(
      resourcesOf(template, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Registrar')),
    )[1].Properties as Json;
    const roleId = ((registrar.Role as Json)['Fn::GetAtt'] as string[])[0] as string;
    const statements = statementsOfRole(template, roleId);
    const dynamo = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((st) => JSON.stringify(st.Condition)).every((c) => c.includes('REGISTRY#'))).toBe(true);
    const schedules = only(statements.filter((st) => actionsOf(st).some((a) => a.startsWith('scheduler:'))));
    expect(actionsOf(schedules).sort()).toEqual([
      'scheduler:CreateSchedule',
      'scheduler:DeleteSchedule',
      'scheduler:UpdateSchedule',
    ]);
    expect(JSON.stringify(schedules.Resource)).toContain(':schedule/nutcache-cdc-test/*');
    const pass = only(statements.filter((st) => actionsOf(st).includes('iam:PassRole')));
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    expect(JSON.stringify(pass.Resource)).toContain('SchedulerRole');
    expect(
      statements.flatMap(actionsOf).filter((a) => !/^(dynamodb|scheduler|iam|xray|logs):/.test(a)),
    ).toEqual([]);
  });

  it('runs the poller on Node.js 22 / arm64 with no reserved concurrency, the poll timeout and its settings', () => {
    const fn = pollerFunction(template);
    expect(fn).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 900,
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
    });
    expect(fn).not.toHaveProperty('ReservedConcurrentExecutions');
    const variables = (fn.Environment as { Variables: Json }).Variables;
    expect(Object.keys(variables).sort()).toEqual(
      [
        ENV.tableName,
        ENV.eventBusName,
        ENV.eventSource,
        ENV.deadLetterQueueUrl,
        ENV.dailyRequestBudget,
        ENV.staleAfterIntervals,
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_LOG_LEVEL',
        'NODE_OPTIONS',
      ].sort(),
    );
    expect(variables).toMatchObject({
      [ENV.tableName]: { Ref: tableId },
      [ENV.eventBusName]: { Ref: busId },
      [ENV.eventSource]: 'nutcache.customers',
      [ENV.dailyRequestBudget]: '20000',
      POWERTOOLS_METRICS_NAMESPACE: 'NutcacheCdc',
    });
  });

  it('writes logs to its own log group with a retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const logGroupRef = (pollerFunction(template).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup
      .Ref;
    expect(logGroupRef).toMatch(/^PollerLogGroup/);
  });

  it('sends failed asynchronous poll invocations to the poll-failure queue after one retry', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PollFailureQueue'), 'Arn'] } },
      },
    });
  });

  describe('least privilege of the poller', () => {
    const statements = statementsOfRole(template, pollerRoleId(template));

    it('reads organization secrets by name prefix or by environment tag, decrypting through Secrets Manager only', () => {
      const reads = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
      expect(reads.flatMap(actionsOf)).toEqual([
        'secretsmanager:GetSecretValue',
        'secretsmanager:GetSecretValue',
      ]);
      const arns = reads.map((s) => resolveIntrinsics(s.Resource, (id) => `<${id}>`));
      expect(arns.sort()).toEqual(
        [
          'arn:aws:secretsmanager:us-east-1:000000000000:secret:*',
          'arn:aws:secretsmanager:us-east-1:000000000000:secret:nutcache-cdc/test/organizations/*',
        ].sort(),
      );
      const byTag = reads.find((s) => s.Condition !== undefined);
      expect(byTag?.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/nutcache-cdc:environment': 'test' },
      });
      const decrypt = only(statements.filter((s) => actionsOf(s).includes('kms:Decrypt')));
      expect(JSON.stringify(decrypt.Condition)).toContain('kms:ViaService');
    });

    it('may PutEvents only on its bus and only with its event source', () => {
      const puts = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('events:')));
      expect(puts).toEqual([
        {
          Action: 'events:PutEvents',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [busId, 'Arn'] },
          Condition: {
            'ForAllValues:StringEquals': { 'events:source': ['nutcache.customers'] },
            Null: { 'events:source': 'false' },
          },
        },
      ]);
    });

    it('reads and writes only its table', () => {
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.length).toBeGreaterThan(0);
      for (const s of dynamo) expect(resourceList(s)).toEqual([{ 'Fn::GetAtt': [tableId, 'Arn'] }]);
      expect(dynamo.flatMap(actionsOf)).toEqual(
        expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:BatchWriteItem',
        ]),
      );
    });

    it('has no wildcard resource except for X-Ray (which supports none) and the secrets convention', () => {
      const wildcards = statements.filter((s) => JSON.stringify(s.Resource).includes('*'));
      expect(wildcards.flatMap(actionsOf).sort()).toEqual([
        'kms:Decrypt',
        'secretsmanager:GetSecretValue',
        'secretsmanager:GetSecretValue',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
      expect(JSON.stringify(statements)).not.toMatch(/"(dynamodb|sqs|events|secretsmanager|logs):\*"/);
    });

    it('has no managed policy attached to its role', () => {
      const role = template.findResources('AWS::IAM::Role')[pollerRoleId(template)] as { Properties: Json };
      expect(role.Properties).not.toHaveProperty('ManagedPolicyArns');
    });
  });

  it('encrypts every queue, keeps messages 14 days and refuses non-TLS access', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(4);
    for (const [, queue] of queues) {
      expect(queue.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
    }
    const policies = resourcesOf(template, 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(4);
    for (const [, policy] of policies) {
      expect((policy.Properties as Json).PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      });
    }
  });

  it('alarms on poll failures, staleness, dead letters, mass deletions, throttling and function errors', () => {
    const names = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(
      ([, r]) => (r.Properties as Json).AlarmName,
    );
    expect(names.sort()).toEqual(
      [
        'nutcache-cdc-test-poll-failures',
        'nutcache-cdc-test-stale-organizations',
        'nutcache-cdc-test-event-dead-letters',
        'nutcache-cdc-test-poll-failure-queue',
        'nutcache-cdc-test-mass-deletion-held',
        'nutcache-cdc-test-nutcache-throttling',
        'nutcache-cdc-test-poller-errors',
      ].sort(),
    );
  });

  it('adds up service-wide poller metrics over every organization with a Metrics Insights query', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nutcache-cdc-test-mass-deletion-held',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: [
        Match.objectLike({
          Expression: `SELECT SUM(MassDeletionHeld) FROM SCHEMA("NutcacheCdc", organizationGuid, service) WHERE service = 'nutcache-cdc-poller-test'`,
        }),
      ],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nutcache-cdc-test-event-dead-letters',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('names stale organizations with one alarm and a dashboard query, whatever their number', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nutcache-cdc-test-stale-organizations',
      Metrics: [
        Match.objectLike({
          Expression: `SELECT SUM(OrganizationStale) FROM SCHEMA("NutcacheCdc", organizationGuid, service) WHERE service = 'nutcache-cdc-poller-test'`,
        }),
      ],
    });
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('Top stale organizations');
    expect(body).toContain("filter message = 'organization stale'");
    expect(body).toContain('by organizationGuid');
    expect(
      (pollerFunction(template).Environment as { Variables: Json }).Variables[ENV.staleAfterIntervals],
    ).toBe('3');
  });

  it('sends no alarm notification when no e-mail is configured', () => {
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(stack.alarmTopic).toBeUndefined();
  });

  it('has a dashboard and outputs for the bus, table, secrets and queues', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(
      [
        'ArchiveName',
        'DashboardName',
        'DeadLetterQueueUrl',
        'EventBusArn',
        'EventBusName',
        'PollDeadLetterQueueUrl',
        'PollFailureQueueUrl',
        'PollQueueUrl',
        'ScheduleGroupName',
        'SecretNamePrefix',
        'PollerFunctionName',
        'SchemaRegistryName',
        'TableArn',
        'TableName',
      ].sort(),
    );
  });

  it('tags every resource with the project and environment', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      Tags: Match.arrayWith([
        { Key: 'environment', Value: 'test' },
        { Key: 'project', Value: 'nutcache-cdc' },
      ]),
    });
  });

  it('is environment-agnostic, so synth needs no AWS credentials', () => {
    expect(stack.resolve(stack.account)).toEqual({ Ref: 'AWS::AccountId' });
    expect(stack.resolve(stack.region)).toEqual({ Ref: 'AWS::Region' });
  });
});

describe('the stack for several organizations', () => {
  const { template } = synthesise({
    alarmEmail: 'ops@example.com',
    organizations: [
      { organizationGuid: GUID_A, scheduleRateMinutes: 5, label: 'Acme' },
      { organizationGuid: GUID_B, scheduleRateMinutes: 30, initialEvents: 'none' },
      { organizationGuid: GUID_C },
    ],
  });

  it('notifies the alarm e-mail through a KMS-encrypted, TLS-only topic', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(7);
    const topicId = only(resourcesOf(template, 'AWS::SNS::Topic'))[0];
    for (const [, alarm] of alarms) {
      expect((alarm.Properties as Json).AlarmActions).toEqual([{ Ref: topicId }]);
      expect((alarm.Properties as Json).OKActions).toEqual([{ Ref: topicId }]);
    }
    expect(template.findOutputs('AlarmTopicArn')).not.toEqual({});
  });
});

describe('imported resources', () => {
  const busArn = 'arn:aws:events:eu-west-1:123456789012:event-bus/shared-bus';
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache/acme-AbC123';

  it('publishes to an existing bus imported by ARN, archiving only nutcache events', () => {
    const { template, stack } = synthesise({ eventBus: { type: 'import', arn: busArn } });
    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: busArn,
      EventPattern: { source: ['nutcache.customers'] },
    });
    const puts = statementsOfRole(template, pollerRoleId(template)).filter((s) =>
      actionsOf(s).includes('events:PutEvents'),
    );
    expect(puts.map((s) => s.Resource)).toEqual([busArn]);
    expect((pollerFunction(template).Environment as { Variables: Json }).Variables[ENV.eventBusName]).toBe(
      'shared-bus',
    );
    expect(stack.busCreated).toBe(false);
  });

  it('publishes to an existing bus imported by name', () => {
    const { template } = synthesise({ eventBus: { type: 'import', name: 'shared-bus' } });
    template.resourceCountIs('AWS::Events::EventBus', 0);
    expect((pollerFunction(template).Environment as { Variables: Json }).Variables[ENV.eventBusName]).toBe(
      'shared-bus',
    );
    const puts = statementsOfRole(template, pollerRoleId(template)).filter((s) =>
      actionsOf(s).includes('events:PutEvents'),
    );
    expect(JSON.stringify(puts[0]?.Resource)).toContain(':event-bus/shared-bus');
  });

  it('imports no secret into the template: the poller reads imported secrets by name prefix or tag', () => {
    const imported = synthesise({
      organizations: [
        { organizationGuid: GUID_A, secret: { type: 'import', arn: secretArn } },
        { organizationGuid: GUID_B, secret: { type: 'import', name: 'nutcache/beta' } },
      ],
    }).template;
    imported.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const reads = (template: ReturnType<typeof synthesise>['template']) =>
      statementsOfRole(template, pollerRoleId(template)).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('secretsmanager:') || a.startsWith('kms:')),
      );
    expect(reads(imported)).toEqual(reads(synthesise().template));
    expect(JSON.stringify(imported.toJSON())).not.toContain('nutcache/beta');
  });

  it('deletes the table with the stack when retainTable is false', () => {
    const { template } = synthesise({ retainTable: false });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
  });

  it('pins the stack to an account and region only when the configuration says so', () => {
    const { stack } = synthesise({ account: '123456789012', region: 'eu-west-1' });
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('eu-west-1');
  });
});

describe('the synth-time quota check', () => {
  it('warns about a schedule that cannot fit the daily budget of its API key, naming a safe rate', () => {
    const { stack } = synthesise({
      organizations: [{ organizationGuid: GUID_A, scheduleRateMinutes: 5, expectedCustomers: 10_000 }],
    });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('nutcache-cdc:quota'),
    );
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.entry.data)).toMatch(/28,800.*8 minutes/s);
  });

  it('stays quiet when every schedule fits', () => {
    const { stack } = synthesise({
      organizations: [
        { organizationGuid: GUID_A, scheduleRateMinutes: 15, expectedCustomers: 2_000, apiKeyGroup: 'k1' },
        { organizationGuid: GUID_B, scheduleRateMinutes: 15, expectedCustomers: 2_000, apiKeyGroup: 'k1' },
      ],
    });
    expect(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('nutcache-cdc:quota')),
    ).toEqual([]);
  });
});
