import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { addSyncRulesFromSpecs, CustomerSyncRule } from '../../infra/constructs/customer-sync-rule.ts';
import { SyncNowEndpoint } from '../../infra/constructs/sync-now-endpoint.ts';
import { WebhookSubscription } from '../../infra/constructs/webhook-subscription.ts';
import { compileRulePattern } from '../../shared/rules/compile.ts';
import { parseRulesText, type SyncRuleFilter } from '../../shared/rules/model.ts';

const exampleRules = parseRulesText(
  readFileSync(new URL('../../examples/sync-rules.yaml', import.meta.url), 'utf8'),
  'examples/sync-rules.yaml',
);

const deactivated: SyncRuleFilter = {
  name: 'code-deactivated',
  changeTypes: ['updated'],
  changedFields: ['status'],
  before: { status: 0 },
  after: { status: 1 },
};

function newStack() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'SyncTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bus = new events.EventBus(stack, 'Bus');
  return { app, stack, bus };
}

interface Built {
  readonly template: Template;
  readonly scope: Construct;
  readonly rules: Readonly<
    Record<'webhook' | 'sqs' | 'lambda' | 'stepFunctions' | 'apiDestination', CustomerSyncRule>
  >;
  readonly fromFile: CustomerSyncRule[];
}

function build(): Built {
  const { stack, bus } = newStack();
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
  });
  const targetQueue = new sqs.Queue(stack, 'CrmQueue');
  const consumer = new lambda.Function(stack, 'Consumer', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  const machine = new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
  });
  const connection = new events.Connection(stack, 'Connection', {
    authorization: events.Authorization.apiKey(
      'x-api-key',
      secretsmanager.Secret.fromSecretNameV2(stack, 'K', 'k').secretValue,
    ),
  });
  const destination = new events.ApiDestination(stack, 'Destination', {
    connection,
    endpoint: 'https://crm.example.com/events',
  });

  // Everything under `scope` is ours and is checked by cdk-nag; the rest is test scaffolding.
  const scope = new Construct(stack, 'Sync');
  const webhookSecret = new secretsmanager.Secret(stack, 'WebhookSecret');
  const rules = {
    webhook: new CustomerSyncRule(scope, 'Webhook', {
      ...deactivated,
      eventBus: bus,
      environmentName: 'dev',
      target: { kind: 'webhook', url: 'https://crm.example.com/hooks/nutcache', secret: webhookSecret },
    }),
    sqs: new CustomerSyncRule(scope, 'Sqs', {
      name: 'to-sqs',
      eventBus: bus,
      environmentName: 'dev',
      target: { kind: 'sqs', queue: targetQueue },
    }),
    lambda: new CustomerSyncRule(scope, 'Lambda', {
      name: 'to-lambda',
      eventBus: bus,
      environmentName: 'dev',
      target: { kind: 'lambda', function: consumer },
    }),
    stepFunctions: new CustomerSyncRule(scope, 'Sfn', {
      name: 'to-sfn',
      eventBus: bus,
      environmentName: 'dev',
      target: { kind: 'stepFunctions', stateMachine: machine },
    }),
    apiDestination: new CustomerSyncRule(scope, 'Api', {
      name: 'to-api',
      eventBus: bus,
      environmentName: 'dev',
      changedFields: ['email'],
      target: { kind: 'apiDestination', apiDestination: destination },
    }),
  };
  const fromFile = addSyncRulesFromSpecs(new Construct(scope, 'FromFile'), {
    rules: exampleRules,
    eventBus: bus,
    environmentName: 'dev',
  });
  new SyncNowEndpoint(scope, 'SyncNow', {
    table,
    pollQueue: new sqs.Queue(stack, 'PollQueue', { fifo: true }),
    environmentName: 'dev',
    secret: new secretsmanager.Secret(stack, 'InboundSecret', {
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    }),
  });
  return { template: Template.fromStack(stack), scope, rules, fromFile };
}

let built: Built;
beforeAll(() => {
  built = build();
});

function eventPatterns(template: Template): unknown[] {
  return Object.values(template.findResources('AWS::Events::Rule')).map((r) =>
    JSON.parse((r as { Properties: { EventPattern: string } }).Properties.EventPattern),
  );
}

