/**
 * The whole product in one stack: the snapshot table, the event bus with its archive and schema registry,
 * one secret + one schedule per Nutcache organization, the poller function, the dead-letter queues, and the
 * alarms and dashboard. The main resources are public fields so further constructs (CRM sync rules,
 * webhook delivery, "sync now") can be added to the stack later.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  Annotations,
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../../shared/config/env.ts';
import { checkScheduleBudget } from '../../shared/quota/schedule-check.ts';
import { parseRulesText } from '../../shared/rules/model.ts';
import { TABLE_KEYS } from '../../shared/store/table.ts';
import { type NutcacheCdcConfig, type OrganizationConfig, rateShare } from '../config.ts';
import { alarmNamePrefix, queueNotEmptyAlarm } from '../constructs/alarms.ts';
import { addSyncRulesFromSpecs, type CustomerSyncRule } from '../constructs/customer-sync-rule.ts';
import { NutcacheFunction, type OrganizationBinding } from '../constructs/nutcache-function.ts';
import { POLLER_SERVICE_NAME, type PollerMetricName, PollerMetrics } from '../constructs/poller-metrics.ts';
import { SyncNowEndpoint } from '../constructs/sync-now-endpoint.ts';
import { anomalyEventSchema, customerChangeEventSchema, type EventSchemaDocument } from '../event-schemas.ts';
import { functionEntry, REPO_ROOT } from '../paths.ts';

export { REPO_ROOT } from '../paths.ts';
/** The poller handler the stack deploys unless told otherwise. */
export const DEFAULT_POLLER_ENTRY = functionEntry('poller.ts');

/** How long one poll may run: the handler stops about 20 s before the function timeout. */
/** Lambda's maximum: at 180 requests a minute a listing of about 230,000 customers fits (docs/quota.md). */
export const POLLER_TIMEOUT = Duration.minutes(15);
export const POLLER_MEMORY_MB = 512;
/** Scheduler retries of an invocation Lambda did not accept (throttled, service error). */
export const SCHEDULE_RETRY_ATTEMPTS = 3;
/**
 * The DynamoDB calls of the poller (shared/store/dynamodb.ts, shared/quota/dynamodb.ts): its table grant
 * lists exactly these. A BatchWriteItem delete request needs no DeleteItem permission.
 */
export const POLLER_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
] as const;

export interface NutcacheCdcStackProps extends StackProps {
  readonly config: NutcacheCdcConfig;
  /** The poller handler file. @default DEFAULT_POLLER_ENTRY */
  readonly pollerEntry?: string;
  /** Where package.json / package-lock.json live (bundling). @default REPO_ROOT */
  readonly projectRoot?: string;
}

/** Everything the stack created (or imported) for one Nutcache organization. */
export interface OrganizationResources {
  readonly config: OrganizationConfig;
  readonly secret: secretsmanager.ISecret;
  /** True when the stack created the secret (its value must then be put once after the first deploy). */
  readonly secretCreated: boolean;
  readonly schedule: scheduler.Schedule;
  readonly staleAlarm: cloudwatch.Alarm;
}

/** A construct-id-safe form of a GUID. */
export function organizationId(guid: string): string {
  return `Org${guid.replace(/-/g, '').toUpperCase()}`;
}

export class NutcacheCdcStack extends Stack {
  readonly config: NutcacheCdcConfig;
  /** `source` of every published event. */
  readonly eventSource: string;
  readonly table: dynamodb.Table;
  readonly bus: events.IEventBus;
  /** True when the stack created the bus (false: imported). */
  readonly busCreated: boolean;
  readonly archive: events.Archive;
  readonly schemaRegistry: eventschemas.CfnRegistry;
  readonly eventSchemas: readonly eventschemas.CfnSchema[];
  /** Where the change-event schema came from: the committed file or generated from the contract. */
  readonly changeEventSchemaOrigin: EventSchemaDocument['origin'];
  /** Events the poller could never publish (the poller's `DEAD_LETTER_QUEUE_URL`). */
  readonly deadLetterQueue: sqs.Queue;
  /** Poll invocations that failed: Scheduler's dead-letter queue and the poller's async on-failure destination. */
  readonly pollFailureQueue: sqs.Queue;
  readonly poller: NutcacheFunction;
  readonly pollerMetrics: PollerMetrics;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** Per organization, keyed by the organization GUID as configured. */
  readonly organizations: ReadonlyMap<string, OrganizationResources>;
  /** Secrets by organization GUID. */
  readonly secrets: ReadonlyMap<string, secretsmanager.ISecret>;
  /** Alarm notifications (only when `alarmEmail` is configured). */
  readonly alarmTopic?: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** CRM sync rules of `syncRulesFile` (docs/sync-rules.md). */
  readonly syncRules: readonly CustomerSyncRule[] = [];
  /** The inbound "sync now" webhook, when the config's `syncNow` (or the context value `nutcache-cdc:syncNow`) is true. */
  readonly syncNow?: SyncNowEndpoint;