describe('CustomerSyncRule', () => {
  it('puts the compiled content-filter pattern on a rule of our bus', () => {
    expect(eventPatterns(built.template)).toContainEqual(compileRulePattern(deactivated));
    expect(built.rules.webhook.eventPattern).toEqual(compileRulePattern(deactivated));
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      EventPattern: JSON.stringify(compileRulePattern(deactivated)),
    });
  });

  it('gives every target a dead-letter queue and a retry policy', () => {
    const rules = Object.values(built.template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(5 + exampleRules.length);
    for (const rule of rules) {
      const targets = (rule as { Properties: { Targets: Record<string, unknown>[] } }).Properties.Targets;
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({
        DeadLetterConfig: { Arn: expect.anything() },
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      });
    }
  });

  it('targets each kind: webhook queue, SQS, Lambda, Step Functions, API destination', () => {
    const arns = Object.values(built.template.findResources('AWS::Events::Rule')).map((r) =>
      JSON.stringify((r as { Properties: { Targets: { Arn: unknown }[] } }).Properties.Targets[0]?.Arn),
    );
    for (const fragment of ['WebhookQueue', 'CrmQueue', 'Consumer', 'Machine', 'Destination']) {
      expect(arns.some((a) => a.includes(fragment))).toBe(true);
    }
    built.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Consumer'), 'Arn'] },
    });
  });

  it('lets only its rule send to a webhook queue, over TLS', () => {
    built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnEquals: {
                'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('WebhookRule'), 'Arn'] },
              },
            },
          }),
        ]),
      },
    });
  });

  it('alarms as soon as an event waits in a target dead-letter queue, one alarm per rule', () => {
    const named: [string, CustomerSyncRule][] = [
      ['code-deactivated', built.rules.webhook],
      ['to-sqs', built.rules.sqs],
      ['to-lambda', built.rules.lambda],
      ['to-sfn', built.rules.stepFunctions],
      ['to-api', built.rules.apiDestination],
      ...exampleRules.map((spec, i) => [spec.name, built.fromFile[i]] as [string, CustomerSyncRule]),
    ];
    for (const [name, rule] of named) {
      const queue = rule.targetDeadLetterQueue.node.defaultChild as sqs.CfnQueue;
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `nutcache-cdc-dev-rule-${name}-target-dead-letters`,
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [Stack.of(rule).getLogicalId(queue), 'QueueName'] } },
        ],
        Statistic: 'Maximum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it(`fails synth when a pattern exceeds 2,048 characters, naming the rule`, () => {
    const { app, bus } = newStack();
    const stack = Stack.of(bus);
    new CustomerSyncRule(stack, 'Huge', {
      name: 'huge-rule',
      eventBus: bus,
      environmentName: 'dev',
      after: { email: Array.from({ length: 150 }, (_, i) => `person-${i}@example.com`) },
      target: { kind: 'sqs', queue: new sqs.Queue(stack, 'Q') },
    });
    expect(() => app.synth()).toThrow(
      /sync rule 'huge-rule': its event pattern is \d+ characters; EventBridge allows at most 2048/,
    );
  });
});