  constructor(scope: Construct, id: string, props: NutcacheCdcStackProps) {
    super(scope, id, {
      description: `nutcache-cdc (${props.config.environmentName}): Nutcache customer change events on EventBridge`,
      ...props,
    });
    const config = props.config;
    this.config = config;
    this.eventSource = config.eventSource;
    const env = config.environmentName;
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    Tags.of(this).add('project', 'nutcache-cdc');
    Tags.of(this).add('environment', env);

    // --- State -------------------------------------------------------------------------------------
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Encrypted at rest with an AWS owned key (no KMS charge); cdk-nag's packs ask for no more.
      encryption: dynamodb.TableEncryption.DEFAULT,
      timeToLiveAttribute: TABLE_KEYS.timeToLive,
      removalPolicy: config.retainTable ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      deletionProtection: config.retainTable,
    });

    // --- Queues ------------------------------------------------------------------------------------
    this.deadLetterQueue = this.secureQueue('EventDeadLetterQueue');
    this.pollFailureQueue = this.secureQueue('PollFailureQueue');
    if (config.alarmEmail !== undefined) {
      this.alarmTopic = this.createAlarmTopic(config.alarmEmail);
    }

    // --- Event bus, archive, schema registry -------------------------------------------------------
    const busConfig = config.eventBus;
    if (busConfig.type === 'create') {
      this.bus = new events.EventBus(this, 'Bus', {
        eventBusName: busConfig.name ?? `nutcache-cdc-${env}`,
        description: `Nutcache customer change events (${env})`,
      });
      this.busCreated = true;
    } else {
      this.bus =
        busConfig.arn !== undefined
          ? events.EventBus.fromEventBusArn(this, 'Bus', busConfig.arn)
          : events.EventBus.fromEventBusName(this, 'Bus', busConfig.name ?? '');
      this.busCreated = false;
    }
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      description: `Every ${this.eventSource} event, for replay`,
      eventPattern: { source: [this.eventSource] },
      retention: config.archiveRetentionDays > 0 ? Duration.days(config.archiveRetentionDays) : undefined,
    });
    // CDK renders `KmsKeyIdentifier: ""` when no key is given, which some regions reject: leave it out
    // (the archive is then encrypted with an AWS owned key).
    (this.archive.node.defaultChild as events.CfnArchive).addPropertyDeletionOverride('KmsKeyIdentifier');
    this.schemaRegistry = new eventschemas.CfnRegistry(this, 'SchemaRegistry', {
      registryName: `nutcache-cdc-${env}`,
      description: 'JSON Schemas of the events nutcache-cdc publishes (download code bindings from here)',
    });
    const changeSchema = customerChangeEventSchema(this.eventSource, REPO_ROOT);
    this.changeEventSchemaOrigin = changeSchema.origin;
    this.eventSchemas = [changeSchema, anomalyEventSchema(this.eventSource, REPO_ROOT)].map(
      (document, index) => {
        const schema = new eventschemas.CfnSchema(
          this,
          index === 0 ? 'ChangeEventSchema' : 'AnomalyEventSchema',
          {
            registryName: this.schemaRegistry.attrRegistryName,
            schemaName: document.name,
            type: 'JSONSchemaDraft4',
            description: document.description,
            content: document.content,
          },
        );
        return schema;
      },
    );

    // --- Organizations: secrets --------------------------------------------------------------------
    const secretEntries = config.organizations.map((org) => {
      const orgId = organizationId(org.organizationGuid);
      const secretConfig = org.secret;
      if (secretConfig.type === 'create') {
        const secret = new secretsmanager.Secret(this, `${orgId}Secret`, {
          description: `Nutcache API credentials of organization ${org.organizationGuid} (nutcache-cdc ${env}). Put {"apiKey","username","password","organizationGuid"} with aws secretsmanager put-secret-value.`,
          // No credential in code or template: only the organization GUID and empty fields are templated;
          // Secrets Manager fills `placeholder` with random characters because a generated key is required.
          generateSecretString: {
            secretStringTemplate: JSON.stringify({
              apiKey: '',
              username: '',
              password: '',
              organizationGuid: org.organizationGuid,
            }),
            generateStringKey: 'placeholder',
            excludePunctuation: true,
          },
        });
        Validations.of(secret).acknowledge({
          id: 'AwsSolutions-SMG4',
          reason:
            'Nutcache API keys and passwords are issued by Nutcache, which offers no API to rotate them; an operator rotates them with put-secret-value (see docs/deploy.md).',
        });
        return { org, secret: secret as secretsmanager.ISecret, created: true };
      }
      const secret =
        secretConfig.arn !== undefined
          ? /-[A-Za-z0-9]{6}$/.test(secretConfig.arn)
            ? secretsmanager.Secret.fromSecretCompleteArn(this, `${orgId}Secret`, secretConfig.arn)
            : secretsmanager.Secret.fromSecretPartialArn(this, `${orgId}Secret`, secretConfig.arn)
          : secretsmanager.Secret.fromSecretNameV2(this, `${orgId}Secret`, secretConfig.name ?? '');
      return { org, secret, created: false };
    });
    this.secrets = new Map(secretEntries.map((e) => [e.org.organizationGuid, e.secret]));

    // --- The poller --------------------------------------------------------------------------------
    // One service name per environment (POWERTOOLS_SERVICE_NAME): environments sharing an account and
    // region keep their metrics and alarms apart.
    const serviceName = `${POLLER_SERVICE_NAME}-${env}`;
    this.pollerMetrics = new PollerMetrics(serviceName);
    // Organizations sharing an API key split its request rate: their polls may run at the same time in
    // different Lambda instances, and each instance's limiter only knows its own requests.
    const sharingKey = (org: OrganizationConfig) => org.apiKeyGroup ?? `guid:${org.organizationGuid}`;
    const groupSize = new Map<string, number>();
    for (const org of config.organizations)
      groupSize.set(sharingKey(org), (groupSize.get(sharingKey(org)) ?? 0) + 1);
    const bindings: OrganizationBinding[] = secretEntries.map((e) => ({
      organizationGuid: e.org.organizationGuid,
      secret: e.secret,
      initialEvents: e.org.initialEvents ?? config.initialEvents,
      scheduleRateMinutes: e.org.scheduleRateMinutes,
      rateLimit: rateShare(groupSize.get(sharingKey(e.org)) ?? 1),
      ...(e.org.secret.type === 'import' && e.org.secret.kmsKeyArn
        ? { secretKmsKeyArn: e.org.secret.kmsKeyArn }
        : {}),
    }));
    this.poller = new NutcacheFunction(this, 'Poller', {
      entry: props.pollerEntry ?? DEFAULT_POLLER_ENTRY,
      description: `Polls Nutcache customers and publishes change events (${env})`,
      serviceName,
      timeout: POLLER_TIMEOUT,
      memorySize: POLLER_MEMORY_MB,
      // None unless configured: a reservation fails the first deploy on a small account (docs/deploy.md).
      reservedConcurrentExecutions: config.pollerReservedConcurrency,
      logRetention: config.logRetentionDays as logs.RetentionDays,
      onFailureQueue: this.pollFailureQueue,
      // A failed poll is retried once; the next scheduled poll catches up anyway.
      retryAttempts: 1,
      maxEventAge: Duration.hours(1),
      projectRoot,
      depsLockFilePath: resolve(projectRoot, 'package-lock.json'),
    })
      .useTable(this.table, POLLER_TABLE_ACTIONS)
      .useBus(this.bus, this.eventSource)
      .useDeadLetterQueue(this.deadLetterQueue)
      .useOrganizationSecrets(bindings)
      .withSetting(ENV.dailyRequestBudget, String(config.dailyRequestBudget));
    this.poller.acknowledgeFindings({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Failed asynchronous invocations go to an on-failure destination (the SQS poll-failure queue), which supersedes DeadLetterConfig and also records the error.',
    });

    // --- Organizations: schedules ------------------------------------------------------------------
    // A schedule that cannot fit its API key's daily budget is reported at synth (docs/quota.md).
    const budgetWarnings = checkScheduleBudget(
      config.organizations.map((org) => ({
        organizationGuid: org.organizationGuid,
        rateMinutes: org.scheduleRateMinutes,
        expectedCustomers: org.expectedCustomers ?? 0,
        ...(org.apiKeyGroup !== undefined ? { apiKeyGroup: org.apiKeyGroup } : {}),
      })),
      config.dailyRequestBudget,
    );
    for (const warning of budgetWarnings)
      Annotations.of(this).addWarningV2('nutcache-cdc:quota', warning.message);
    // Deleted with the stack (its default is to be retained): a retained group keeps its fixed name and
    // blocks the next deploy of the same environment.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: `nutcache-cdc-${env}`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // One role for every schedule: it may invoke only the poller and write only to the poll-failure queue.
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the nutcache-cdc poller',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': this.account,
            'aws:SourceArn': this.scheduleGroup.scheduleGroupArn,
          },
        },
      }),
    });
    const organizations = new Map<string, OrganizationResources>();
    for (const entry of secretEntries) {
      const org = entry.org;
      const orgId = organizationId(org.organizationGuid);
      const rate = Duration.minutes(org.scheduleRateMinutes);
      const schedule = new scheduler.Schedule(this, `${orgId}Schedule`, {
        description: `Poll Nutcache organization ${org.label ?? org.organizationGuid} every ${org.scheduleRateMinutes} min`,
        schedule: scheduler.ScheduleExpression.rate(rate),
        scheduleGroup: this.scheduleGroup,
        target: new schedulerTargets.LambdaInvoke(this.poller, {
          role: schedulerRole,
          input: scheduler.ScheduleTargetInput.fromObject({ organizationGuid: org.organizationGuid }),
          retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
          // An invocation older than one interval is superseded by the next scheduled one.
          maxEventAge: Duration.seconds(Math.max(60, rate.toSeconds())),
          deadLetterQueue: this.pollFailureQueue,
        }),
      });
      const staleAlarm = this.addAlarm(this.staleAlarm(org));
      organizations.set(org.organizationGuid, {
        config: org,
        secret: entry.secret,
        secretCreated: entry.created,
        schedule,
        staleAlarm,
      });
    }
    this.organizations = organizations;
    const schedulerPolicy = schedulerRole.node.tryFindChild('DefaultPolicy');
    if (schedulerPolicy) {
      // A schedule created before its role may invoke the poller fails its first invocations.
      for (const resources of organizations.values()) resources.schedule.node.addDependency(schedulerPolicy);
      const pollerLogicalId = this.resolve(
        this.getLogicalId(this.poller.node.defaultChild as lambda.CfnFunction),
      );
      Validations.of(schedulerPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${pollerLogicalId}.Arn>:*]`,
        reason:
          "Scheduler's Lambda target grants lambda:InvokeFunction on the poller and its versions/aliases (ARN:*); it names this one function only.",
      });
    }

    // --- Alarms and dashboard ----------------------------------------------------------------------
    this.createServiceAlarms();
    this.dashboard = this.createDashboard();

    // --- Outputs -----------------------------------------------------------------------------------
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName, description: 'Event bus name' });
    new CfnOutput(this, 'EventBusArn', { value: this.bus.eventBusArn, description: 'Event bus ARN' });
    new CfnOutput(this, 'ArchiveName', {
      value: this.archive.archiveName,
      description: 'Replay from this archive',
    });
    new CfnOutput(this, 'SchemaRegistryName', { value: this.schemaRegistry.attrRegistryName });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'TableArn', { value: this.table.tableArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.deadLetterQueue.queueUrl,
      description: 'Events that could not be published',
    });
    new CfnOutput(this, 'PollFailureQueueUrl', {
      value: this.pollFailureQueue.queueUrl,
      description: 'Poll invocations that failed (Scheduler DLQ and poller on-failure destination)',
    });
    new CfnOutput(this, 'PollerFunctionName', { value: this.poller.functionName });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
    for (const [guid, resources] of organizations) {
      new CfnOutput(this, `${organizationId(guid)}SecretArn`, {
        value: resources.secret.secretArn,
        description: `Secret holding the Nutcache credentials of organization ${guid}`,
      });
    }
    if (this.alarmTopic) new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });

    // --- CRM sync rules, signed webhooks, inbound "sync now" (docs/sync-rules.md, docs/webhooks.md) ----
    const syncAlarmAction = this.alarmTopic ? new cloudwatchActions.SnsAction(this.alarmTopic) : undefined;
    if (config.syncRulesFile) {
      const file = resolve(config.syncRulesFile);
      this.syncRules = addSyncRulesFromSpecs(this, {
        rules: parseRulesText(readFileSync(file, 'utf8'), config.syncRulesFile),
        eventBus: this.bus,
        eventSource: this.eventSource,
        environmentName: env,
        ...(syncAlarmAction ? { alarmAction: syncAlarmAction } : {}),
      });
    }
    const syncNowContext = this.node.tryGetContext('nutcache-cdc:syncNow');
    if (config.syncNow || syncNowContext === true || syncNowContext === 'true') {
      this.syncNow = this.createSyncNow();
    }
  }

  /** The inbound "sync now" webhook with its secret, and the outputs `SyncNowUrl` and `InboundWebhookSecretArn`. */
  private createSyncNow(): SyncNowEndpoint {
    const inboundSecret = new secretsmanager.Secret(this, 'InboundWebhookSecret', {
      description: 'Standard Webhooks secret of the inbound "sync now" webhook (give callers whsec_<value>)',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    Validations.of(inboundSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotated by hand with the callers (two secrets may be valid at once: docs/webhooks.md).',
    });
    const endpoint = new SyncNowEndpoint(this, 'SyncNow', {
      table: this.table,
      poller: this.poller,
      environmentName: this.config.environmentName,
      organizationGuids: this.config.organizations.map((org) => org.organizationGuid),
      secret: inboundSecret,
      ...(this.config.syncNowReservedConcurrency !== undefined
        ? { reservedConcurrency: this.config.syncNowReservedConcurrency }
        : {}),
    });
    new CfnOutput(this, 'SyncNowUrl', {
      value: endpoint.functionUrl.url,
      description: 'POST {"organizationGuid","mode"} here, signed with Standard Webhooks (docs/webhooks.md)',
    });
    new CfnOutput(this, 'InboundWebhookSecretArn', { value: inboundSecret.secretArn });
    return endpoint;
  }

  /**
   * Fires when an organization had no successful poll for `staleAfterIntervals` intervals. A poll deferred
   * on purpose (quota back-off) or skipped because the organization's secret is not filled in yet counts
   * as a sign of life: neither is a failure (their own metrics and logs tell them apart).
   */
  private staleAlarm(org: OrganizationConfig): cloudwatch.Alarm {
    const rate = Duration.minutes(org.scheduleRateMinutes);
    const metric = (name: PollerMetricName) =>
      this.pollerMetrics.organizationMetric(name, org.organizationGuid, { period: rate });
    return new cloudwatch.Alarm(this, `${organizationId(org.organizationGuid)}StaleAlarm`, {
      alarmName: `${alarmNamePrefix(this.config.environmentName)}stale-${org.organizationGuid}`,
      alarmDescription: `No successful poll of Nutcache organization ${org.label ?? org.organizationGuid} for ${this.config.staleAfterIntervals} intervals of ${org.scheduleRateMinutes} min (deferred and unconfigured polls do not count as failures).`,
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(succeeded, 0) + FILL(deferred, 0) + FILL(unconfigured, 0)',
        usingMetrics: {
          succeeded: metric('PollSucceeded'),
          deferred: metric('PollDeferred'),
          unconfigured: metric('PollUnconfigured'),
        },
        period: rate,
        label: 'Polls that ended as expected',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: this.config.staleAfterIntervals,
      datapointsToAlarm: this.config.staleAfterIntervals,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  /** Adds an alarm to the stack's alarm list and, when configured, to the alarm e-mail topic. */
  addAlarm(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    if (this.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(this.alarmTopic);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.alarms.push(alarm);
    return alarm;
  }

  /** An SQS queue that is encrypted, refuses plain-HTTP access and keeps messages 14 days. */
  private secureQueue(id: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge(
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself a dead-letter store (terminal): messages are inspected and redriven by an operator.',
      },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason:
          'This queue is itself a dead-letter store (terminal): a redrive policy would only move failures again.',
      },
    );
    return queue;
  }

  private createAlarmTopic(email: string): sns.Topic {
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the nutcache-cdc alarm topic; CloudWatch alarms may use it to publish',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `nutcache-cdc ${this.config.environmentName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy, which replaces SNS's default one: CloudWatch must be allowed
    // explicitly, and only for this account's alarms of this environment (they all share the prefix).
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${alarmNamePrefix(this.config.environmentName)}*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    topic.addSubscription(new subscriptions.EmailSubscription(email));
    const subscription = topic.node.children.find((child) => child instanceof sns.Subscription);
    if (subscription) {
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'An alarm e-mail that cannot be delivered has no better place to go; the alarm state stays visible in CloudWatch.',
      });
    }
    return topic;
  }

  private createServiceAlarms(): void {
    const env = this.config.environmentName;
    const m = this.pollerMetrics;
    const fifteenMinutes = Duration.minutes(15);
    this.addAlarm(
      new cloudwatch.Alarm(this, 'PollFailedAlarm', {
        alarmName: `${alarmNamePrefix(env)}poll-failures`,
        alarmDescription:
          'A poll of Nutcache failed (see the poller logs for the organization and the cause).',
        metric: m.metric('PollFailed', { period: fifteenMinutes }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.addAlarm(
      new cloudwatch.Alarm(this, 'MassDeletionAlarm', {
        alarmName: `${alarmNamePrefix(env)}mass-deletion-held`,
        alarmDescription:
          'The poller held back a mass deletion (more customers vanished than the guard allows). Check Nutcache, then allow it with a poll {"allowMassDeletion": true}.',
        metric: m.metric('MassDeletionHeld', { period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.addAlarm(
      new cloudwatch.Alarm(this, 'ThrottledAlarm', {
        alarmName: `${alarmNamePrefix(env)}nutcache-throttling`,
        alarmDescription: `Nutcache answered 429 (rate limited) at least ${this.config.throttledRequestsThreshold} times in 15 minutes: lower the poll frequency or the number of organizations per API key.`,
        metric: m.metric('NutcacheThrottled', { period: fifteenMinutes }),
        threshold: this.config.throttledRequestsThreshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.addAlarm(
      new cloudwatch.Alarm(this, 'PollerErrorsAlarm', {
        alarmName: `${alarmNamePrefix(env)}poller-errors`,
        alarmDescription: 'The poller function failed (uncaught error or timeout).',
        metric: this.poller.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    for (const [id, queue, what] of [
      ['EventDeadLetterAlarm', this.deadLetterQueue, 'events that could not be published'],
      ['PollFailureQueueAlarm', this.pollFailureQueue, 'poll invocations that failed every attempt'],
    ] as const) {
      this.addAlarm(
        queueNotEmptyAlarm(this, id, queue, {
          alarmName: `${alarmNamePrefix(env)}${id === 'EventDeadLetterAlarm' ? 'event-dead-letters' : 'poll-failure-queue'}`,
          alarmDescription: `The queue of ${what} is not empty.`,
        }),
      );
    }
  }

  private createDashboard(): cloudwatch.Dashboard {
    const m = this.pollerMetrics;
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Dashboard names are global to the account: the region keeps two regions' dashboards apart.
      dashboardName: `nutcache-cdc-${this.config.environmentName}-${Aws.REGION}`,
      defaultInterval: Duration.hours(24),
    });
    const graph = (title: string, metrics: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left: metrics, width, height: 6 });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
    dashboard.addWidgets(
      graph('Polls', [
        m.metric('PollSucceeded'),
        m.metric('PollFailed'),
        m.metric('PollBusy'),
        m.metric('PollDeferred'),
        m.metric('PollUnconfigured'),
        m.metric('PollDeadline'),
      ]),
      graph('Customer changes', [
        m.metric('CustomersCreated'),
        m.metric('CustomersUpdated'),
        m.metric('CustomersDeleted'),
        m.metric('CustomersSnapshot'),
        m.metric('CustomersInvalid'),
        m.metric('MassDeletionHeld'),
      ]),
      graph('Events', [
        m.metric('EventsPublished'),
        m.metric('EventsDeadLettered'),
        m.metric('EventsTruncated'),
        m.metric('EventsFailed'),
      ]),
    );
    dashboard.addWidgets(
      graph('Nutcache requests', [m.metric('NutcacheRequests'), m.metric('NutcacheThrottled')]),
      graph('Poll duration (ms)', [
        m.metric('PollDurationMs', { aggregate: 'AVG' }),
        m.metric('PollDurationMs', { aggregate: 'MAX' }),
      ]),
      graph('Poller function', [
        this.poller.metricErrors({ statistic: cloudwatch.Stats.SUM }),
        this.poller.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
        this.poller.metricDuration({ statistic: cloudwatch.Stats.p(99) }),
      ]),
    );
    dashboard.addWidgets(
      graph(
        'Dead-letter queues',
        [
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'Unpublishable events' }),
          this.pollFailureQueue.metricApproximateNumberOfMessagesVisible({ label: 'Failed polls' }),
        ],
        12,
      ),
      graph(
        'Successful polls per organization',
        [...this.organizations.values()].map((o) =>
          m.organizationMetric('PollSucceeded', o.config.organizationGuid, {
            label: o.config.label ?? o.config.organizationGuid,
          }),
        ),
        12,
      ),
    );
    return dashboard;
  }
}