describe('WebhookSubscription', () => {
  it('queues with a dead-letter queue after 10 receives, SQS-managed encryption and a 6 × timeout visibility', () => {
    built.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { maxReceiveCount: 10, deadLetterTargetArn: Match.anyValue() },
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
      MessageRetentionPeriod: 1209600,
    });
  });

  it('consumes with partial batch failures and a concurrency cap', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('gives the delivery function its URL, secret, queue and exactly the permissions it needs', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 60,
      Environment: {
        Variables: Match.objectLike({
          WEBHOOK_URL: 'https://crm.example.com/hooks/nutcache',
          WEBHOOK_SECRET_ARN: { Ref: Match.stringLikeRegexp('WebhookSecret') },
          WEBHOOK_QUEUE_URL: Match.anyValue(),
          WEBHOOK_QUEUE_ARN: Match.anyValue(),
          WEBHOOK_SUBSCRIPTION_NAME: 'code-deactivated',
          POWERTOOLS_SERVICE_NAME: 'webhook-delivery-dev',
        }),
      },
    });
    built.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: { Ref: Match.stringLikeRegexp('WebhookSecret') },
          }),
          Match.objectLike({ Action: Match.arrayWith(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage']) }),
        ]),
      },
    });
    built.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'lambda:UpdateEventSourceMapping', Resource: Match.anyValue() }),
        ]),
      },
    });
  });

  it('alarms on a disabled subscription (410), dead letters and a growing backlog', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'WebhookSubscriptionDisabled',
      Namespace: 'NutcacheCdc',
      AlarmName: 'nutcache-cdc-dev-webhook-code-deactivated-disabled',
      Dimensions: Match.arrayWith([
        { Name: 'Subscription', Value: 'code-deactivated' },
        { Name: 'service', Value: 'webhook-delivery-dev' },
      ]),
      Threshold: 1,
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 86400,
    });
  });

  it('refuses a non-https URL', () => {
    const { stack } = newStack();
    expect(
      () =>
        new WebhookSubscription(stack, 'Plain', {
          url: 'http://crm.example.com/hook',
          environmentName: 'dev',
          secret: new secretsmanager.Secret(stack, 'S'),
        }),
    ).toThrow(/must be https/);
  });
});

describe('rules from a rules file', () => {
  it('creates one rule per entry and one subscription per webhook URL + secret', () => {
    expect(built.fromFile.map((r) => r.node.id)).toEqual(exampleRules.map((r) => `SyncRule-${r.name}`));
    const [deactivatedRule, contactRule] = built.fromFile;
    expect(deactivatedRule?.subscription).toBeDefined();
    expect(contactRule?.subscription).toBe(deactivatedRule?.subscription);
    const deliveryFunctions = Object.values(built.template.findResources('AWS::Lambda::Function')).filter(
      (f) => JSON.stringify(f).includes('WEBHOOK_URL'),
    );
    expect(deliveryFunctions).toHaveLength(2);
    for (const spec of exampleRules)
      expect(eventPatterns(built.template)).toContainEqual(compileRulePattern(spec));
  });
});

describe('SyncNowEndpoint', () => {
  it('serves a function URL with auth NONE (the signature is the authentication), no reserved concurrency', () => {
    built.template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: Match.absent(),
      Environment: {
        Variables: Match.objectLike({
          POLL_QUEUE_URL: { Ref: Match.stringLikeRegexp('^PollQueue') },
          INBOUND_WEBHOOK_SECRET_ARN: { Ref: Match.stringLikeRegexp('InboundSecret') },
          TABLE_NAME: { Ref: Match.stringLikeRegexp('^Table') },
          // No list of organizations: sync-now looks each up in the registry.
          ORGANIZATIONS: Match.absent(),
        }),
      },
    });
  });

  it('may send to the poll queue, and invoke no function', () => {
    built.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PollQueue'), 'Arn'] },
          }),
        ]),
      },
    });
    const policies = JSON.stringify(built.template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('lambda:InvokeFunction');
  });

  it('may only put and delete its own WEBHOOK# replay items and read registered organizations, nothing else of the table', () => {
    const policies = Object.values(built.template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('SyncSyncNowHandlerRole'),
    ) as { Properties: { PolicyDocument: { Statement: { Action: unknown }[] } } }[];
    expect(policies.length).toBeGreaterThan(0);
    const tableStatements = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Action).includes('dynamodb:'));
    expect(tableStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Table/), 'Arn'] },
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WEBHOOK#*'] },
          Null: { 'dynamodb:LeadingKeys': 'false' },
        },
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Table/), 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['REGISTRY#ORGANIZATIONS'] },
          Null: { 'dynamodb:LeadingKeys': 'false' },
        },
      },
    ]);
  });
});

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  it('finds nothing unacknowledged in the sync-rule, webhook and sync-now constructs', () => {
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(built.scope).violations.map((v) => ({
        rule: v.ruleName,
        paths: v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId),
      })),
    );
    expect(findings).toEqual([]);
  });
});
